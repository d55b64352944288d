package procs

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/tokenfile"
	"github.com/ebbflow/ebb/pool/remote"
)

// Defaults of the Config fields left zero.
const (
	DefaultLeaseTimeout = 5 * time.Minute
	DefaultGrace        = 10 * time.Second
)

// Config configures a Provider. Only Command is required.
type Config struct {
	// Command is the argv that starts a worker: the ebb binary and its
	// subcommand, as in {"/usr/local/bin/ebb", "worker"}, or any program
	// that takes the flags of ebb worker. The provider appends -listen,
	// -id, -dir, -resources, -lease-timeout and -grace (and -no-tls and
	// -repository). The worker's token is never in argv nor in the
	// environment: it is in a file of mode 0600 in the worker's directory
	// (Dir/ID/token), which $EBB_TOKEN_FILE names and the worker removes
	// once read ($EBB_TOKEN_FILE_REMOVE=1). So a Command that is a shell
	// script running ebb worker without exec keeps no token in the
	// shell's /proc/PID/environ.
	Command []string

	// Shapes are the kinds of worker the provider launches; each worker's
	// pool gets exactly its shape's Resources. Default: MachineShapes.
	// Nothing stops the workers alive at once from adding up to more than
	// the machine: cap them with the Elastic's limits.
	Shapes []cluster.Shape

	// Dir holds a directory per worker (its execs' files and its blobs),
	// removed when the worker has exited. Default: a temporary directory
	// that Close removes.
	Dir string

	// Repository, when set, is a repository directory (see package
	// repository) that every worker shares, passed as its -repository:
	// the driver's, so that inputs and outputs need no copying. By
	// default each worker keeps its own under Dir, which its client's
	// Repository reaches.
	Repository string

	// Env is the workers' environment, before $EBB_TOKEN_FILE is added;
	// its EBB_TOKEN, EBB_TOKEN_FILE and EBB_TOKEN_FILE_REMOVE are left
	// out. Default: this process's environment.
	Env []string

	// LeaseTimeout is the workers' -lease-timeout: a worker stops itself
	// once nobody held a lease of it for this long, so workers outlive a
	// driver that died by the leases it held plus this. Default 5
	// minutes.
	LeaseTimeout time.Duration

	// Grace is how long Terminate lets a worker drain after SIGTERM
	// before it sends SIGKILL; it is also the worker's -grace. Default
	// 10 s.
	Grace time.Duration

	// PollInterval is how often the provider looks whether a worker it
	// adopted from an earlier provider (see Provider.Workers), which is
	// not its child, has exited. Default 100 ms.
	PollInterval time.Duration

	// NoTLS starts the workers with -no-tls: plain HTTP on loopback. By
	// default every worker serves TLS with a fresh self-signed
	// certificate, whose pin it prints and the client checks.
	NoTLS bool

	// Client is the template of the workers' clients: its Timeout,
	// RetryMin, RetryMax and WaitPoll are used; URL, Token, Pin and Gone
	// are the provider's to set.
	Client remote.ClientConfig

	// Stderr receives the workers' standard error (their logs). Nil
	// discards it.
	Stderr io.Writer

	// Logger receives the provider's events. Nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields filled in, or an error
// wrapping ebb.ErrInvalid that names the first bad field.
func (c Config) withDefaults() (Config, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return c, fmt.Errorf("procs: Config.Command %q: want the argv of a worker, as {\"/path/to/ebb\", \"worker\"}: %w", c.Command, ebb.ErrInvalid)
	}
	if len(c.Shapes) == 0 {
		shapes, err := MachineShapes()
		if err != nil {
			return c, err
		}
		c.Shapes = shapes
	}
	shapes, err := cluster.CheckShapes(c.Shapes)
	if err != nil {
		return c, fmt.Errorf("procs: Config.%w", err)
	}
	c.Shapes = shapes
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"LeaseTimeout", &c.LeaseTimeout, DefaultLeaseTimeout},
		{"Grace", &c.Grace, DefaultGrace},
		{"PollInterval", &c.PollInterval, 100 * time.Millisecond},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			return c, fmt.Errorf("procs: Config.%s %v: must not be negative: %w", d.name, *d.v, ebb.ErrInvalid)
		}
	}
	if c.Env == nil {
		c.Env = tokenfile.Without(os.Environ())
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// MachineShapes returns slices of this machine, priced by their cores (a
// price of one per core-minute): "quarter", "half" and "whole", each of
// that part of runtime.NumCPU() cores and of MemTotal in /proc/meminfo.
func MachineShapes() ([]cluster.Shape, error) {
	mem, err := memTotal()
	if err != nil {
		return nil, fmt.Errorf("procs: reading this machine's memory: %w", err)
	}
	cpu := float64(runtime.NumCPU())
	var shapes []cluster.Shape
	for _, s := range []struct {
		name string
		frac float64
	}{{"quarter", 0.25}, {"half", 0.5}, {"whole", 1}} {
		shapes = append(shapes, cluster.Shape{
			Name:      s.name,
			Resources: ebb.Resources{ebb.CPU: cpu * s.frac, ebb.Mem: float64(int64(mem * s.frac))},
			Price:     cpu * s.frac,
		})
	}
	return shapes, nil
}

// memTotal reads MemTotal from /proc/meminfo, in bytes.
func memTotal() (float64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/meminfo: MemTotal %q: %v", rest, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/meminfo: no MemTotal")
}
