package procs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/tokenfile"
	"github.com/ebbflow/ebb/pool/remote"
)

// A proc is one worker process. Its fields never change after Launch
// returned it, but for what the reaper publishes by closing exitc.
type proc struct {
	id     cluster.WorkerID
	seq    int
	shape  cluster.Shape
	labels ebb.Labels
	cmd    *exec.Cmd // nil for a worker adopted from an earlier provider
	pid    int       // its process, and the process group it leads
	dir    string
	token  string
	url    string // where it serves, once up
	pin    string
	client *remote.Client // set under the provider's mutex once the worker is up

	exitc   chan struct{} // closed when the process has exited and was reaped
	waitErr error         // how it exited; read after exitc
	donec   chan struct{} // closed when reap has cleaned up after it
}

func (w *proc) exited() bool {
	select {
	case <-w.exitc:
		return true
	default:
		return false
	}
}

func (w *proc) worker() cluster.Worker {
	return cluster.Worker{ID: w.id, Shape: w.shape, Pool: w.client, Labels: w.labels.Clone()}
}

// Launch starts a worker process of the given shape and returns once it
// has printed its listening line and its pool answered a first call
// (remote.Dial). The worker gets a fresh token and a directory of its
// own under Dir. When ctx is done first, or the worker exits or fails to
// answer, the process is killed and reaped, its directory removed, and
// Launch fails: with ctx's error, or ebb.ErrUnavailable. An unknown shape
// fails with ebb.ErrInvalid, and a closed provider with ebb.ErrClosed.
func (p *Provider) Launch(ctx context.Context, shape cluster.Shape, labels ebb.Labels) (cluster.Worker, error) {
	sh, ok := p.shape(shape.Name)
	if !ok {
		return cluster.Worker{}, fmt.Errorf("procs: launch: no shape %q: %w", shape.Name, ebb.ErrInvalid)
	}
	if err := labels.Validate(); err != nil {
		return cluster.Worker{}, fmt.Errorf("procs: launch: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return cluster.Worker{}, fmt.Errorf("procs: launch %s: %w", sh.Name, err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return cluster.Worker{}, p.errClosed("launch")
	}
	p.seq++
	w := &proc{
		id:     cluster.WorkerID(fmt.Sprintf("%s-%d", p.nonce, p.seq)),
		seq:    p.seq,
		shape:  sh,
		labels: labels.Clone(),
		exitc:  make(chan struct{}),
		donec:  make(chan struct{}),
	}
	p.mu.Unlock()
	w.dir = filepath.Join(p.dir, string(w.id))

	w.token = remote.NewToken()
	// The record comes first, so that a driver that dies at any moment
	// after finds the process to stop or adopt.
	rec := w.record()
	err := p.records.Save(rec)
	var c *remote.Client
	var line string
	if err == nil {
		line, err = p.start(ctx, w)
	} else {
		err = fmt.Errorf("procs: launch %s: %w: %w", sh.Name, err, ebb.ErrUnavailable)
		close(w.exitc)
		close(w.donec)
	}
	if err == nil {
		c, err = p.connect(ctx, w, line)
	}
	if err == nil {
		if err = p.add(w, c); err != nil {
			c.Close()
		}
	}
	if err != nil {
		w.kill()
		<-w.donec
		p.records.Remove(w.id)
		if ctx.Err() != nil {
			err = fmt.Errorf("procs: launch %s: %w", sh.Name, ctx.Err())
		}
		return cluster.Worker{}, err
	}
	p.cfg.Logger.Info("procs: worker up", "worker", w.id, "shape", sh.Name, "pid", w.cmd.Process.Pid, "url", c.URL())
	return w.worker(), nil
}

// start starts w's process and its goroutines, and waits for its
// listening line.
func (p *Provider) start(ctx context.Context, w *proc) (string, error) {
	args := append(p.cfg.Command[1:len(p.cfg.Command):len(p.cfg.Command)],
		"-listen", "127.0.0.1:0",
		"-id", string(w.id),
		"-dir", w.dir,
		"-resources", w.shape.Resources.Format(),
		"-lease-timeout", p.cfg.LeaseTimeout.String(),
		"-grace", p.cfg.Grace.String(),
	)
	if p.cfg.NoTLS {
		args = append(args, "-no-tls")
	}
	if p.cfg.Repository != "" {
		args = append(args, "-repository", p.cfg.Repository)
	}
	r, pw, err := os.Pipe()
	if err != nil {
		close(w.exitc)
		close(w.donec)
		return "", fmt.Errorf("procs: launch %s: %v: %w", w.shape.Name, err, ebb.ErrUnavailable)
	}
	// The token goes in a file of the worker's own directory, which the
	// worker removes once read: a Command that runs the worker from a
	// shell without exec leaves no token in that shell's environment.
	tokenPath := filepath.Join(w.dir, "token")
	if err = os.MkdirAll(w.dir, 0o700); err == nil {
		err = tokenfile.Write(tokenPath, w.token)
	}
	if err != nil {
		os.RemoveAll(w.dir)
		r.Close()
		pw.Close()
		close(w.exitc)
		close(w.donec)
		return "", fmt.Errorf("procs: launch %s: %v: %w", w.shape.Name, err, ebb.ErrUnavailable)
	}
	w.cmd = exec.Command(p.cfg.Command[0], args...)
	w.cmd.Env = append(tokenfile.Without(p.cfg.Env), tokenfile.Env(tokenPath)...)
	w.cmd.Stdout = pw
	w.cmd.Stderr = p.cfg.Stderr
	// A group of its own: a signal to the driver's group (^C) does not
	// reach the worker, whose end the driver manages.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The goroutines are counted before the process starts, under the
	// mutex, so that Close, once it has seen closed set, waits for every
	// one that will ever run.
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		err = p.errClosed("launch")
	} else {
		p.wg.Add(2)
		p.mu.Unlock()
		if err = w.cmd.Start(); err != nil {
			p.wg.Add(-2)
			err = fmt.Errorf("procs: launch %s: starting %q: %v: %w", w.shape.Name, p.cfg.Command, err, ebb.ErrUnavailable)
		} else {
			w.pid = w.cmd.Process.Pid
			rec := w.record()
			if rerr := p.records.Save(rec); rerr != nil {
				p.cfg.Logger.Warn("procs: recording a worker's process", "worker", w.id, "err", rerr)
			}
		}
	}
	pw.Close()
	if err != nil {
		// No process: nobody else removes its directory and token.
		os.RemoveAll(w.dir)
		r.Close()
		close(w.exitc)
		close(w.donec)
		return "", err
	}
	linec := make(chan string, 1)
	go func() {
		defer p.wg.Done()
		readStdout(r, linec)
	}()
	go func() {
		defer p.wg.Done()
		p.reap(w, r)
	}()
	select {
	case line, ok := <-linec:
		if ok {
			return line, nil
		}
		<-w.donec
		return "", fmt.Errorf("procs: launch %s: worker exited (%v) before it listened: %w", w.shape.Name, w.waitErr, ebb.ErrUnavailable)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// readStdout sends the first listening line of the worker's stdout on
// linec, or closes linec at the end without one, and reads the rest to
// its end so that the worker never blocks on a full pipe.
func readStdout(r io.Reader, linec chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if _, _, ok := remote.ParseListening(sc.Text()); ok {
			linec <- sc.Text()
			io.Copy(io.Discard, r)
			return
		}
	}
	close(linec)
}

// reap waits for w's process to exit, publishes how it did (closing
// exitc, which its client's calls watch), and cleans up after it: the
// stdout pipe, its directory, its client's connections and its entry in
// the table; then it closes donec.
func (p *Provider) reap(w *proc, stdout *os.File) {
	defer close(w.donec)
	w.waitErr = w.cmd.Wait()
	close(w.exitc)
	stdout.Close()
	p.forget(w)
	p.cleanup(w)
	p.cfg.Logger.Info("procs: worker exited", "worker", w.id, "status", w.waitErr)
}

// cleanup removes an exited worker's directory and record.
func (p *Provider) cleanup(w *proc) {
	if err := os.RemoveAll(w.dir); err != nil {
		p.cfg.Logger.Warn("procs: removing a worker's directory", "worker", w.id, "err", err)
	}
	if err := p.records.Remove(w.id); err != nil {
		p.cfg.Logger.Warn("procs: removing a worker's record", "worker", w.id, "err", err)
	}
}

// connect dials the worker at its listening line.
func (p *Provider) connect(ctx context.Context, w *proc, line string) (*remote.Client, error) {
	u, pin, _ := remote.ParseListening(line)
	cfg := p.cfg.Client
	cfg.URL, cfg.Token, cfg.Pin, cfg.Gone = u, w.token, pin, w.exitc
	c, err := remote.Dial(ctx, cfg)
	switch {
	case err == nil:
		w.url, w.pin = u, pin
		if err := p.records.Save(w.record()); err != nil {
			c.Close()
			return nil, fmt.Errorf("procs: launch %s: %w: %w", w.shape.Name, err, ebb.ErrUnavailable)
		}
		return c, nil
	case errors.Is(err, ebb.ErrUnavailable) || ctx.Err() != nil:
		return nil, fmt.Errorf("procs: launch %s: %w", w.shape.Name, err)
	}
	return nil, fmt.Errorf("procs: launch %s: %w: %w", w.shape.Name, err, ebb.ErrUnavailable)
}

// add puts an up worker, with its client, in the table, unless it exited
// already or the provider was closed meanwhile.
func (p *Provider) add(w *proc, c *remote.Client) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return p.errClosed("launch")
	case w.exited():
		return fmt.Errorf("procs: launch %s: worker exited (%v) as it came up: %w", w.shape.Name, w.waitErr, ebb.ErrUnavailable)
	}
	w.client = c
	p.workers[w.id] = w
	return nil
}

// kill sends SIGKILL to the worker's process group.
func (w *proc) kill() {
	if w.pid > 0 {
		syscall.Kill(-w.pid, syscall.SIGKILL)
	}
}

// record is what a later provider needs to adopt w.
func (w *proc) record() cluster.WorkerRecord {
	h := ""
	if w.pid > 0 {
		h = strconv.Itoa(w.pid)
	}
	return cluster.WorkerRecord{ID: w.id, Shape: w.shape, Labels: w.labels, Handle: h, URL: w.url, Pin: w.pin, Token: w.token}
}
