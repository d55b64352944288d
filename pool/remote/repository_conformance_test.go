package remote

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/opencontainers/go-digest"
)

// TestRepositoryConformance runs the Store conformance suite on a
// Repository: over a loopback connection to a server whose blobs are a
// directory store, damaged on disk for the Corrupt subtests.
func TestRepositoryConformance(t *testing.T) {
	roots := map[repository.Store]string{}
	repositorytest.RunStore(t, repositorytest.StoreConfig{
		New: func(t *testing.T) repository.Store {
			dir, err := repository.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			r := dial(t, serveHTTP(t, newServer(t, ServerConfig{Pool: memPool(t), Repository: dir}))).Repository()
			roots[r] = dir.Root()
			return r
		},
		Damage: func(t *testing.T, s repository.Store, d digest.Digest, content []byte) {
			// The layout repository.Dir documents.
			path := filepath.Join(roots[s], "blobs", "sha256", d.Encoded()[:2], d.Encoded())
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, content, 0o444); err != nil {
				t.Fatal(err)
			}
		},
	})
}
