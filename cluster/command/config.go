package command

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
)

// Defaults of the Config fields left zero.
const (
	DefaultName          = "ebb"
	DefaultTimeout       = time.Minute
	DefaultStartTimeout  = 10 * time.Minute
	DefaultCheckInterval = 30 * time.Second
	DefaultIdleShutdown  = 5 * time.Minute
)

// Config configures a Provider. Start, Stop, Shapes and Bootstrap.Command
// are required.
type Config struct {
	// Start, List and Stop are the commands, as argv templates (see the
	// package doc). List may be empty.
	Start, List, Stop []string

	// Shapes are the kinds of worker Start can start: each worker serves
	// exactly its shape's Resources, which must not be more than what
	// Start gets it.
	Shapes []cluster.Shape

	// Name starts every worker ID: letters, digits, '-' and '_', starting
	// with a letter. Default "ebb". Drivers that run at once with the same
	// List must have different names, or each takes the other's workers
	// for an earlier driver's (see KeepOthers).
	Name string

	// Bootstrap configures how workers are started and announce
	// themselves: its Command (the ebb binary and "worker", as the
	// machines Start reaches have it) is required; Listen, Advertise and
	// WorkerListen must let the workers reach the driver and the driver
	// the workers. Its LeaseTimeout is overridden by IdleShutdown.
	Bootstrap bootstrap.Config

	// Timeout bounds every run of a command. Default 1 minute.
	Timeout time.Duration

	// StartTimeout bounds a Launch from Start to the worker's
	// announcement: a worker that has not announced itself by then is
	// stopped, and the Launch fails with ebb.ErrUnavailable. Default 10
	// minutes.
	StartTimeout time.Duration

	// CheckInterval is how often List runs to find the workers that
	// died. Default 30 s.
	CheckInterval time.Duration

	// MaxWorkers caps the workers this provider has, starting or up: a
	// Launch beyond it fails with ebb.ErrUnavailable. Default 0: no cap
	// here (an Elastic has its own MaxWorkers).
	MaxWorkers int

	// IdleShutdown is how long a worker lives with no alloc of the
	// driver's on it before it stops itself: the workers' -lease-timeout.
	// It is what stops the workers of a driver that died. Default 5
	// minutes. (The driver's own idle shutdown of workers is the
	// Elastic's IdleTimeout.)
	IdleShutdown time.Duration

	// Dir, when set, is where the provider keeps a record of each worker
	// (cluster.WorkerRecord: its ID, Start's handle, where it serves, its
	// token; files of mode 0600) and its bootstrap's address and
	// certificate (bootstrap.Config.Keep, unless set). A provider made
	// later with the same Dir and Name (a driver resumed after a crash)
	// adopts the workers of the records that List still shows and that
	// answer, and stops the others. Without Dir, no worker is adopted.
	Dir string

	// TokenDir, when set, is a directory where each worker's token is
	// written before Start runs, to a file of mode 0600 (TokenDir/ID.token)
	// that Start's environment names in $EBB_TOKEN_FILE, with
	// $EBB_TOKEN_FILE_REMOVE=1 and without $EBB_TOKEN: ebb worker reads
	// the file and removes it as it starts, so that a shell between Start
	// and the worker (a batch script that does not exec it) holds no
	// token in its environment, where any process of the same user reads
	// it (/proc/PID/environ). The worker must find the file at that path:
	// Start runs it on this machine, or on one that shares the file
	// system. A relative TokenDir is taken from this process's working
	// directory; New creates it (mode 0700) if need be. The provider
	// removes the file of a worker that never read it when it forgets the
	// worker. By default ("") the token is in $EBB_TOKEN, for a Start that
	// carries it to another machine (ssh -o SendEnv=EBB_TOKEN).
	TokenDir string

	// KeepOthers keeps, at New, the workers that List shows with Name's
	// prefix but of another provider: by default they are stopped.
	KeepOthers bool

	// Logger receives the provider's events and the commands' failures.
	// Nil discards them.
	Logger *slog.Logger
}

var validName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// withDefaults returns c with its zero fields filled in and its templates
// parsed, or an error wrapping ebb.ErrInvalid that names the first bad
// field.
func (c Config) withDefaults() (Config, *commands, error) {
	bad := func(format string, args ...any) (Config, *commands, error) {
		return c, nil, fmt.Errorf("command: Config."+format+": %w", append(args, ebb.ErrInvalid)...)
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if !validName.MatchString(c.Name) {
		return bad("Name %q: want letters, digits, - and _, starting with a letter", c.Name)
	}
	shapes, err := cluster.CheckShapes(c.Shapes)
	if err != nil {
		return c, nil, fmt.Errorf("command: Config.%w", err)
	}
	c.Shapes = shapes
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Timeout", &c.Timeout, DefaultTimeout},
		{"StartTimeout", &c.StartTimeout, DefaultStartTimeout},
		{"CheckInterval", &c.CheckInterval, DefaultCheckInterval},
		{"IdleShutdown", &c.IdleShutdown, DefaultIdleShutdown},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			return bad("%s %v: must not be negative", d.name, *d.v)
		}
	}
	if c.MaxWorkers < 0 {
		return bad("MaxWorkers %d: must not be negative", c.MaxWorkers)
	}
	if c.TokenDir != "" {
		abs, err := filepath.Abs(c.TokenDir)
		if err != nil {
			return bad("TokenDir %q: %v", c.TokenDir, err)
		}
		c.TokenDir = abs
	}
	c.Bootstrap.LeaseTimeout = c.IdleShutdown
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Bootstrap.Logger == nil {
		c.Bootstrap.Logger = c.Logger
	}
	cmds, err := parseCommands(c.Start, c.List, c.Stop)
	if err != nil {
		return c, nil, err
	}
	return c, cmds, nil
}
