package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// FuzzCacheEntry stores arbitrary bytes as a cache entry file and reads
// it: Get must not panic, and must return a result or an error wrapping
// ErrCorrupt or ErrInvalid. Whatever it returns, Put must accept and Get
// must then return the same again. The same bytes are then tried as the
// result inside an otherwise valid envelope, whose digest they match, so
// that the fuzzer reaches past the digest check into the result.
func FuzzCacheEntry(f *testing.F) {
	key := digest.FromString("task")
	for _, r := range []any{okResult, failedResult} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(fmt.Sprintf(`{"version":1,"key":%q,"result_digest":%q,"result":%s}`,
			key, digest.FromBytes(b), b)))
	}
	valid, err := encodeEntry(key, okResult)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1e400}`))
	f.Add([]byte(`{"version":1,"key":"sha256:","result":{}}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})

	c, err := OpenCache(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	check := func(t *testing.T, b []byte) { checkEntry(t, c, key, b) }
	f.Add([]byte(`{"exit_code":1,"outputs":{"../x":"sha256:"}}`))
	f.Add([]byte(`{"start":"0000-01-01T00:00:00Z","resources":{"cpu":-1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, b)
		check(t, fmt.Appendf(nil, `{"version":1,"key":%q,"result_digest":%q,"result":%s}`,
			key, digest.FromBytes(b), b))
	})
}

// checkEntry is FuzzCacheEntry's check of one entry file, b.
func checkEntry(t *testing.T, c *DirCache, key digest.Digest, b []byte) {
	t.Helper()
	ctx := context.Background()
	path := c.path(key)
	os.Remove(path)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(ctx, key)
	if err != nil {
		if !errors.Is(err, ebb.ErrCorrupt) && !errors.Is(err, ebb.ErrInvalid) {
			t.Fatalf("Get: error %v wraps neither ErrCorrupt nor ErrInvalid", err)
		}
		return
	}
	if err := c.Put(ctx, key, r); err != nil {
		t.Fatalf("Put of a result Get returned: %v\nresult %+v\nentry %q", err, r, b)
	}
	again, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get after Put: %v", err)
	}
	// Compare as JSON: a decoded time has a fixed zone that
	// DeepEqual tells from an equal one.
	j1, _ := json.Marshal(r)
	j2, _ := json.Marshal(again)
	if string(j1) != string(j2) {
		t.Fatalf("round trip changed the result:\n got %s\nwant %s", j2, j1)
	}
}
