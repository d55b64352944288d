package slurm

import (
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/grailbio/base/data"
)

// Defaults of the Config fields left zero.
const (
	DefaultJobPrefix      = "ebb-"
	DefaultPendingTimeout = 10 * time.Minute
	DefaultPollInterval   = 10 * time.Second
	DefaultCommandTimeout = 30 * time.Second
	DefaultStopTimeout    = time.Minute
)

// Config configures a Provider. Bootstrap.Command and Shapes are
// required.
type Config struct {
	// Bootstrap says how workers are started and announce themselves:
	// Bootstrap.Command is the argv of `ebb worker` as the compute nodes
	// run it (the ebb binary must be there, at that path), and
	// Bootstrap.Listen and WorkerListen must be addresses the nodes and
	// the driver reach: the defaults (127.0.0.1:0) suit only a cluster
	// whose nodes are this machine. See package bootstrap.
	Bootstrap bootstrap.Config

	// Shapes are the kinds of worker the provider launches, each a
	// batch job asking Slurm for exactly its Resources: cpu (whole
	// cores, --cpus-per-task), mem (--mem), gpu (--gres=gpu:N) and disk
	// (--tmp). Other resources cannot be asked of Slurm and are refused.
	// Slurm runs the worker process itself within the same limits, so a
	// shape should leave it some memory. Required.
	Shapes []cluster.Shape

	// Partition is the partition the jobs are submitted to. Default: the
	// cluster's default partition.
	Partition string

	// TimeLimit is each job's --time, rounded up to whole minutes; a
	// worker still up then is killed by Slurm and its allocs are lost.
	// Zero leaves it to the partition's default.
	TimeLimit time.Duration

	// SbatchArgs are more sbatch options for every job (--account,
	// --qos, --constraint, --begin), given before the provider's own,
	// which win where both set one.
	SbatchArgs []string

	// JobPrefix begins the name of every job: the name is JobPrefix, the
	// provider's random nonce and a sequence number, as in
	// "ebb-1f2e3d4c-7", and is the worker's ID. New cancels the jobs of
	// this user whose names have that form with this prefix: drivers that
	// run at the same time as the same user need prefixes of their own.
	// Letters, digits, '-', '_' and '.'; default "ebb-".
	JobPrefix string

	// Dir holds the job scripts (until submitted), each worker's token
	// until its worker has read it (DIR/ID.token, mode 0600), and the
	// jobs' output (DIR/ID.log, the worker's standard output and error),
	// and is the jobs' working directory: it must exist at the same path
	// on the nodes, as on a shared file system. A relative Dir is taken
	// from this process's working directory. Default: a temporary
	// directory that Close removes.
	Dir string

	// PendingTimeout is how long a job may wait in the queue: one still
	// pending then is cancelled, and its Launch fails with
	// ebb.ErrUnavailable. Default 10 minutes.
	PendingTimeout time.Duration

	// PollInterval is how often the provider lists its jobs with squeue,
	// to learn of workers whose job ended. Default 10 s.
	PollInterval time.Duration

	// CommandTimeout bounds each call of sbatch, squeue, scancel and
	// sinfo. Default 30 s.
	CommandTimeout time.Duration

	// StopTimeout is how long a failed Launch waits for the job it
	// cancelled to end. Default 1 minute.
	StopTimeout time.Duration

	// Bin is the directory of Slurm's commands. Default: found in $PATH.
	Bin string

	// Logger receives the provider's events. Nil discards them.
	Logger *slog.Logger
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,40}$`)

// withDefaults returns c with its zero fields filled in, or an error
// wrapping ebb.ErrInvalid that names the first bad field.
func (c Config) withDefaults() (Config, error) {
	c.SbatchArgs = append([]string(nil), c.SbatchArgs...)
	if c.JobPrefix == "" {
		c.JobPrefix = DefaultJobPrefix
	}
	if !prefixRE.MatchString(c.JobPrefix) {
		return c, fmt.Errorf("slurm: Config.JobPrefix %q: want 1 to 40 letters, digits, '-', '_' or '.': %w", c.JobPrefix, ebb.ErrInvalid)
	}
	if c.TimeLimit < 0 {
		return c, fmt.Errorf("slurm: Config.TimeLimit %v: must not be negative: %w", c.TimeLimit, ebb.ErrInvalid)
	}
	err := bootstrap.CheckProvider(bootstrap.ProviderConfig{
		Bootstrap: &c.Bootstrap,
		Want:      `the argv of a worker, as {"/path/to/ebb", "worker"}`,
		Shapes:    &c.Shapes,
		Shape: func(s cluster.Shape) error {
			_, err := shapeRequest(s)
			return err
		},
		Durations: []bootstrap.Duration{
			{Name: "PendingTimeout", Value: &c.PendingTimeout, Default: DefaultPendingTimeout},
			{Name: "PollInterval", Value: &c.PollInterval, Default: DefaultPollInterval},
			{Name: "CommandTimeout", Value: &c.CommandTimeout, Default: DefaultCommandTimeout},
			{Name: "StopTimeout", Value: &c.StopTimeout, Default: DefaultStopTimeout},
		},
		Logger: &c.Logger,
	})
	if err != nil {
		return c, fmt.Errorf("slurm: %w", err)
	}
	return c, nil
}

// shapeRequest returns what a job of shape s asks of Slurm, or an error
// wrapping ebb.ErrInvalid for a resource Slurm cannot be asked.
func shapeRequest(s cluster.Shape) (request, error) {
	var r request
	for name, v := range s.Resources {
		switch name {
		case ebb.CPU:
			if v != math.Trunc(v) || v > math.MaxInt32 {
				return r, fmt.Errorf("shape %q: cpu %v: Slurm gives whole cores: %w", s.Name, v, ebb.ErrInvalid)
			}
			r.CPUs = int(v)
		case ebb.Mem:
			r.MemMB = mebibytes(v)
		case ebb.Disk:
			r.TmpMB = mebibytes(v)
		case ebb.GPU:
			if v != math.Trunc(v) || v > math.MaxInt32 {
				return r, fmt.Errorf("shape %q: gpu %v: want a whole number: %w", s.Name, v, ebb.ErrInvalid)
			}
			r.GPUs = int(v)
		default:
			if v != 0 {
				return r, fmt.Errorf("shape %q: resource %q: Slurm can be asked only cpu, mem, disk and gpu: %w", s.Name, name, ebb.ErrInvalid)
			}
		}
	}
	return r, nil
}

// mebibytes returns bytes in MiB, rounded up.
func mebibytes(bytes float64) int64 { return int64(math.Ceil(bytes / float64(data.MiB))) }
