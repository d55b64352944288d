package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/runner"
)

// Config configures a Dashboard. Source is required; the other fields
// have useful zero values.
type Config struct {
	// Source is the run to show.
	Source Source
	// Token is what a request that does not come over loopback must
	// carry (see the package documentation). Empty: such requests are
	// refused.
	Token string
	// Interval is how often the view is made anew (when something
	// changed) and the Source's status is polled: how live the page is.
	// Default 500 ms.
	Interval time.Duration
	// Buffer is how many events the Dashboard's subscription holds before
	// it loses some (and says how many): it takes them in every tenth of
	// an Interval. Default 1<<14, enough for 300,000 events a second at
	// the default Interval.
	Buffer int
}

// A Dashboard shows one run to any number of viewers. Make it with New,
// call Run to follow the run, and mount it (it is an http.Handler). It
// is safe for concurrent use.
//
// Run's goroutines own the model (mu guards it between them); the
// handlers only read the latest view, an immutable value swapped
// atomically, and wait for the next on its changed channel.
type Dashboard struct {
	cfg     Config
	page    []byte
	sub     *runner.Subscription // taken in New, closed when Run ends
	started atomic.Bool
	viewers atomic.Int32

	mu    sync.Mutex // guards model and dirty
	model *model
	dirty bool

	cur atomic.Pointer[published]
}

// published is one view, encoded, and the channel closed when the next
// one replaces it.
type published struct {
	seq     uint64
	json    []byte
	final   bool
	changed chan struct{}
}

// New returns a Dashboard for cfg, subscribed to the Source's events: make
// it before the run starts, and it sees every event. It fails with an error wrapping
// ebb.ErrInvalid when Source is missing or has no flow, or Interval or
// Buffer is negative.
func New(cfg Config) (*Dashboard, error) {
	switch {
	case cfg.Source == nil:
		return nil, fmt.Errorf("dashboard: Source is required: %w", ebb.ErrInvalid)
	case cfg.Source.Flow() == nil:
		return nil, fmt.Errorf("dashboard: the Source has no Flow: %w", ebb.ErrInvalid)
	case cfg.Interval < 0:
		return nil, fmt.Errorf("dashboard: Interval %v: must not be negative: %w", cfg.Interval, ebb.ErrInvalid)
	case cfg.Buffer < 0:
		return nil, fmt.Errorf("dashboard: Buffer %d: must not be negative: %w", cfg.Buffer, ebb.ErrInvalid)
	}
	if cfg.Interval == 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Buffer == 0 {
		cfg.Buffer = 1 << 14
	}
	page, err := buildPage()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{cfg: cfg, page: page, model: newModel(cfg.Source.Flow())}
	d.publish(time.Now(), false)
	d.sub = cfg.Source.Subscribe(cfg.Buffer)
	return d, nil
}

// Run follows the run until ctx is done: it folds the Source's events in
// as they come and, every Interval, polls its status and makes the view
// anew for the viewers. When ctx is done it takes in the events already
// published, makes a last, final view (the viewers' streams then end,
// and the page says the view is final), and returns ctx's error. Run may
// be called once; the Dashboard serves its last view after.
func (d *Dashboard) Run(ctx context.Context) error {
	if !d.started.CompareAndSwap(false, true) {
		return fmt.Errorf("dashboard: Run called twice: %w", ebb.ErrInvalid)
	}
	sub := d.sub
	defer sub.Close()
	var wg sync.WaitGroup
	wg.Go(func() { d.pump(ctx, sub) })
	tick := time.NewTicker(d.cfg.Interval)
	defer tick.Stop()
	d.poll(time.Now())
	for {
		select {
		case <-tick.C:
			d.poll(time.Now())
			continue
		case <-ctx.Done():
		}
		break
	}
	wg.Wait()
	// What was published before ctx was done is still to be told.
	d.drain(sub)
	d.poll(time.Now())
	d.publish(time.Now(), true)
	return ctx.Err()
}

// pump folds events in until ctx is done, taking whatever is buffered
// under one lock, and then waiting a tenth of Interval before it looks
// again: a busy run wakes the Dashboard ten times an Interval, not once
// an event, and the subscription's Buffer holds what comes meanwhile.
func (d *Dashboard) pump(ctx context.Context, sub *runner.Subscription) {
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			return
		}
		d.mu.Lock()
		d.model.fold(ev)
		for sub.Pending() > 0 {
			ev, err := sub.Next(ctx)
			if err != nil {
				break
			}
			d.model.fold(ev)
		}
		d.dirty = true
		d.mu.Unlock()
		pause.Reset(d.cfg.Interval / 10)
		select {
		case <-pause.C:
		case <-ctx.Done():
			return
		}
	}
}

// drain folds in the events still buffered, without waiting.
func (d *Dashboard) drain(sub *runner.Subscription) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for sub.Pending() > 0 {
		ev, err := sub.Next(context.Background())
		if errors.Is(err, ebb.ErrClosed) || err != nil {
			return
		}
		d.model.fold(ev)
	}
}

// poll takes in the Source's status and publishes a new view.
func (d *Dashboard) poll(now time.Time) {
	st := d.cfg.Source.Status() // outside the lock: it may take a while
	d.mu.Lock()
	d.model.poll(st, now)
	d.dirty = true
	d.mu.Unlock()
	d.publish(now, false)
}

// publish makes the view anew when something changed (or it is the
// final one), and hands it to the viewers.
func (d *Dashboard) publish(now time.Time, final bool) {
	d.mu.Lock()
	prev := d.cur.Load()
	if prev != nil && !d.dirty && !final {
		d.mu.Unlock()
		return
	}
	v := d.model.view(d.cfg.Source.Flow().Name, now)
	d.dirty = false
	d.mu.Unlock()
	v.Final = final
	v.Viewers = int(d.viewers.Load())
	if prev != nil {
		v.Seq = prev.seq + 1
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Every field is a plain value: this is a programmer's error.
		panic(fmt.Sprintf("dashboard: encoding the view: %v", err))
	}
	d.cur.Store(&published{seq: v.Seq, json: b, final: final, changed: make(chan struct{})})
	if prev != nil {
		close(prev.changed)
	}
}

// Viewers returns how many viewers follow the view's stream now.
func (d *Dashboard) Viewers() int { return int(d.viewers.Load()) }
