// Package command is a cluster.Provider driven by a user's own commands,
// in the manner of Partek Flow's worker allocator: one command starts a
// worker, one lists the workers, one stops a worker. Whatever a site uses
// to get machines (a batch queue's submit, a cloud CLI, ssh to a host of
// a pool) becomes an elastic cluster for ebb through three small scripts.
//
//	Launch(shape) ── bootstrap.Expect: worker ID, fresh token
//	   │
//	   ├─ Start argv, $EBB_TOKEN ──▶ the user's command starts, somewhere,
//	   │  (or $EBB_TOKEN_FILE)
//	   │  (stdout: the handle)        ebb worker -id ID -driver URL …
//	   │                                │
//	   │◀───────── announce (up) ────────┘
//	   ▼
//	the worker's pool (remote.Client)
//	   ·
//	every CheckInterval: List argv ── the IDs of live workers; an up
//	   worker missing from them is lost (its allocs' calls fail ErrExpired)
//	Terminate ── Stop argv (the ID, the handle)
//
// Each command is an argv of templates (text/template), one per argument:
// a value never goes through a shell, so a label holding "; rm -rf /"
// arrives as one argument, as it is. The data of a template:
//
//	.ID        the worker's ID: Config.Name, the provider's nonce and a
//	           sequence number ("ebb-1a2b3c4d-7")
//	.Handle    what Start printed on its first line of stdout (a job ID,
//	           an instance ID); empty before Start ran
//	.Shape     the cluster.Shape: .Shape.Name, .Shape.Resources
//	.CPU       the shape's cores; .MemMiB, .MemGiB its memory (whole units,
//	           rounded up); .Mem its memory in bytes
//	.Labels    the run's labels (ebb.Labels), as in {{index .Labels "run"}}
//	.Worker    the worker's command line ([]string)
//	.WorkerSh  the worker's command line as one POSIX shell word list, each
//	           word single-quoted: for engines that take a command as a
//	           string (ssh, a job script)
//
// An argument that is exactly "{{.Worker}}" stands for the worker's whole
// command line, one argument per word. The worker's token is never in an
// argument: every command runs with EBB_TOKEN (and EBB_WORKER_ID) added
// to its environment, and the start command passes it on to the worker
// (a process it starts inherits it; `ssh -o SendEnv=EBB_TOKEN` does too).
// A start command that runs the worker where this machine's files are
// (here, or on a shared file system) should rather take Config.TokenDir:
// then the token is in a file of mode 0600 there, which $EBB_TOKEN_FILE
// names in place of EBB_TOKEN and the worker removes as it starts, so
// that a shell that runs the worker without exec (a batch script) keeps
// no token in its environment, where any process of the same user can
// read it in /proc/PID/environ.
//
// The commands:
//
//   - Start starts one worker and returns once it is started (in the
//     background, or submitted): not when it ends. Its first line of
//     stdout, if any, is the worker's handle. It fails by exiting non-zero;
//     what it wrote to stderr is in the error.
//   - List prints the IDs of the workers that exist, one per line (more
//     words on a line are ignored; so are lines of other IDs, the workers
//     of other drivers or of nobody). It may be left out: then no worker is
//     found lost until its client notices.
//   - Stop stops one worker; stopping one that is gone already must
//     succeed.
//
// Every command is killed, with its process group, once it ran for
// Config.Timeout, and fails with ebb.ErrUnavailable; a failed Start fails
// the Launch with ebb.ErrUnavailable, and the Elastic above backs off the
// shape. With Config.Dir, the provider keeps a cluster.WorkerRecord of
// each worker there (mode 0600), and New adopts the recorded workers of an
// earlier provider with that Dir that List still shows and that answer;
// the recorded ones it cannot adopt it stops. Other workers found at New
// that carry Config.Name's prefix but not this provider's nonce are an
// earlier driver's, and New stops them too (Config.KeepOthers keeps
// them).
package command
