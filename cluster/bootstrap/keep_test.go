package bootstrap_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
)

// A bootstrap made again with the same Keep serves at the same URL with
// the same certificate, and the worker it adopts from the first one's
// record answers it, with the allocs it had: a driver resumed after a
// crash reaches the workers of the one that died, and they reach it.
func TestKeepAndAdopt(t *testing.T) {
	keep := filepath.Join(t.TempDir(), "records", "bootstrap.json")
	first, err := bootstrap.New(bootstrap.Config{Command: []string{ebbBinary, "worker"}, Keep: keep, Grace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e, err := first.Expect("w-1", small)
	if err != nil {
		t.Fatal(err)
	}
	start(t, e)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := e.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, _ := e.Announced()
	rec := cluster.WorkerRecord{ID: "w-1", Shape: small, URL: a.URL, Pin: a.Pin, Token: e.Token()}
	url, pin := first.URL(), first.Pin()
	if st, err := os.Stat(keep); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("kept file: %v, %v; want mode 0600: it holds the key", st, err)
	}
	// The driver dies: its bootstrap stops serving, the worker stays.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	again := newBootstrap(t, bootstrap.Config{Keep: keep, Adopt: []cluster.WorkerRecord{rec}})
	if again.URL() != url || again.Pin() != pin {
		t.Errorf("the bootstrap made again serves at %s (pin %s), want %s (pin %s)", again.URL(), again.Pin(), url, pin)
	}
	adopted, err := again.Adopt(rec)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := adopted.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait for the adopted worker: %v", err)
	}
	defer c2.Close()
	if _, err := c2.Capacity(ctx); err != nil {
		t.Errorf("the adopted worker's pool: %v", err)
	}
}
