package bootstrap_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/ebbflow/ebb/repository"
)

// Closing a bootstrap while its worker puts blobs to it never refuses a
// put as a stranger's: the worker would take that 401 for a final answer
// and lose the task's output. Each put either succeeds, served to its
// end, or fails as the driver's absence does, in a way worth retrying.
// Workers put without pause from several connections, so that Close
// lands among requests in every stage; the trials repeat it.
func TestCloseRefusesNoBlobRequestInFlight(t *testing.T) {
	store, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const trials, workers = 5, 8
	for trial := range trials {
		b := newBootstrap(t, bootstrap.Config{Blobs: store, Grace: 10 * time.Second})
		e, err := b.Expect("w-1", small)
		if err != nil {
			t.Fatal(err)
		}
		// Once Close has returned, the puts retrying against nobody are
		// stopped: a refusal, being final, came before.
		ctx, cancel := context.WithCancel(t.Context())
		var puts atomic.Int64
		busy := make(chan struct{}) // closed once the workers have put a few blobs each
		var once sync.Once
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			repo, err := remote.NewRepository(remote.ClientConfig{URL: b.URL(), Token: e.Token(), Pin: b.Pin(), Timeout: 10 * time.Second, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer repo.Close()
			wg.Go(func() {
				for i := 0; ; i++ {
					_, err := repo.Put(ctx, strings.NewReader(fmt.Sprintf("trial %d worker %d put %d\n", trial, w, i)))
					if err != nil {
						errs[w] = err
						return
					}
					if puts.Add(1) == 4*workers {
						once.Do(func() { close(busy) })
					}
				}
			})
		}
		ended := make(chan struct{})
		go func() { wg.Wait(); close(ended) }()
		select {
		case <-busy:
		case <-ended:
			cancel()
			t.Fatalf("trial %d: the puts failed before Close: %v", trial, errors.Join(errs...))
		}
		if err := b.Close(); err != nil {
			t.Errorf("trial %d: Close: %v", trial, err)
		}
		cancel()
		<-ended
		for w, err := range errs {
			if errors.Is(err, remote.ErrAuth) {
				t.Errorf("trial %d: worker %d's put during Close was refused: %v", trial, w, err)
			}
		}
	}
}
