// Package local is the embedded default pool: the resources of this machine,
// handed out as leased allocs whose execs run as child processes of the
// current process, or as Go functions inside it.
//
//	Pool (this machine: capacity from Config.Resources or read at New)
//	 │ Offers: one offer = capacity − Σ allocs, none when nothing is free
//	 ▼
//	alloc (a lease: DefaultLease at Accept, renewed by Keepalive up to MaxLease)
//	 │ Put
//	 ▼
//	exec ── argv: a process group in a work directory under Dir/allocs/<alloc>/
//	     └─ func: a goroutine, no files unless it has inputs or outputs;
//	        through the alloc's Call, the caller's goroutine
//
// Words, as this package uses them:
//
//   - Capacity is what the pool may hand out in total: Config.Resources, or
//     when that is empty this machine's cores (runtime.NumCPU), memory
//     (MemTotal of /proc/meminfo) and the free bytes of Dir's file system.
//     The pool reserves resources; it does not enforce them (no cgroups):
//     an exec that uses more than it holds is not stopped.
//   - The offer is capacity minus what the allocs hold (an ending alloc
//     holds its resources until its last exec is gone). Its ID carries
//     a version that changes whenever an alloc is taken or returned, so a
//     stale offer's Accept fails with [ebb.ErrOfferGone] and of many
//     clients racing to accept one offer exactly one wins.
//   - A lease is the time an alloc has left. Accept grants DefaultLease;
//     Keepalive sets it to the asked lease capped at MaxLease, counted
//     from the call. A lapsed lease ends the alloc exactly as Free does.
//     Lease timers are runtime timers (time.AfterFunc), so tests under
//     testing/synctest see an alloc expire at exactly the fake time due.
//   - An exec's process group: a command exec is started as the leader of
//     a new process group (Setpgid) with Pdeathsig SIGKILL, and is killed
//     by sending SIGKILL to the whole group. When the leader exits, the
//     group is killed too, and the exec ends only once every process of
//     the group has exited: an exec leaves nothing running behind it.
//   - An exec's containment: processes that leave the group (setsid, a
//     daemon's double fork) are caught too. Where the pool can make
//     cgroups (cgroup v2, writable), each command exec is born into a
//     cgroup of its own under the pool's, which cgroup.kill empties when
//     the exec ends or is killed; an exec's cgroup, once empty, serves
//     the pool's next exec unless it had to be killed (Linux kills what
//     is born into a cgroup after cgroup.kill). An exec whose cgroup
//     cannot be made, or that the kernel refuses a process into (someone
//     else made a sibling threaded, or gave it controllers), runs
//     without one, contained by its process group, and a warning is
//     logged; a refused cgroup is removed. Pools remove the cgroups
//     of pools whose process died, and what is left in them. Elsewhere
//     New makes the pool's process a child subreaper (prctl
//     PR_SET_CHILD_SUBREAPER): orphans are re-parented to it, and when an
//     exec ends, those of the process's children that started while only
//     ended execs ran are killed and reaped (a program that runs the pool
//     shares its children with it; a child it started itself in a group
//     or session of its own while an exec was running would be taken for
//     an orphan). A process running as root can still leave its cgroup;
//     nothing holds one that does.
//   - An exec's tail: the last TailBytes of its stdout and stderr, copied
//     into its Result. An exec keeps only a bounded tail of each stream in
//     memory (a command's come through pipes), unless Config.KeepLogs
//     keeps a command's streams whole in files in its exec directory until
//     Remove or the end of its alloc.
//   - An exec's work directory: a command runs in one, and a func with
//     inputs or outputs gets one. Each is empty when its exec starts;
//     Remove hands one left as it was made to the alloc's next exec, and
//     removes any other with what it holds.
//   - An exec's inputs are staged into its work directory from the
//     Config.Repository by way of its alloc: the alloc fetches each blob
//     once, into a read-only file under its directory, whichever and
//     however many of its execs name it (those that want it at once share
//     one fetch), and each exec gets its own copy to change. The alloc's
//     blobs go when it ends.
//
// # Results and kills
//
// Wait returns a Result for an exec that ended on its own or by Kill (then
// Result.Killed is set, ExitCode is -1 and Error is "killed"). A command
// that dies of any other signal also has ExitCode -1 and Killed set, with
// Error naming the signal. When an alloc is freed or expires, the results
// of its execs are dropped with it: Wait, and every other method of the
// alloc and its execs, fail with [ebb.ErrExpired] from the moment the end
// begins. Free and expiry still kill the execs and wait until they have
// ended before the resources go back to the pool.
//
// # Restarts
//
// A pool lives and dies with its process. Its children die with it too:
// each exec's leader gets SIGKILL from the kernel when its parent dies
// (Pdeathsig; grandchildren that do not notice their parent's death may
// survive a crash). A new pool given the same Dir does not find the allocs
// of an earlier one: New removes every alloc directory left behind, and
// Alloc of an earlier ID fails with [ebb.ErrNotExist]. Results worth keeping
// outlive the pool in the repository and the cache, not here. Alloc IDs
// carry a random part chosen at New, so a restarted pool never hands out
// an ID that an earlier pool gave someone else. Two live pools cannot
// share a Dir: New locks it. A driver whose execs must outlive its crash
// serves the pool from a process of its own, an `ebb worker` (package
// cluster/procs starts them; `ebb run` does so for its primary alloc), and
// re-attaches to its allocs when it is resumed.
//
// # Concurrency
//
// Every method is safe for concurrent use. The pool's mutex guards its
// table of allocs; each alloc's mutex guards its execs; no lock is held
// while doing I/O or waiting for a process. Every goroutine the pool
// starts ends with the exec or alloc it serves (the watcher of a log
// follower ends with its exec at the latest), so once Close has returned
// none is left. A func that ignores its ctx keeps Remove, Free and Close
// waiting: a func must return when its ctx is done.
//
// Pdeathsig is tied to the thread that started the child, not to the
// process: if a goroutine that called runtime.LockOSThread ends without
// unlocking, the runtime ends its thread, and a child started from that
// thread gets SIGKILL. The pool never locks threads; a program that does
// should keep those goroutines alive or unlock them.
//
// The package runs on Linux only: it relies on /proc, Pdeathsig, inotify
// and pidfd_open (Linux 5.3).
package local
