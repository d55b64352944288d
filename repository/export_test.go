package repository

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// For the external tests, which run the conformance suites.

// BlobPath returns the file that holds blob dg of d.
func BlobPath(d *Dir, dg digest.Digest) string { return d.path(dg) }

// CheckNoTemps fails t if a temporary file is left under root.
func CheckNoTemps(t testing.TB, root string) { checkNoTemps(t, root) }

// Overwrite replaces the read-only file at path with content b, keeping
// its mode.
func Overwrite(t testing.TB, path string, b []byte) { overwrite(t, path, b) }

// Unsynced returns how many entries of b wait for a sync.
func Unsynced(b *BatchCache) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}
