package repository

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// A cache entry is a small JSON envelope:
//
//	{"version":1,"key":"sha256:…","result_digest":"sha256:…","result":{…}}
//
// The version says how to read the rest. The key, the task digest the entry
// is for, makes an entry that landed at the wrong name unreadable rather
// than another task's result. The result digest is the sha256 of the
// result's JSON text exactly as it appears in the file, so that damage
// inside a value that still parses (a flipped digit in an exit code) is
// caught too. Within a version only fields may be added, which readers of
// that version ignore; any other change takes a new version.

// entryVersion is the version this package writes and the newest it reads.
const entryVersion = 1

// maxEntrySize bounds what Get reads: a result holds only bounded tails of
// its exec's output, so a bigger entry is damaged, not large.
const maxEntrySize = 16 << 20

type entry struct {
	Version      int             `json:"version"`
	Key          digest.Digest   `json:"key"`
	ResultDigest digest.Digest   `json:"result_digest"`
	Result       json.RawMessage `json:"result"`
}

// encodeEntry returns the entry for result r of task key. It fails with
// ebb.ErrInvalid, naming the field, if r could not be read back as it is.
func encodeEntry(key digest.Digest, r pool.Result) ([]byte, error) {
	if err := ValidateResult(r); err != nil {
		return nil, err
	}
	res, err := json.Marshal(r)
	if err != nil {
		// A time outside years 0-9999, which JSON cannot hold.
		return nil, fmt.Errorf("result: %v: %w", err, ebb.ErrInvalid)
	}
	return json.Marshal(entry{
		Version:      entryVersion,
		Key:          key,
		ResultDigest: digest.FromBytes(res),
		Result:       res,
	})
}

// decodeEntry reads the entry b, expected to hold the result of task key.
// It fails with ebb.ErrCorrupt if b is not a whole, well-formed entry for
// key, and with ebb.ErrInvalid if b is a well-formed envelope of a version
// newer than this package reads.
func decodeEntry(key digest.Digest, b []byte) (pool.Result, error) {
	// Read the version alone first: a newer version may change
	// everything else.
	var v struct {
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return pool.Result{}, fmt.Errorf("%v: %w", err, ebb.ErrCorrupt)
	}
	if v.Version == nil {
		return pool.Result{}, fmt.Errorf("no version: %w", ebb.ErrCorrupt)
	}
	var version int
	if err := json.Unmarshal(v.Version, &version); err != nil {
		return pool.Result{}, fmt.Errorf("version %.40q: %w", v.Version, ebb.ErrCorrupt)
	}
	switch {
	case version > entryVersion:
		return pool.Result{}, fmt.Errorf("version %d is newer than this program reads (%d): %w",
			version, entryVersion, ebb.ErrInvalid)
	case version < 1:
		return pool.Result{}, fmt.Errorf("version %d: %w", version, ebb.ErrCorrupt)
	}
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		return pool.Result{}, fmt.Errorf("%v: %w", err, ebb.ErrCorrupt)
	}
	if e.Key != key {
		return pool.Result{}, fmt.Errorf("entry is for key %.80q: %w", e.Key, ebb.ErrCorrupt)
	}
	if len(e.Result) == 0 || bytes.Equal(e.Result, []byte("null")) {
		return pool.Result{}, fmt.Errorf("no result: %w", ebb.ErrCorrupt)
	}
	if got := digest.FromBytes(e.Result); got != e.ResultDigest {
		return pool.Result{}, fmt.Errorf("result has digest %s, entry says %.80q: %w",
			got, e.ResultDigest, ebb.ErrCorrupt)
	}
	var r pool.Result
	if err := json.Unmarshal(e.Result, &r); err != nil {
		return pool.Result{}, fmt.Errorf("result: %v: %w", err, ebb.ErrCorrupt)
	}
	if err := checkResult(r); err != nil {
		return pool.Result{}, fmt.Errorf("result: %w: %w", err, ebb.ErrCorrupt)
	}
	return r, nil
}

// ValidateResult returns an error wrapping ebb.ErrInvalid, naming the
// field, unless r is a result that a cache can store and give back as it
// is, and that a reader can trust: every output named by a relative path
// inside the work directory and with a sha256 digest, valid resources, and
// Start and End within years 0-9999 (JSON holds no others). Every [Cache]
// refuses in Put what it refuses.
func ValidateResult(r pool.Result) error {
	if err := checkResult(r); err != nil {
		return fmt.Errorf("result: %w: %w", err, ebb.ErrInvalid)
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"start", r.Start}, {"end", r.End}} {
		if y := t.t.Year(); y < 0 || y > 9999 {
			return fmt.Errorf("result: %s time %s: year %d is outside 0-9999: %w", t.name, t.t, y, ebb.ErrInvalid)
		}
	}
	return nil
}

// checkResult returns an error naming the first field of r that a reader
// must not trust: an output without a valid name or digest, or invalid
// resources. The error wraps no kind; the caller says which it is.
func checkResult(r pool.Result) error {
	for _, name := range slices.Sorted(maps.Keys(r.Outputs)) {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("output %q: want a relative path inside the work directory", name)
		}
		if d := r.Outputs[name]; checkDigest("digest", d) != nil {
			return fmt.Errorf("output %q: digest %.80q is not a sha256 digest", name, d)
		}
	}
	if err := r.Resources.Validate(); err != nil {
		return fmt.Errorf("resources: %v", err)
	}
	return nil
}
