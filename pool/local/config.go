package local

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Defaults of the Config fields left zero.
const (
	DefaultID        = "local"
	DefaultLease     = time.Minute
	DefaultMaxLease  = 10 * time.Minute
	DefaultTailBytes = 4 << 10
)

// Config configures a Pool. The zero value is a pool of this whole machine
// working in a temporary directory.
type Config struct {
	// Dir holds the pool's state and the work directories of its execs,
	// under Dir/allocs. New removes whatever an earlier pool left there
	// and locks Dir against other pools; Close unlocks it. If empty, New
	// makes a temporary directory and Close removes it.
	Dir string

	// Resources is the pool's capacity. If empty, New reads it from the
	// machine: cpu = runtime.NumCPU(), mem = MemTotal of /proc/meminfo,
	// disk = the free bytes of Dir's file system.
	Resources ebb.Resources

	// ID names the pool: 1 to 63 letters, digits, '_', '-' and '.'.
	// Default "local".
	ID string

	// DefaultLease is the lease an alloc gets at Accept. Default 1 min.
	DefaultLease time.Duration

	// MaxLease caps the lease Keepalive grants. Default 10 min, or
	// DefaultLease if that is longer; it must not be shorter than
	// DefaultLease.
	MaxLease time.Duration

	// TailBytes bounds the tails of stdout and stderr copied into each
	// Result, and the memory an exec keeps of each stream when its
	// streams are not kept in files. Default 4 KiB.
	TailBytes int

	// KeepLogs keeps the whole of each command's stdout and stderr, in
	// files in its exec's directory until Remove or the end of its alloc,
	// where Logs reads them. Without it a command's streams go through
	// pipes into bounded tails in memory, as a func's do: Logs returns
	// what the tails still hold (the last TailBytes at least), and a
	// follower that keeps up reads everything. Files cost each command a
	// directory and two files, made and removed; pipes touch no file.
	KeepLogs bool

	// Repository stages exec inputs and stores exec outputs. It is needed
	// only by execs that have some: without one, Put refuses them with
	// ebb.ErrInvalid. A Repository that also has GetFile(ctx, digest,
	// path) error (repository.Dir, remote.Repository) writes each blob an
	// alloc fetches itself; any other is read with Get.
	Repository pool.Repository

	// Logger receives the pool's events (allocs taken, freed, expired).
	// Nil discards them.
	Logger *slog.Logger

	// contain is how command execs are contained; the zero value,
	// containAuto, is the best the machine allows. Tests and benchmarks
	// set the others.
	contain containMode
}

// withDefaults returns c with its zero fields set to their defaults, or an
// error wrapping ebb.ErrInvalid that names the first bad field.
func (c Config) withDefaults() (Config, error) {
	if c.ID == "" {
		c.ID = DefaultID
	}
	if err := validID(c.ID); err != nil {
		return c, err
	}
	switch {
	case c.DefaultLease == 0:
		c.DefaultLease = DefaultLease
	case c.DefaultLease < 0:
		return c, fmt.Errorf("local: Config.DefaultLease %v: must be positive: %w", c.DefaultLease, ebb.ErrInvalid)
	}
	switch {
	case c.MaxLease == 0:
		c.MaxLease = max(DefaultMaxLease, c.DefaultLease)
	case c.MaxLease < c.DefaultLease:
		return c, fmt.Errorf("local: Config.MaxLease %v: must not be shorter than DefaultLease %v: %w", c.MaxLease, c.DefaultLease, ebb.ErrInvalid)
	}
	switch {
	case c.TailBytes == 0:
		c.TailBytes = DefaultTailBytes
	case c.TailBytes < 0:
		return c, fmt.Errorf("local: Config.TailBytes %d: must not be negative: %w", c.TailBytes, ebb.ErrInvalid)
	}
	if err := c.Resources.Validate(); err != nil {
		return c, fmt.Errorf("local: Config.Resources: %w", err)
	}
	c.Resources = c.Resources.Clone()
	if c.Dir != "" {
		dir, err := filepath.Abs(c.Dir)
		if err != nil {
			return c, fmt.Errorf("local: Config.Dir %q: %v: %w", c.Dir, err, ebb.ErrInvalid)
		}
		c.Dir = dir
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func validID(id string) error {
	ok := len(id) <= 63
	for _, c := range id {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.')
	}
	if !ok {
		return fmt.Errorf("local: Config.ID %q: want 1 to 63 letters, digits, _ - .: %w", id, ebb.ErrInvalid)
	}
	return nil
}
