// Package procs is a cluster.Provider whose workers are processes on this
// machine: each Launch starts `ebb worker` (Config.Command) as a child,
// reads the address it prints, and connects a remote.Client to it. It is
// the embedded elastic default, and the way ebb's tests drive the pool
// protocol end to end with real processes and sockets.
//
//	Launch(shape) ── fresh token ──▶ <Dir>/<ID>/token (0600)
//	   │  $EBB_TOKEN_FILE ──▶ ebb worker -listen 127.0.0.1:0      reads the token,
//	   │                         -resources <shape> -dir <Dir>/<ID>  removes the file
//	   │◀── stdout: "ebb worker listening on https://127.0.0.1:PORT pin sha256:…"
//	   ▼
//	remote.Dial (pinned TLS, the token) ── the Worker's Pool
//	   ·
//	Terminate ── SIGTERM: the worker drains (allocs freed, execs lost) and exits
//	          └─ SIGKILL to its process group after Grace; reaped either way
//
// Words, as this package uses them:
//
//   - A shape is a slice of this machine (MachineShapes: a quarter, a half,
//     the whole of its cores and memory, priced by cores), or whatever
//     Config.Shapes says. A worker's pool gets exactly its shape's
//     resources; the provider does not stop shapes from adding up to more
//     than the machine has.
//   - A worker's ID is the provider's random nonce and a sequence number.
//     Its token is fresh, never on its command line nor in its
//     environment: it is in a file of mode 0600 in the worker's directory,
//     which $EBB_TOKEN_FILE names and the worker removes once read, so a
//     Command that runs the worker from a shell without exec leaves no
//     token in the shell's environment (/proc/PID/environ) nor on disk. A
//     provider that adopts the worker later has the token from its record.
//     Its certificate is a fresh self-signed one, whose pin it prints.
//   - A worker is up from the moment its pool answered until its process
//     exits. Workers lists the ones that are up. A worker whose process
//     exits (it was killed, or stopped itself) leaves the list, and its
//     client knows at once (remote.ClientConfig.Gone): calls on its allocs
//     fail with ebb.ErrExpired, so their holders run the work elsewhere.
//   - A worker outlives a driver that died by the leases it held plus
//     Config.LeaseTimeout: it stops itself once nobody has held a lease of
//     it for that long, unless a new provider adopts it first.
//   - Adoption: Launch keeps a cluster.WorkerRecord of every worker in
//     Dir/records (mode 0600: it holds the worker's token), written before
//     the process starts and completed once it is up. Workers of a provider
//     made later with the same Dir (a driver resumed after a crash) adopts
//     the workers of those records whose process still runs and answers,
//     kills the ones that run but cannot be reached (and waits until they
//     are gone), and removes the directories and records of the dead.
//   - A worker need not be auxiliary: `ebb run` serves its local pool,
//     primary alloc included, from a procs worker of one shape (the
//     machine's share, -resources), so that the primary's execs outlive a
//     crash of the driver and ebb resume adopts them as it adopts the
//     auxiliary workers.
//
// Every worker it launched has two goroutines (reading its stdout, reaping
// it), and every worker it adopted one (polling for its end), which end
// when its process has exited; Close terminates every worker and waits
// for them. The package runs on Unix systems (process groups, signals).
package procs
