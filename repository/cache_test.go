package repository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

var (
	t0       = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	okResult = pool.Result{
		ExitCode:  0,
		Start:     t0,
		End:       t0.Add(90 * time.Second),
		Stdout:    "done\n",
		Outputs:   map[string]digest.Digest{"out/a.txt": digest.FromString("a")},
		Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1 << 30},
	}
	failedResult = pool.Result{
		ExitCode: 3,
		Error:    "exit status 3",
		Start:    t0,
		End:      t0.Add(time.Second),
		Stderr:   "no such file: \"in\"\n",
	}
)

func openCache(t testing.TB) *DirCache {
	t.Helper()
	c, err := OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cacheGet(t testing.TB, c *DirCache, key digest.Digest) pool.Result {
	t.Helper()
	r, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return r
}

// TestCacheEntryFile checks where and how DirCache keeps an entry; the
// Cache contract itself is checked by TestCacheConformance.
func TestCacheEntryFile(t *testing.T) {
	c := openCache(t)
	key := digest.FromString("task")
	if err := c.Put(context.Background(), key, okResult); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(c.path(key))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != storedMode {
		t.Errorf("entry mode = %v, want %v", got, os.FileMode(storedMode))
	}
	if got := c.path(key); !strings.HasSuffix(got, ".json") {
		t.Errorf("entry file %s, want a .json file", got)
	}
	checkNoTemps(t, c.Root())
}

func TestCacheSharesRootWithDir(t *testing.T) {
	root := t.TempDir()
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// One digest as both a blob and a key: the two do not meet.
	dg := put(t, d, []byte("both"))
	if err := c.Put(ctx, dg, okResult); err != nil {
		t.Fatal(err)
	}
	if got := get(t, d, dg); string(got) != "both" {
		t.Errorf("blob = %q after a cache Put of its digest", got)
	}
	if got := cacheGet(t, c, dg); !reflect.DeepEqual(got, okResult) {
		t.Errorf("cache entry = %+v", got)
	}
}

func TestCacheCorrupt(t *testing.T) {
	key := digest.FromString("task")
	other := digest.FromString("other task")
	valid, err := encodeEntry(key, okResult)
	if err != nil {
		t.Fatal(err)
	}
	forOther, err := encodeEntry(other, okResult)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(valid, []byte(old)) {
			t.Fatalf("entry %s does not hold %q", valid, old)
		}
		return bytes.Replace(valid, []byte(old), []byte(new), 1)
	}
	c := openCache(t)
	if err := c.Put(context.Background(), key, okResult); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		entry []byte
		want  error
		msg   string // in the error, if set
	}{
		{"empty", nil, ebb.ErrCorrupt, ""},
		{"truncated", valid[:len(valid)/2], ebb.ErrCorrupt, ""},
		{"truncated by one", valid[:len(valid)-1], ebb.ErrCorrupt, ""},
		{"trailing garbage", append(bytes.Clone(valid), "{}"...), ebb.ErrCorrupt, ""},
		{"zeros", make([]byte, 100), ebb.ErrCorrupt, ""},
		{"null", []byte("null"), ebb.ErrCorrupt, "no version"},
		{"no version", replace(`"version":1,`, ""), ebb.ErrCorrupt, "no version"},
		{"version 0", replace(`"version":1`, `"version":0`), ebb.ErrCorrupt, "version 0"},
		{"version string", replace(`"version":1`, `"version":"1"`), ebb.ErrCorrupt, "version"},
		{"future version", replace(`"version":1`, `"version":2`), ebb.ErrInvalid, "version 2"},
		{"future version, other shape", []byte(`{"version":7,"result":[1,2]}`), ebb.ErrInvalid, "version 7"},
		{"another key's entry", forOther, ebb.ErrCorrupt, other.String()},
		{"changed exit code", replace(`"exit_code":0`, `"exit_code":1`), ebb.ErrCorrupt, "digest"},
		{"changed output", replace(`"stdout":"done\n"`, `"stdout":"dune\n"`), ebb.ErrCorrupt, "digest"},
		{"no result", []byte(fmt.Sprintf(`{"version":1,"key":%q}`, key)), ebb.ErrCorrupt, "no result"},
		{"null result", []byte(fmt.Sprintf(`{"version":1,"key":%q,"result":null}`, key)), ebb.ErrCorrupt, "no result"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			overwrite(t, c.path(key), tc.entry)
			r, err := c.Get(context.Background(), key)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Get = %+v, %v; want %v", r, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), key.String()) {
				t.Errorf("error %q does not name the key or %q", err, tc.msg)
			}
		})
	}
}

// TestCacheEveryByte damages a valid entry at every byte in turn: Get
// must fail or, where the damage did not change the meaning (JSON field
// names match without regard to case), return the very result stored.
func TestCacheEveryByte(t *testing.T) {
	key := digest.FromString("task")
	valid, err := encodeEntry(key, okResult)
	if err != nil {
		t.Fatal(err)
	}
	for i := range valid {
		for _, mask := range []byte{0x01, 0x20, 0x80} {
			b := bytes.Clone(valid)
			b[i] ^= mask
			r, err := decodeEntry(key, b)
			switch {
			case err == nil && !reflect.DeepEqual(r, okResult):
				t.Fatalf("byte %d ^ %#x: decoded a wrong result %+v from %s", i, mask, r, b)
			case err != nil && !errors.Is(err, ebb.ErrCorrupt) && !errors.Is(err, ebb.ErrInvalid):
				t.Fatalf("byte %d ^ %#x: error %v is neither ErrCorrupt nor ErrInvalid", i, mask, err)
			}
		}
	}
}

func TestCacheTooLarge(t *testing.T) {
	c := openCache(t)
	key := digest.FromString("task")
	if err := c.Put(context.Background(), key, okResult); err != nil {
		t.Fatal(err)
	}
	path := c.path(key)
	overwrite(t, path, nil)
	if err := os.Truncate(path, maxEntrySize+1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), key); !errors.Is(err, ebb.ErrCorrupt) {
		t.Errorf("Get of an oversized entry: %v, want ErrCorrupt", err)
	}
}
