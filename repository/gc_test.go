package repository

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// gcFixture is a repository as Walk would find it, at t0:
//
//	blob   age  size  named by
//	old     2h   100  entry old (2h)
//	shared  2h   100  entry fresh (now), which ran again
//	new      0   100  entry new (0)
//	state    2h   10  entry state (2h) with other, and Keep
//	other    2h   10  entry state
//	hist     2h    1  entry hist (30m), Pinned
//	loose    3h 1000  nothing
//
// plus an entry naming a blob that is not stored, a damaged entry and one
// of a newer version.
func gcFixture() ([]Blob, []Entry, map[digest.Digest]bool, func(Entry) bool) {
	ago := func(d time.Duration) time.Time { return t0.Add(-d) }
	blob := func(name string, age time.Duration, size int64) Blob {
		return Blob{Digest: digest.FromString(name), Size: size, ModTime: ago(age)}
	}
	entry := func(name string, age time.Duration, outputs ...string) Entry {
		r := pool.Result{Outputs: make(map[string]digest.Digest)}
		for _, o := range outputs {
			r.Outputs[o] = digest.FromString(o)
		}
		return Entry{Key: digest.FromString("entry " + name), Result: r, ModTime: ago(age)}
	}
	blobs := []Blob{
		blob("old", 2*time.Hour, 100), blob("shared", 2*time.Hour, 100), blob("new", 0, 100),
		blob("state", 2*time.Hour, 10), blob("other", 2*time.Hour, 10), blob("hist", 2*time.Hour, 1),
		blob("loose", 3*time.Hour, 1000),
	}
	entries := []Entry{
		entry("old", 2*time.Hour, "old"), entry("fresh", 0, "shared"), entry("new", 0, "new"),
		entry("state", 2*time.Hour, "state", "other"), entry("hist", 30*time.Minute, "hist"),
		entry("dangling", 0, "missing"),
		{Key: digest.FromString("entry damaged"), Err: fmt.Errorf("x: %w", ebb.ErrCorrupt), ModTime: t0},
		{Key: digest.FromString("entry newer"), Err: fmt.Errorf("x: %w", ebb.ErrInvalid), ModTime: ago(9 * time.Hour)},
	}
	keep := map[digest.Digest]bool{digest.FromString("state"): true}
	pinned := func(e Entry) bool { _, ok := e.Result.Outputs["hist"]; return ok }
	return blobs, entries, keep, pinned
}

func blobNames(bs []Blob) []string {
	var names []string
	for _, name := range []string{"old", "shared", "new", "state", "other", "hist", "loose"} {
		if slices.ContainsFunc(bs, func(b Blob) bool { return b.Digest == digest.FromString(name) }) {
			names = append(names, name)
		}
	}
	return names
}

func entryNames(es []Entry) []string {
	var names []string
	for _, name := range []string{"old", "fresh", "new", "state", "hist", "dangling", "damaged", "newer"} {
		if slices.ContainsFunc(es, func(e Entry) bool { return e.Key == digest.FromString("entry "+name) }) {
			names = append(names, name)
		}
	}
	return names
}

func TestPlan(t *testing.T) {
	blobs, entries, keep, pinned := gcFixture()
	for _, tc := range []struct {
		name           string
		p              Policy
		blobs, entries []string // removed
		kept           []string
	}{{
		name:    "zero policy: only damaged and dangling entries",
		entries: []string{"dangling", "damaged"},
	}, {
		name:    "older than 1h",
		p:       Policy{Before: t0.Add(-time.Hour), Keep: keep, Pinned: pinned},
		blobs:   []string{"old", "loose"},
		entries: []string{"old", "dangling", "damaged"},
		kept:    []string{"state", "other"},
	}, {
		name:    "older than 0s",
		p:       Policy{Before: t0.Add(time.Nanosecond), Keep: keep, Pinned: pinned},
		blobs:   []string{"old", "shared", "new", "hist", "loose"},
		entries: []string{"old", "fresh", "new", "hist", "dangling", "damaged"},
		kept:    []string{"state", "other"},
	}, {
		name:    "older than 0s, nothing kept",
		p:       Policy{Before: t0.Add(time.Nanosecond)},
		blobs:   []string{"old", "shared", "new", "state", "other", "hist", "loose"},
		entries: []string{"old", "fresh", "new", "state", "hist", "dangling", "damaged"},
	}, {
		name:    "max 250 bytes: least recently used first, state and history stay",
		p:       Policy{MaxSize: 250, Keep: keep, Pinned: pinned},
		blobs:   []string{"old", "loose"},
		entries: []string{"old", "dangling", "damaged"},
		kept:    []string{"state", "other"},
	}, {
		name:    "max 1 byte: only state and history stay",
		p:       Policy{MaxSize: 1, Keep: keep, Pinned: pinned},
		blobs:   []string{"old", "shared", "new", "loose"},
		entries: []string{"old", "fresh", "new", "dangling", "damaged"},
		kept:    []string{"state", "other"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := Plan(blobs, entries, tc.p)
			if got := blobNames(g.Blobs); !reflect.DeepEqual(got, tc.blobs) {
				t.Errorf("removed blobs %v, want %v", got, tc.blobs)
			}
			if got := entryNames(g.Entries); !reflect.DeepEqual(got, tc.entries) {
				t.Errorf("removed entries %v, want %v", got, tc.entries)
			}
			if got := blobNames(g.Kept); !reflect.DeepEqual(got, tc.kept) {
				t.Errorf("kept blobs %v, want %v", got, tc.kept)
			}
		})
	}
}

// TestCollect checks that Collect removes what it plans, and nothing in
// a dry run.
func TestCollect(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(root)
	if err != nil {
		t.Fatal(err)
	}
	keepDg, goneDg := put(t, d, []byte("kept")), put(t, d, []byte("gone"))
	keepKey, goneKey := digest.FromString("keep"), digest.FromString("gone")
	for key, dg := range map[digest.Digest]digest.Digest{keepKey: keepDg, goneKey: goneDg} {
		if err := c.Put(ctx, key, pool.Result{Outputs: map[string]digest.Digest{"out": dg}}); err != nil {
			t.Fatal(err)
		}
	}
	p := Policy{Before: time.Now().Add(time.Hour), Keep: map[digest.Digest]bool{keepDg: true}}
	for _, dry := range []bool{true, false} {
		g, err := Collect(ctx, d, c, p, dry)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Blobs) != 1 || g.Blobs[0].Digest != goneDg || len(g.Entries) != 1 || g.Entries[0].Key != goneKey || len(g.Kept) != 1 {
			t.Errorf("Collect(dry run %v) planned %+v", dry, g)
		}
		_, errBlob := os.Stat(d.path(goneDg))
		_, errEntry := os.Stat(c.path(goneKey))
		if removed := errBlob != nil && errEntry != nil; removed == dry {
			t.Errorf("Collect(dry run %v): blob stat %v, entry stat %v", dry, errBlob, errEntry)
		}
	}
	if got := get(t, d, keepDg); string(got) != "kept" {
		t.Errorf("kept blob reads %q", got)
	}
	cacheGet(t, c, keepKey)
	checkNoTemps(t, root)
}
