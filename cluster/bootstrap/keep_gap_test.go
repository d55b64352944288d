package bootstrap_test

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/ebbflow/ebb/repository"
)

// A worker's output put that its driver's death cut off mid-upload
// waits, with the worker's RetryFor, through minutes without a driver
// (far longer than the client's Timeout, the window it once gave up
// in), and succeeds at the resumed driver: a bootstrap made with the
// same Keep, which knows the worker's token before it serves. The blob
// is stored once, by the resumed driver; the cut upload stored nothing.
//
// The client runs in a synctest bubble, so the minutes take no time; the
// bootstraps serve from outside it (a listener's Accept inside would
// keep its clock from moving), made and closed by a goroutine the bubble
// tells when.
func TestPutWaitsForTheResumedDriver(t *testing.T) {
	dir, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(t.TempDir(), "bootstrap.json")
	firstRepo, againRepo := &countingRepo{Repository: dir}, &countingRepo{Repository: dir}
	first := newBootstrap(t, bootstrap.Config{Blobs: firstRepo, Keep: keep, Grace: 100 * time.Millisecond})
	e, err := first.Expect("w-1", small)
	if err != nil {
		t.Fatal(err)
	}
	rec := cluster.WorkerRecord{ID: "w-1", Shape: small, URL: "https://127.0.0.1:1", Token: e.Token()}

	// The driver's life, outside the bubble: killc kills the first
	// bootstrap (Close, which gives the cut upload Grace), upc makes the
	// resumed one.
	killc, killed := make(chan struct{}), make(chan struct{})
	upc, up := make(chan struct{}), make(chan struct{})
	stop, done := make(chan struct{}), make(chan struct{})
	var again *bootstrap.Bootstrap
	go func() {
		defer close(done)
		for _, step := range []struct {
			c  <-chan struct{}
			do func()
			ok chan struct{}
		}{
			{killc, func() { first.Close() }, killed},
			{upc, func() {
				var err error
				again, err = bootstrap.New(bootstrap.Config{Command: []string{ebbBinary, "worker"}, Blobs: againRepo, Keep: keep, Adopt: []cluster.WorkerRecord{rec}})
				if err != nil {
					t.Errorf("the resumed driver's bootstrap: %v", err)
				}
			}, up},
		} {
			select {
			case <-step.c:
			case <-stop:
				return
			}
			step.do()
			close(step.ok)
		}
	}()
	defer func() {
		close(stop)
		<-done
		if again != nil {
			again.Close()
		}
	}()

	const content = "the task's output, put across the driver's death\n"
	want := digest.FromString(content)
	synctest.Test(t, func(t *testing.T) {
		repo, err := remote.NewRepository(remote.ClientConfig{URL: first.URL(), Token: e.Token(), Pin: first.Pin(), Timeout: time.Second, RetryFor: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		body := &stuckBody{b: []byte(content), reached: make(chan struct{}), release: make(chan struct{})}
		type result struct {
			d   digest.Digest
			err error
		}
		resc := make(chan result, 1)
		start := time.Now()
		go func() {
			d, err := repo.Put(t.Context(), body)
			resc <- result{d, err}
		}()
		<-body.reached // half the output is sent
		close(killc)
		<-killed
		close(body.release)

		const gap = 3 * time.Minute
		time.Sleep(gap)
		select {
		case r := <-resc:
			t.Fatalf("the put ended while the driver was dead: %s, %v", r.d, r.err)
		default:
		}
		close(upc)
		<-up // the clock stands still until the resumed driver serves
		if again == nil {
			t.FailNow()
		}
		if again.URL() != first.URL() || again.Pin() != first.Pin() {
			t.Fatalf("the resumed driver serves at %s (pin %s), not where the first did (%s, %s)", again.URL(), again.Pin(), first.URL(), first.Pin())
		}
		r := <-resc
		if r.err != nil || r.d != want {
			t.Fatalf("the put across the death = %s, %v; want %s", r.d, r.err, want)
		}
		if took := time.Since(start); took > gap+remote.DefaultRetryMax {
			t.Errorf("the put took %v: not within %v of the driver's return", took, remote.DefaultRetryMax)
		}
	})
	if n := firstRepo.count(want); n != 0 {
		t.Errorf("the first driver stored the cut upload %d times, want 0", n)
	}
	if n := againRepo.count(want); n != 1 {
		t.Errorf("the resumed driver stored the output %d times, want once", n)
	}
	if got := readBlob(context.Background(), t, dir, want); got != content {
		t.Errorf("the blob in the driver's repository = %q", got)
	}
}

// stuckBody is a file's content that, read the first time, stops half
// way (closing reached) until release is closed.
type stuckBody struct {
	b                []byte
	reached, release chan struct{}
	mu               sync.Mutex
	pos              int
	stuckBefore      bool
}

func (s *stuckBody) Read(p []byte) (int, error) {
	s.mu.Lock()
	half := len(s.b) / 2
	if !s.stuckBefore && s.pos >= half {
		s.stuckBefore = true
		s.mu.Unlock()
		close(s.reached)
		<-s.release
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	end := len(s.b)
	if !s.stuckBefore {
		end = half
	}
	if s.pos >= end {
		return 0, io.EOF
	}
	n := copy(p, s.b[s.pos:end])
	s.pos += n
	return n, nil
}

func (s *stuckBody) Seek(offset int64, whence int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch whence {
	case io.SeekStart:
		s.pos = int(offset)
	case io.SeekCurrent:
		s.pos += int(offset)
	case io.SeekEnd:
		s.pos = len(s.b) + int(offset)
	}
	return int64(s.pos), nil
}

// countingRepo counts the blobs stored through it.
type countingRepo struct {
	pool.Repository
	mu   sync.Mutex
	puts map[digest.Digest]int
}

func (r *countingRepo) Put(ctx context.Context, rd io.Reader) (digest.Digest, error) {
	d, err := r.Repository.Put(ctx, rd)
	if err == nil {
		r.mu.Lock()
		if r.puts == nil {
			r.puts = make(map[digest.Digest]int)
		}
		r.puts[d]++
		r.mu.Unlock()
	}
	return d, err
}

func (r *countingRepo) count(d digest.Digest) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.puts[d]
}
