package repository

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"
)

// A Peers opens a blob that a holder keeps: a worker that produced it and
// serves it to others (package remote's Peers, over the pool protocol).
// The reader fails at its end with ebb.ErrCorrupt when the content does
// not match d; a holder that is gone or lacks d fails Open.
//
// Stat asks a holder whether it still holds d, without reading it: it
// fails with ebb.ErrNotExist when the holder says no, and with another
// error when it does not answer.
type Peers interface {
	Open(ctx context.Context, holder string, d digest.Digest) (io.ReadCloser, error)
	Stat(ctx context.Context, holder string, d digest.Digest) (Info, error)
}

// Located is a driver's Store that knows where blobs are which it does
// not hold: a worker that ran a task keeps its outputs and tells the
// driver so (Hold), and the next task's worker fetches them from there
// directly, asking the driver only where they are (Holders). Only the
// blobs the driver itself reads (Get, GetFile: the outputs a flow's
// caller asked for) are copied into its Store, from a holder, once
// (Pull).
//
// A holder that is lost takes its blobs with it, unless another copy was
// made: Forget drops it, and a blob left without holder or local copy is
// missing (ebb.ErrNotExist), so that the task that made it runs again.
// Locations live in memory, and in a file when Keep names one: a driver
// that restarts without it knows none, and re-runs the tasks whose
// outputs it never copied (see Stat).
//
// Located is safe for concurrent use; mu guards where, and no I/O
// happens while it is held; journalMu guards the file of Keep.
type Located struct {
	Store
	peers Peers
	pulls singleflight.Group

	mu    sync.Mutex
	where map[digest.Digest]*location

	journalMu sync.Mutex
	journal   *os.File
}

type location struct {
	size    int64
	holders []string
}

// NewLocated returns a Located over store, fetching from holders through
// peers.
func NewLocated(store Store, peers Peers) *Located {
	return &Located{Store: store, peers: peers, where: make(map[digest.Digest]*location)}
}

// Hold records that holder keeps blob d, of size bytes, in the file of
// Keep too. It fails with ebb.ErrInvalid for a malformed digest, an
// empty holder, one with a line break, or a negative size, and with the
// write's error when the file of Keep cannot take it.
func (l *Located) Hold(ctx context.Context, d digest.Digest, size int64, holder string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkDigest("hold", d); err != nil {
		return err
	}
	if holder == "" || strings.ContainsAny(holder, "\r\n") || size < 0 {
		return fmt.Errorf("repository: hold %s: holder %q, size %d: %w", d, holder, size, ebb.ErrInvalid)
	}
	l.mu.Lock()
	loc := l.where[d]
	if loc == nil {
		loc = &location{size: size}
		l.where[d] = loc
	}
	known := slices.Contains(loc.holders, holder)
	if !known {
		loc.holders = append(loc.holders, holder)
	}
	l.mu.Unlock()
	if known {
		return nil
	}
	return l.record(d, size, holder)
}

// Holders returns the holders of blob d, in the order they said so, and
// its size; none when the driver knows of none. The slice is the
// caller's.
func (l *Located) Holders(d digest.Digest) ([]string, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	loc := l.where[d]
	if loc == nil {
		return nil, 0
	}
	return slices.Clone(loc.holders), loc.size
}

// Forget drops holder from every blob it held: a worker that was lost.
func (l *Located) Forget(holder string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for d, loc := range l.where {
		loc.holders = slices.DeleteFunc(loc.holders, func(h string) bool { return h == holder })
		if len(loc.holders) == 0 {
			delete(l.where, d)
		}
	}
}

// Probe reports whether blob d can still be had: nil when the Store has
// it or a holder answers that it holds it. A holder that says no, or does
// not answer, is dropped from d's holders; with none left Probe fails
// with ebb.ErrNotExist, and the task that made d must run again. It
// moves no content.
func (l *Located) Probe(ctx context.Context, d digest.Digest) error {
	if _, err := l.Store.Stat(ctx, d); !errors.Is(err, ebb.ErrNotExist) {
		return err
	}
	holders, _ := l.Holders(d)
	for _, h := range holders {
		_, err := l.peers.Stat(ctx, h, d)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		l.lost(d, h, err)
	}
	return fmt.Errorf("repository: blob %s: no holder has it: %w", d, ebb.ErrNotExist)
}

// lost drops holder from d's holders after err, and from every blob's
// when err says it did not answer (ebb.ErrUnavailable): a holder that is
// gone costs one wait for its answer, not one a blob.
func (l *Located) lost(d digest.Digest, holder string, err error) {
	if errors.Is(err, ebb.ErrUnavailable) {
		l.Forget(holder)
		return
	}
	l.drop(d, holder)
}

// drop removes holder from d's holders.
func (l *Located) drop(d digest.Digest, holder string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if loc := l.where[d]; loc != nil {
		loc.holders = slices.DeleteFunc(loc.holders, func(h string) bool { return h == holder })
		if len(loc.holders) == 0 {
			delete(l.where, d)
		}
	}
}

// Stat returns the blob's info from the Store or, when it is held
// elsewhere, from what its holder said.
func (l *Located) Stat(ctx context.Context, d digest.Digest) (Info, error) {
	info, err := l.Store.Stat(ctx, d)
	if !errors.Is(err, ebb.ErrNotExist) {
		return info, err
	}
	if holders, size := l.Holders(d); len(holders) > 0 {
		return Info{Digest: d, Size: size}, nil
	}
	return info, err
}

// Get opens blob d, copying it first from a holder into the Store when
// only a holder has it.
func (l *Located) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	if err := l.Pull(ctx, d); err != nil {
		return nil, err
	}
	return l.Store.Get(ctx, d)
}

// GetFile writes blob d to path, as Get.
func (l *Located) GetFile(ctx context.Context, d digest.Digest, path string) error {
	if err := l.Pull(ctx, d); err != nil {
		return err
	}
	return l.Store.GetFile(ctx, d, path)
}

// Pull copies blob d into the Store from its first holder that answers,
// unless the Store has it. Concurrent Pulls of one blob share one copy.
// It fails with ebb.ErrNotExist when neither the Store nor any holder
// has d, and with the last holder's error when none could give it.
func (l *Located) Pull(ctx context.Context, d digest.Digest) error {
	if _, err := l.Store.Stat(ctx, d); !errors.Is(err, ebb.ErrNotExist) {
		return err
	}
	_, err, _ := l.pulls.Do(string(d), func() (any, error) {
		return nil, l.pull(ctx, d)
	})
	return err
}

func (l *Located) pull(ctx context.Context, d digest.Digest) error {
	if _, err := l.Store.Stat(ctx, d); !errors.Is(err, ebb.ErrNotExist) {
		return err
	}
	holders, _ := l.Holders(d)
	if len(holders) == 0 || l.peers == nil {
		return fmt.Errorf("repository: blob %s: held nowhere: %w", d, ebb.ErrNotExist)
	}
	var errs []error
	for _, h := range holders {
		err := l.pullFrom(ctx, h, d)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if errors.Is(err, ebb.ErrUnavailable) {
			l.Forget(h)
		}
		errs = append(errs, fmt.Errorf("from %s: %w", h, err))
	}
	return fmt.Errorf("repository: pull %s: %w", d, errors.Join(errs...))
}

func (l *Located) pullFrom(ctx context.Context, holder string, d digest.Digest) error {
	rc, err := l.peers.Open(ctx, holder, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := l.Store.Put(ctx, rc)
	if err != nil {
		return err
	}
	if got != d {
		return fmt.Errorf("holder sent content of digest %s: %w", got, ebb.ErrCorrupt)
	}
	return nil
}
