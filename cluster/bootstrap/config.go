package bootstrap

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/remote"
)

// Defaults of the Config fields left zero.
const (
	DefaultListen       = "127.0.0.1:0"
	DefaultWorkerListen = "127.0.0.1:0"
	DefaultLeaseTimeout = 5 * time.Minute
	DefaultGrace        = 10 * time.Second
)

// Config configures a Bootstrap. Only Command is required.
type Config struct {
	// Command is the argv that starts a worker, on the machine where the
	// engine runs it: the ebb binary and its subcommand, as in
	// {"/usr/local/bin/ebb", "worker"}, or any program that takes the
	// flags of ebb worker. Expect appends -id, -listen, -resources,
	// -lease-timeout, -grace and -driver (and -driver-pin, -no-tls,
	// -repository).
	Command []string

	// Listen is the address the driver listens on for announcements.
	// Default 127.0.0.1:0, which only workers on this machine reach; use
	// ":0" or an interface's address for workers on other machines.
	Listen string

	// Advertise is the host (or host:port) in the URL the workers
	// announce to. Default: the listener's address, or this machine's
	// host name when it listens on every interface.
	Advertise string

	// WorkerListen is the workers' -listen. Default 127.0.0.1:0; use
	// ":0" when the workers run on other machines: a worker listening on
	// every interface announces its host name.
	WorkerListen string

	// Repository, when set, is a repository directory the workers share
	// with the driver (a shared file system, or this machine), passed as
	// their -repository (made absolute): inputs and outputs then need no
	// copying.
	Repository string

	// Blobs, when set, is the driver's repository, served to the workers
	// beside the announcements: they stage their execs' inputs from it
	// and store their outputs to it (-driver-blobs), each with its own
	// token. Use it when the workers share no file system with the
	// driver. With neither Repository nor Blobs, each worker keeps a
	// repository of its own, which only its client's Repository reaches:
	// a runner's tasks would not find their inputs there.
	Blobs pool.Repository

	// PeerToken, when set with Blobs, is the run's peer token (see
	// remote.PeerServerConfig.Token): each worker is started with
	// -peers, keeps a blob cache, serves it to the run's other workers
	// and fetches its inputs from the worker that holds them, falling
	// back to Blobs. The token reaches each worker in the answer to its
	// announcement, never on its command line or in its environment.
	// Blobs should then be a repository.Located (whose Peers carry the
	// same token), which records the holders the workers report. A
	// driver that adopts workers (Adopt) must give the token of the run
	// that started them: they keep the one they were handed.
	PeerToken string

	// Counter, when set, counts the blob content the bootstrap's server
	// of Blobs sends to and receives from the workers.
	Counter *BlobCounter

	// LeaseTimeout is the workers' -lease-timeout: a worker stops itself
	// once nobody held a lease of it for this long, so workers outlive a
	// driver that died by the leases it held plus this. Default 5
	// minutes.
	LeaseTimeout time.Duration

	// Grace is the workers' -grace: how long a worker's drain may take.
	// Default 10 s.
	Grace time.Duration

	// NoTLS serves announcements, and starts the workers, over plain
	// HTTP: tokens cross the network in clear. By default both serve
	// TLS with fresh self-signed certificates, whose pins are checked.
	NoTLS bool

	// Client is the template of the workers' clients: its Timeout,
	// RetryMin, RetryMax and WaitPoll are used; URL, Token, Pin and Gone
	// are the bootstrap's to set.
	Client remote.ClientConfig

	// Keep, when set, is a file where New keeps what the workers know of
	// the bootstrap: the address it listens at and its certificate with
	// its key, written with mode 0600. A bootstrap made again with the
	// same Keep (a driver resumed after a crash) listens at the same
	// address with the same certificate, so that the workers started by
	// the first one, which Adopt takes over, still reach it: they tell it
	// when they leave, and fetch their blobs from it. A worker storing
	// outputs to Blobs while no driver serves keeps trying for its
	// -lease-timeout, so a task that ended in the gap is not lost. When
	// that address is taken, New listens at Listen instead, and says so
	// in the log.
	Keep string

	// Adopt are the workers of an earlier bootstrap that New adopts (see
	// Bootstrap.Adopt) before it serves, so that none of them, reaching
	// the new bootstrap at the kept address, is refused as unknown.
	Adopt []cluster.WorkerRecord

	// Logger receives the bootstrap's events. Nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields filled in, or an error
// wrapping ebb.ErrInvalid that names the first bad field.
func (c Config) withDefaults() (Config, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return c, fmt.Errorf("bootstrap: Config.Command %q: want the argv of a worker, as {\"/path/to/ebb\", \"worker\"}: %w", c.Command, ebb.ErrInvalid)
	}
	c.Command = append([]string(nil), c.Command...)
	if c.Repository != "" {
		// The workers run elsewhere, in a directory of their own.
		abs, err := filepath.Abs(c.Repository)
		if err != nil {
			return c, fmt.Errorf("bootstrap: Config.Repository %q: %v: %w", c.Repository, err, ebb.ErrInvalid)
		}
		c.Repository = abs
	}
	if c.Repository != "" && c.Blobs != nil {
		return c, fmt.Errorf("bootstrap: Config.Repository and Config.Blobs both set: the workers use one repository: %w", ebb.ErrInvalid)
	}
	if c.PeerToken != "" {
		if c.Blobs == nil {
			return c, fmt.Errorf("bootstrap: Config.PeerToken without Config.Blobs: the workers fetch from peers only what the driver's repository locates: %w", ebb.ErrInvalid)
		}
		if err := remote.CheckToken(c.PeerToken); err != nil {
			return c, fmt.Errorf("bootstrap: Config.PeerToken: %w", err)
		}
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.WorkerListen == "" {
		c.WorkerListen = DefaultWorkerListen
	}
	if _, _, err := net.SplitHostPort(c.WorkerListen); err != nil {
		return c, fmt.Errorf("bootstrap: Config.WorkerListen %q: %v: %w", c.WorkerListen, err, ebb.ErrInvalid)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"LeaseTimeout", &c.LeaseTimeout, DefaultLeaseTimeout},
		{"Grace", &c.Grace, DefaultGrace},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			return c, fmt.Errorf("bootstrap: Config.%s %v: must not be negative: %w", d.name, *d.v, ebb.ErrInvalid)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
