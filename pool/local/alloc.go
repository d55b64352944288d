package local

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"golang.org/x/sync/singleflight"
)

// The states of an alloc. An alloc is live until Free, expiry or Close
// begins its end; it is ending from then on. It leaves the pool's table
// (and its resources return) when the end is over and gonec is closed.
const (
	live int32 = iota
	ending
)

// An alloc is a leased slice of the pool. Its ID, resources, meta and
// creation time never change; its mutex guards its execs and its lease.
type alloc struct {
	p       *Pool
	id      string
	seq     uint64
	res     ebb.Resources
	meta    pool.AllocMeta
	created time.Time
	dir     string

	state  atomic.Int32  // live or ending: written under mu, read anywhere
	endErr error         // why the alloc ended; written before state becomes ending
	endc   chan struct{} // closed when the end begins
	gonec  chan struct{} // closed when the end is over

	// mu guards the fields below. It is taken after the pool's mutex,
	// never before, and never held for I/O or a wait.
	mu            sync.Mutex
	execs         map[pool.ExecID]*exec
	busy          ebb.Resources // Σ running execs' resources
	running       int
	hasDir        bool       // some exec has made files under dir
	freeWork      []*workDir // work directories left as they were made, for the next execs
	workSeq       uint64     // numbers the work directories
	lastKeepalive time.Time
	expires       time.Time
	timer         *time.Timer // calls expire when the lease is due
	// free holds exec records that Call is done with, for the next
	// Calls (see forget): at most as many as ran at once, besides those
	// in spare.
	free []*exec
	// spare holds a few more such records, taken without mu (see
	// reused); they are stored only with mu held, while the alloc is
	// live.
	spare [spareExecs]atomic.Pointer[exec]

	fetches singleflight.Group // blobs being fetched for its execs, by digest
}

var _ pool.Alloc = (*alloc)(nil)

func newAlloc(p *Pool, seq uint64, res ebb.Resources, meta pool.AllocMeta, now time.Time) *alloc {
	id := p.nonce + "-" + strconv.FormatUint(seq, 10)
	return &alloc{
		p:   p,
		id:  id,
		seq: seq,
		res: res,
		meta: pool.AllocMeta{
			Want:   ebb.Requirements{Min: meta.Want.Min.Clone(), Width: meta.Want.Width},
			Owner:  meta.Owner,
			Labels: meta.Labels.Clone(),
		},
		created:       now,
		dir:           p.allocDir(id),
		endc:          make(chan struct{}),
		gonec:         make(chan struct{}),
		execs:         make(map[pool.ExecID]*exec),
		lastKeepalive: now,
	}
}

// ID returns the alloc's ID: the pool's nonce and a sequence number.
func (a *alloc) ID() string { return a.id }

// Pool returns the pool the alloc came from.
func (a *alloc) Pool() pool.Pool { return a.p }

// Resources returns a copy of what the alloc holds.
func (a *alloc) Resources() ebb.Resources { return a.res.Clone() }

// Inspect returns the alloc's state, in fresh memory the caller owns.
func (a *alloc) Inspect(ctx context.Context) (pool.AllocInspect, error) {
	if err := ctx.Err(); err != nil {
		return pool.AllocInspect{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state.Load() != live {
		return pool.AllocInspect{}, a.expired()
	}
	return pool.AllocInspect{
		ID:        a.id,
		Pool:      a.p.cfg.ID,
		Resources: a.res.Clone(),
		Busy:      a.busy.Clone(),
		Running:   a.running,
		Meta: pool.AllocMeta{
			Want:   ebb.Requirements{Min: a.meta.Want.Min.Clone(), Width: a.meta.Want.Width},
			Owner:  a.meta.Owner,
			Labels: a.meta.Labels.Clone(),
		},
		Created:       a.created,
		LastKeepalive: a.lastKeepalive,
		Expires:       a.expires,
	}, nil
}

// Free ends the alloc: it kills every exec (whole process groups, and
// cgroups where the pool has them: see the package doc), waits until all
// have ended, removes the alloc's directory and returns its resources to
// the pool. It fails with ebb.ErrExpired when the alloc's end
// had already begun. If ctx ends first, Free returns its error and the end
// goes on: the alloc takes no more calls, and its resources return once
// its last exec is gone.
func (a *alloc) Free(ctx context.Context) error {
	end, ok := a.beginEnd(fmt.Errorf("local: alloc %s: freed: %w", a.id, ebb.ErrExpired))
	if !ok {
		return a.expired()
	}
	go a.end(end)
	select {
	case <-a.gonec:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("local: free alloc %s: %w", a.id, ctx.Err())
	}
}

// expired is the error of every call on an alloc whose end has begun: it
// wraps ebb.ErrExpired and says why. Call it only once state was seen to
// be ending, so that endErr is set.
func (a *alloc) expired() error { return a.endErr }

// An endWork is what beginEnd hands to end: the execs to kill and whether
// there are files to remove. Nothing can be added to either once the end
// has begun.
type endWork struct {
	execs  []*exec
	hasDir bool
}

// beginEnd moves a live alloc to ending and reports whether this call
// did. why, which wraps ebb.ErrExpired, is what the alloc answers from
// then on.
func (a *alloc) beginEnd(why error) (endWork, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.beginEndLocked(why)
}

func (a *alloc) beginEndLocked(why error) (endWork, bool) {
	if a.state.Load() != live {
		return endWork{}, false
	}
	a.endErr = why
	a.state.Store(ending)
	close(a.endc)
	a.timer.Stop()
	end := endWork{execs: make([]*exec, 0, len(a.execs)), hasDir: a.hasDir}
	for _, e := range a.execs {
		e.shared = true
		end.execs = append(end.execs, e)
	}
	a.free = nil
	for i := range a.spare {
		a.spare[i].Store(nil)
	}
	return end, true
}

// end kills the execs of an ending alloc, waits for them, removes its
// files and returns its resources.
func (a *alloc) end(end endWork) {
	for _, e := range end.execs {
		e.kill()
	}
	for _, e := range end.execs {
		<-e.doneChan()
	}
	if end.hasDir {
		if err := os.RemoveAll(a.dir); err != nil {
			a.p.log.Warn("removing alloc directory", "alloc", a.id, "err", err)
		}
	}
	a.mu.Lock()
	a.execs = nil // the results go with the alloc
	a.mu.Unlock()
	a.p.release(a)
	a.p.log.Info("alloc ended", "alloc", a.id, "why", a.endErr, "execs", len(end.execs))
	close(a.gonec)
}
