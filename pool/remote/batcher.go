package remote

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// A batcher coalesces concurrent calls on one alloc (its puts, removes
// and quick waits; or its wait polls) into batch requests, by group
// commit:
//
//   - A call made while no batch is open goes at once, alone, in its
//     caller's goroutine and under its caller's context: a caller
//     without company pays nothing for batching.
//   - Calls made while a batch is open queue behind it, and go together
//     as the next batch once the open one is answered, or once it has
//     held them back for hold (a slow call must not delay the others
//     for long). A wait's batch stops holding the next one back as soon
//     as the server says it waits (release), so that a long poll never
//     delays the calls behind it.
//   - A batch of queued calls is sent by a goroutine of the batcher's,
//     under a context of its own, which ends when the batch is answered
//     or when every caller in it has gone. A caller whose context ends
//     returns at once with its context's error; the others' calls go
//     on. The goroutine ends once no call is queued. Before it takes
//     the queue it yields (runtime.Gosched), so that the callers it
//     just answered, who often call again at once, join the next batch
//     rather than the one after.
//
// The sendFunc decides what one request carries: calls it leaves out (a
// wait not yet done, calls beyond a request's bound) ride the next batch.
//
// mu guards open, queue, and the gone and round fields of every rider.
// No I/O is done under mu.
type batcher[I, O any] struct {
	send sendFunc[I, O]
	hold time.Duration // how long a batch may hold the next back
	max  int           // the most calls in a batch; the rest stay queued

	mu    sync.Mutex
	open  bool           // a batch holds the others back: calls queue
	queue []*rider[I, O] // the next batch; empty unless open
}

// A sendFunc sends one batch request for rs: it resolves every rider it
// answers and returns the others, to ride the next batch. It may call
// release once the request no longer needs to hold the next batch back.
type sendFunc[I, O any] func(ctx context.Context, rs []*rider[I, O], release func()) (carry []*rider[I, O])

// A rider is one call in a batcher.
type rider[I, O any] struct {
	op   string // for messages, as a call of its own names itself
	in   I
	out  O
	err  error
	done chan struct{} // closed once out and err are set

	gone  bool         // its caller has left
	round *round[I, O] // the last goroutine's batch that carried it
}

// resolve answers r. The sendFunc that has r in its batch calls it once.
func (r *rider[I, O]) resolve(out O, err error) {
	r.out, r.err = out, err
	close(r.done)
}

// A round is one batch, sent by one request.
type round[I, O any] struct {
	riders []*rider[I, O]
	ctx    context.Context
	cancel context.CancelFunc // nil for a call sent in its caller's goroutine
	holds  bool               // it holds the next batch back (guarded by mu)
}

// call makes one call through b, and returns its answer or, when ctx
// ends first, an error wrapping ctx's.
func (b *batcher[I, O]) call(ctx context.Context, op string, in I) (O, error) {
	r := &rider[I, O]{op: op, in: in, done: make(chan struct{})}
	b.mu.Lock()
	if b.open {
		b.queue = append(b.queue, r)
		b.mu.Unlock()
		return b.await(ctx, r)
	}
	b.open = true
	b.mu.Unlock()
	for {
		rd := &round[I, O]{riders: []*rider[I, O]{r}, ctx: ctx, holds: true}
		carry := b.sendRound(rd)
		b.mu.Lock()
		next := b.handoff(rd, carry)
		if len(next) == 1 && next[0] == r {
			// Alone again (a wait not yet done), holding the slot: go
			// on here.
			b.mu.Unlock()
			continue
		}
		var nrd *round[I, O]
		if len(next) > 0 {
			nrd = b.newRound(next)
		}
		b.mu.Unlock()
		if nrd != nil {
			go b.run(nrd)
		}
		return b.await(ctx, r)
	}
}

// busy reports whether a batch is in flight that calls would queue
// behind.
func (b *batcher[I, O]) busy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// run sends rd, and then the batches that queued behind it, until none
// is left.
func (b *batcher[I, O]) run(rd *round[I, O]) {
	for rd != nil {
		cur := rd
		carry := b.sendRound(cur)
		cur.cancel()
		runtime.Gosched()
		b.mu.Lock()
		next := b.handoff(cur, carry)
		rd = nil
		if len(next) > 0 {
			rd = b.newRound(next)
		}
		b.mu.Unlock()
	}
}

// sendRound sends rd, releasing the calls queued behind it once it has
// held them back for b.hold.
func (b *batcher[I, O]) sendRound(rd *round[I, O]) []*rider[I, O] {
	release := func() { b.release(rd) }
	t := time.AfterFunc(b.hold, release)
	defer t.Stop()
	return b.send(rd.ctx, rd.riders, release)
}

// handoff decides, once rd is answered, what goes next: the calls rd
// carried whose callers are still there, and those that queued. A
// non-empty answer holds the slot, and its caller must send it. The
// caller holds mu.
func (b *batcher[I, O]) handoff(rd *round[I, O], carry []*rider[I, O]) []*rider[I, O] {
	var next []*rider[I, O]
	for _, r := range carry {
		if !r.gone {
			next = append(next, r)
		}
	}
	if rd.holds {
		rd.holds = false
		next = append(next, b.queue...)
		b.queue = nil
		if len(next) == 0 {
			b.open = false
		}
		return b.cut(next)
	}
	switch {
	case len(next) == 0:
		return nil
	case b.open:
		b.queue = append(b.queue, next...)
		return nil
	}
	b.open = true
	return b.cut(next)
}

// cut returns the first b.max calls of next, the next batch, and leaves
// the others queued, first. The caller holds mu.
func (b *batcher[I, O]) cut(next []*rider[I, O]) []*rider[I, O] {
	if len(next) <= b.max {
		return next
	}
	b.queue = append(slices.Clone(next[b.max:]), b.queue...)
	return next[:b.max]
}

// newRound makes the round of a goroutine's batch, holding the slot.
// The caller holds mu.
func (b *batcher[I, O]) newRound(rs []*rider[I, O]) *round[I, O] {
	ctx, cancel := context.WithCancel(context.Background())
	rd := &round[I, O]{riders: rs, ctx: ctx, cancel: cancel, holds: true}
	for _, r := range rs {
		r.round = rd
	}
	return rd
}

// release lets the calls queued behind rd go while rd is still in
// flight.
func (b *batcher[I, O]) release(rd *round[I, O]) {
	b.mu.Lock()
	if !rd.holds {
		b.mu.Unlock()
		return
	}
	rd.holds = false
	var nrd *round[I, O]
	if len(b.queue) > 0 {
		next := b.queue
		b.queue = nil
		nrd = b.newRound(b.cut(next))
	} else {
		b.open = false
	}
	b.mu.Unlock()
	if nrd != nil {
		go b.run(nrd)
	}
}

// await waits for r's answer, or for ctx to end: then r leaves, and when
// it was the last caller in its batch, the batch's request is cancelled.
func (b *batcher[I, O]) await(ctx context.Context, r *rider[I, O]) (O, error) {
	select {
	case <-r.done:
		return r.out, r.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	select {
	case <-r.done:
		b.mu.Unlock()
		return r.out, r.err
	default:
	}
	r.gone = true
	if i := slices.Index(b.queue, r); i >= 0 {
		b.queue = slices.Delete(b.queue, i, i+1)
	} else if rd := r.round; rd != nil && rd.cancel != nil && slices.IndexFunc(rd.riders, func(r *rider[I, O]) bool { return !r.gone }) < 0 {
		rd.cancel()
	}
	b.mu.Unlock()
	var zero O
	return zero, fmt.Errorf("remote: %s: %w", r.op, ctx.Err())
}
