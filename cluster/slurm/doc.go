// Package slurm is a cluster.Provider whose workers are Slurm batch jobs:
// each Launch submits a job that runs `ebb worker`, which announces itself
// to the driver (package bootstrap) once it serves, so the driver needs no
// route into the cluster until the worker has called home. Slurm does the
// placing; the provider only asks, watches and cancels.
//
//	Launch(shape, labels)
//	   │ bootstrap.Expect: a fresh token, the worker's argv
//	   │ DIR/ID.token (0600): the token, which the worker removes once read
//	   │ DIR/ID.sh: #!/bin/sh, exec 'ebb' 'worker' '-id' 'ID' '-driver' 'URL' …  (every word single-quoted)
//	   ├─ sbatch --parsable --job-name=ID --comment=k1=v1,k2=v2 --cpus-per-task --mem
//	   │         --time --output=DIR/ID.log --no-requeue --export=ALL
//	   │         (EBB_TOKEN_FILE=DIR/ID.token, EBB_TOKEN_FILE_REMOVE=1 in sbatch's environment)
//	   │                         ▼ PENDING ── past PendingTimeout: scancel, ErrUnavailable
//	   │                         ▼ RUNNING: ebb worker serves, then announces
//	   │◀── POST /v1/workers {url, pin, resources} ── bootstrap
//	   ▼
//	remote.Client (pinned TLS, the worker's token) ── the Worker's Pool
//	   ·
//	poller: squeue every PollInterval ── job ended, node failed ── the worker is lost:
//	                                      calls on its allocs fail with ErrExpired
//	Terminate ── scancel --batch --signal=TERM: the worker alone; it drains, exits, its job ends
//	          └─ still running after Bootstrap.Grace: scancel (the poller)
//	Close ── scancel every job, wait until squeue shows none running
//
// Words, as this package uses them:
//
//   - A shape is a Slurm resource request: cpu is --cpus-per-task (whole
//     cores), mem is --mem, gpu is --gres=gpu:N and disk is --tmp, on one
//     node. A shape no node of the partition can hold (by sinfo) makes its
//     Launch fail with ebb.ErrResources, as does one sbatch refuses for
//     good; an Elastic then stops launching it.
//   - A worker's ID is its job's name: Config.JobPrefix, the provider's
//     random nonce and a sequence number ("ebb-1f2e3d4c-7"). The provider
//     finds its jobs in squeue by that name, among this user's.
//   - A job is pending until Slurm starts it. One pending longer than
//     PendingTimeout is cancelled and its Launch fails with
//     ebb.ErrUnavailable, which an Elastic answers by backing the shape
//     off; one pending for a reason waiting does not cure (BadConstraints,
//     PartitionConfig, an invalid account or QOS) fails at once with
//     ebb.ErrResources.
//   - A worker is up from its announcement until its job ends. Workers
//     lists the ones that are up. A job that ends while its worker is up
//     (it hit its time limit, was cancelled from outside, its node failed:
//     jobs are submitted --no-requeue, so a failed node ends them) takes the
//     worker with it: the poller sees it within PollInterval and the
//     worker's client fails every call on its allocs with ebb.ErrExpired,
//     so their holders run the work elsewhere. Slurm signals every process
//     of a job it ends, the execs' too, so an exec running then may end
//     killed by SIGTERM before its worker reports it lost. Terminate
//     signals the worker alone, which reports its running execs lost.
//   - A worker's token is in no job's environment, which Slurm keeps with
//     the job and which a batch shell that does not exec the worker would
//     show in /proc/PID/environ: the job's environment names a file of Dir
//     (mode 0600), which the worker reads and removes as it starts. Jobs
//     run --no-requeue, so no second start needs the file; a driver that
//     adopts the worker has its token from its record.
//   - Jobs of an earlier driver, with the same JobPrefix and user, are
//     adopted by New when a record in Dir/records (a cluster.WorkerRecord,
//     mode 0600) says where their worker serves and with which token, and
//     it answers there; the bootstrap listens at the address the earlier
//     one kept (bootstrap.Config.Keep), so that the adopted workers still
//     reach it. The other jobs of earlier drivers are cancelled, and New
//     waits for them to end. A worker whose driver died and that nobody
//     adopts stops by itself, once nobody has renewed a lease of it for
//     the bootstrap's LeaseTimeout.
//
// Slurm's commands are run with a timeout each (CommandTimeout). Jobs are
// listed with `squeue --json` (Slurm 21.08 and later; on 22.05 it ignores
// squeue's filters, so the provider filters by user and name itself).
// Where --json fails and the plain form works, the provider reads a fixed
// text format instead, `--format=%i|%T|%r|%U|%j`: ID, state, reason and
// user ID, none of which holds a '|', then the job name, last, which may.
//
// A Provider runs one goroutine, the poller, from New until Close, and the
// bootstrap's HTTP server. A Launch waiting for its worker runs one more,
// which ends with it.
//
// The tests run workers as real Slurm jobs on a single-node cluster that
// scripts/slurm-test-cluster brings up; they skip when no slurmctld
// answers, unless EBB_SLURM_REQUIRED=1 (as in CI) makes that a failure.
package slurm
