package repository

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// The processes of TestMultiProcess each put the shared blobs and cache
// entries, in a different order, and some of their own.
const (
	helperRootEnv = "EBB_REPOSITORY_HELPER_ROOT"
	helperIDEnv   = "EBB_REPOSITORY_HELPER_ID"
	processes     = 4
	sharedBlobs   = 24
	ownBlobs      = 4
	sharedKeys    = 24
)

// sharedBlob returns shared blob i; sizes vary from empty to over a chunk.
func sharedBlob(i int) []byte { return randomBytes(uint64(1000+i), (i%4)*chunkSize/2+i) }

// ownBlob returns process p's blob i.
func ownBlob(p, i int) []byte { return []byte(fmt.Sprintf("process %d blob %d", p, i)) }

// sharedKey returns the cache key i.
func sharedKey(i int) digest.Digest { return digest.FromString(fmt.Sprintf("task %d", i)) }

// result returns the result process p stores for key i. Its outputs refer
// to shared blob i, and its stdout names the writer.
func result(p, i int) pool.Result {
	return pool.Result{
		Start:   t0,
		End:     t0.Add(1e9),
		Stdout:  fmt.Sprintf("process %d key %d", p, i),
		Outputs: map[string]digest.Digest{"out": digest.FromBytes(sharedBlob(i))},
	}
}

// TestHelperProcess is one of TestMultiProcess's processes; on its own it
// does nothing. It waits for a byte on stdin, so that all the processes
// start their work together.
func TestHelperProcess(t *testing.T) {
	root := os.Getenv(helperRootEnv)
	if root == "" {
		return
	}
	p, err := strconv.Atoi(os.Getenv(helperIDEnv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(os.Stdin, make([]byte, 1)); err != nil {
		t.Fatalf("waiting for the start: %v", err)
	}
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for j := range sharedBlobs {
		i := (j + p*sharedBlobs/processes) % sharedBlobs
		put(t, d, sharedBlob(i))
		if j < ownBlobs {
			put(t, d, ownBlob(p, j))
		}
		k := (j + p*sharedKeys/processes) % sharedKeys
		if err := c.Put(ctx, sharedKey(k), result(p, k)); err != nil {
			t.Fatal(err)
		}
		// Read back what others may be writing at the same time.
		if got := get(t, d, digest.FromBytes(sharedBlob(i))); !bytes.Equal(got, sharedBlob(i)) {
			t.Fatalf("shared blob %d differs", i)
		}
		if _, err := c.Get(ctx, sharedKey(k)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMultiProcess has several processes put overlapping blobs and cache
// entries into one directory at once, then checks that every blob and
// entry is whole and nothing temporary is left.
func TestMultiProcess(t *testing.T) {
	root := t.TempDir()
	var (
		cmds   []*exec.Cmd
		outs   []*bytes.Buffer
		starts []io.WriteCloser
	)
	for p := range processes {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperRootEnv+"="+root, helperIDEnv+"="+strconv.Itoa(p))
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		start, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs, starts = append(cmds, cmd), append(outs, out), append(starts, start)
	}
	for _, start := range starts {
		start.Write([]byte{1})
		start.Close()
	}
	for p, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", p, err, outs[p])
		}
	}
	if t.Failed() {
		return
	}

	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(root)
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[digest.Digest][]byte)
	for i := range sharedBlobs {
		want[digest.FromBytes(sharedBlob(i))] = sharedBlob(i)
	}
	for p := range processes {
		for i := range ownBlobs {
			want[digest.FromBytes(ownBlob(p, i))] = ownBlob(p, i)
		}
	}
	for dg, b := range want {
		if got := get(t, d, dg); !bytes.Equal(got, b) {
			t.Errorf("blob %s: %d bytes that differ from the %d put", dg, len(got), len(b))
		}
	}
	if got := files(t, filepath.Join(root, "blobs")); len(got) != len(want) {
		t.Errorf("%d blob files, want %d", len(got), len(want))
	}
	for i := range sharedKeys {
		r := cacheGet(t, c, sharedKey(i))
		var writer int
		if _, err := fmt.Sscanf(r.Stdout, "process %d", &writer); err != nil {
			t.Errorf("key %d: result %+v has no writer", i, r)
			continue
		}
		if want := result(writer, i); fmt.Sprint(r) != fmt.Sprint(want) {
			t.Errorf("key %d:\n got %+v\nwant %+v", i, r, want)
		}
	}
	if got := files(t, filepath.Join(root, "cache")); len(got) != sharedKeys {
		t.Errorf("%d cache files, want %d", len(got), sharedKeys)
	}
	checkNoTemps(t, root)
}
