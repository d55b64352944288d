package bootstrap

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/pool/remote"
	"github.com/ebbflow/ebb/repository"
)

// While a bootstrap closes (closed, its server not yet stopped), a blob
// request with a token it does not know is answered 503, which a worker
// retries, and not 401, which it would take for a final refusal: the
// token may be a worker's that the resumed driver knows. An expected
// worker's requests are served as before.
func TestClosingAsksStrangersAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	store, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Command: []string{"ebb", "worker"}, Blobs: store, Grace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e, err := b.Expect("w-1", cluster.Shape{Name: "small", Resources: ebb.Resources{ebb.CPU: 1}})
	if err != nil {
		t.Fatal(err)
	}
	// timeout bounds each attempt, and the retries of transient
	// failures: long where an answer is wanted, short where the answer is
	// retried until the client gives up.
	repo := func(token string, timeout time.Duration) *remote.Repository {
		r, err := remote.NewRepository(remote.ClientConfig{URL: b.URL(), Token: token, Pin: b.Pin(),
			Timeout: timeout, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	token := remote.NewToken()
	stranger, worker := repo(token, 20*time.Second), repo(e.Token(), 20*time.Second)
	if _, err := stranger.Put(ctx, strings.NewReader("a stranger's\n")); !errors.Is(err, remote.ErrAuth) {
		t.Fatalf("a stranger's put to a bootstrap that serves = %v, want ErrAuth", err)
	}

	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	_, err = repo(token, 2*time.Second).Put(ctx, strings.NewReader("a stranger's\n"))
	if errors.Is(err, remote.ErrAuth) || !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "the driver is stopping") {
		t.Errorf("a stranger's put to a closing bootstrap = %v, want ebb.ErrUnavailable (retried) from the bootstrap's 503, not ErrAuth", err)
	}
	if _, err := worker.Put(ctx, strings.NewReader("the worker's\n")); err != nil {
		t.Errorf("the worker's put to a closing bootstrap: %v", err)
	}
	b.mu.Lock()
	b.closed = false // for Close
	b.mu.Unlock()
}
