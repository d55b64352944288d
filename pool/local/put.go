package local

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Put starts an exec, or returns the one already known by id (running or
// ended) whatever cfg says. It fails with ebb.ErrInvalid for a malformed
// id or cfg, or for an exec with inputs or outputs on a pool without a
// Config.Repository; with ebb.ErrResources when cfg.Resources do not fit
// in the alloc's resources minus those of its running execs; and with
// ebb.ErrExpired once the alloc's end has begun.
//
// Put does not block: a command's inputs are staged and its process
// started by the exec's own goroutine, and a failure there is reported in
// its Result. The exec's context carries ctx's values but not its
// cancellation; Kill, Remove and the alloc's end stop it.
func (a *alloc) Put(ctx context.Context, id pool.ExecID, cfg pool.ExecConfig) (pool.Exec, error) {
	e, known, err := a.put(ctx, id, cfg, false)
	if err != nil {
		return nil, err
	}
	if !known {
		go e.run()
	}
	return e, nil
}

// put is Put but for starting the exec: it returns the exec made, or the
// one already known by id (known set). A call exec (see Call) is
// cancelled with ctx as well.
func (a *alloc) put(ctx context.Context, id pool.ExecID, cfg pool.ExecConfig, call bool) (e *exec, known bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if err := validExecID(id); err != nil {
		return nil, false, fmt.Errorf("local: put in alloc %s: %w", a.id, err)
	}
	// A func without files has nothing to check but its resources,
	// which are checked as newExec lists them.
	inMemory := cfg.Func != nil && len(cfg.Argv) == 0 && len(cfg.Env) == 0 && len(cfg.Inputs) == 0 && len(cfg.Outputs) == 0
	if !inMemory {
		if err := cfg.Validate(); err != nil {
			return nil, false, fmt.Errorf("local: put %s in alloc %s: %w", id, a.id, err)
		}
	}
	if (len(cfg.Inputs) > 0 || len(cfg.Outputs) > 0) && a.p.cfg.Repository == nil {
		return nil, false, fmt.Errorf("local: put %s in alloc %s: exec has inputs or outputs but pool %s has no Config.Repository: %w",
			id, a.id, a.p.cfg.ID, ebb.ErrInvalid)
	}
	// Made before the lock is taken, which it then holds for less; a
	// Put that finds its exec or fails drops it.
	e = newExec(ctx, a, id, cfg, call)
	if inMemory && !validHeld(e.held) {
		err := cfg.Resources.Validate() // names the first bad key
		return nil, false, fmt.Errorf("local: put %s in alloc %s: exec: %w", id, a.id, err)
	}
	a.mu.Lock()
	if a.state.Load() != live {
		a.mu.Unlock()
		return nil, false, a.expired()
	}
	if old, ok := a.execs[id]; ok {
		old.shared = true
		a.mu.Unlock()
		return old, true, nil
	}
	if !fitsFree(e.held, a.res, a.busy) {
		avail := a.res.Sub(a.busy)
		a.mu.Unlock()
		return nil, false, fmt.Errorf("local: put %s in alloc %s: exec needs %s, alloc has %s free: %w",
			id, a.id, cfg.Resources, avail, ebb.ErrResources)
	}
	a.execs[id] = e
	a.running++
	if len(e.held) > 0 && a.busy == nil {
		a.busy = make(ebb.Resources, len(e.held))
	}
	for _, h := range e.held {
		a.busy[h.kind] += h.n
	}
	a.hasDir = a.hasDir || e.needWork()
	a.mu.Unlock()
	return e, false, nil
}

// validHeld reports whether an exec's resources are valid, as
// Resources.Validate would: valid keys, finite quantities not below 0.
func validHeld(held []amount) bool {
	for _, h := range held {
		if ebb.ValidKey(h.kind) != nil || h.n < 0 || math.IsNaN(h.n) || math.IsInf(h.n, 0) {
			return false
		}
	}
	return true
}

// validExecID is id.Validate wrapped in ebb.ErrInvalid, with a shortcut
// for a well-formed sha256 digest.
func validExecID(id pool.ExecID) error {
	if s, ok := strings.CutPrefix(string(id), "sha256:"); ok && len(s) == 64 && isLowerHex(s) {
		return nil
	}
	if err := id.Validate(); err != nil {
		return fmt.Errorf("exec id %q: %v: %w", id, err, ebb.ErrInvalid)
	}
	return nil
}

// isLowerHex reports whether s is all lowercase hex digits. It looks
// at eight bytes at a time: for a byte c below 0x80, c+(0x7f-k) has its
// high bit set exactly when c > k, and no carry crosses into the next
// byte.
func isLowerHex(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	gt := func(x uint64, k byte) uint64 { return x + ones*uint64(0x7f-k) }
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64([]byte(s[:8]))
		digit := gt(x, '0'-1) &^ gt(x, '9')
		letter := gt(x, 'a'-1) &^ gt(x, 'f')
		if (digit|letter)&highs != highs || x&highs != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// fitsFree reports whether want fits in total − used, within
// ebb.Tolerance as Resources.Fits, without making the difference.
func fitsFree(want []amount, total, used ebb.Resources) bool {
	for _, h := range want {
		if h.n > 0 && ebb.QuantityUnits(h.n, total[h.kind]-used[h.kind], 1) == 0 {
			return false
		}
	}
	return true
}

// Exec returns the exec with the given ID, or fails with ebb.ErrNotExist.
func (a *alloc) Exec(ctx context.Context, id pool.ExecID) (pool.Exec, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state.Load() != live {
		return nil, a.expired()
	}
	e, ok := a.execs[id]
	if !ok {
		return nil, fmt.Errorf("local: alloc %s: exec %s: %w", a.id, id, ebb.ErrNotExist)
	}
	e.shared = true
	return e, nil
}

// Execs returns the alloc's execs, running and ended, ordered by ID.
func (a *alloc) Execs(ctx context.Context) ([]pool.Exec, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.state.Load() != live {
		a.mu.Unlock()
		return nil, a.expired()
	}
	all := make([]*exec, 0, len(a.execs))
	for _, e := range a.execs {
		e.shared = true
		all = append(all, e)
	}
	a.mu.Unlock()
	slices.SortFunc(all, func(x, y *exec) int { return strings.Compare(string(x.id), string(y.id)) })
	out := make([]pool.Exec, len(all))
	for i, e := range all {
		out[i] = e
	}
	return out, nil
}

// Remove forgets an exec and deletes its files; a running exec is killed
// and waited for first. It fails with ebb.ErrNotExist when there is no
// such exec (or another Remove of it is at work), with ebb.ErrExpired
// once the alloc's end has begun, and with ctx's error when ctx ends
// while waiting for a killed exec (which then stays known).
func (a *alloc) Remove(ctx context.Context, id pool.ExecID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	if a.state.Load() != live {
		a.mu.Unlock()
		return a.expired()
	}
	e, ok := a.execs[id]
	if !ok || e.removing {
		a.mu.Unlock()
		return fmt.Errorf("local: remove from alloc %s: exec %s: %w", a.id, id, ebb.ErrNotExist)
	}
	if !e.needWork() && e.ended() {
		// The common in-process exec: nothing to kill, no file.
		delete(a.execs, id)
		a.mu.Unlock()
		e.removed.Store(true)
		return nil
	}
	e.removing = true
	a.mu.Unlock()

	if !e.ended() {
		e.kill()
		select {
		case <-e.doneChan():
		case <-ctx.Done():
			a.mu.Lock()
			e.removing = false
			a.mu.Unlock()
			return fmt.Errorf("local: remove from alloc %s: exec %s: %w", a.id, id, ctx.Err())
		}
	}
	// Files go before the exec leaves the table, so that a new exec of
	// the same ID never shares its directory with the old one's removal.
	var err error
	if dir := e.logDir(); dir != "" {
		err = os.RemoveAll(dir)
	}
	if e.files != nil && e.files.work != nil {
		err = errors.Join(err, a.returnWork(e.files.work))
	}
	if err != nil {
		err = fmt.Errorf("local: remove from alloc %s: exec %s: %w", a.id, id, err)
	}
	a.mu.Lock()
	if a.execs[id] == e {
		delete(a.execs, id)
	}
	a.mu.Unlock()
	e.removed.Store(true)
	return err
}
