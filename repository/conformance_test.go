package repository_test

import (
	"testing"

	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/opencontainers/go-digest"
)

// TestStoreConformance runs the Store conformance suite on Dir, damaging
// a blob by rewriting its file, and checks after every subtest that no
// temporary file was left behind, failed calls included.
func TestStoreConformance(t *testing.T) {
	repositorytest.RunStore(t, repositorytest.StoreConfig{
		New: func(t *testing.T) repository.Store {
			d, err := repository.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { repository.CheckNoTemps(t, d.Root()) })
			return d
		},
		Damage: func(t *testing.T, s repository.Store, d digest.Digest, content []byte) {
			repository.Overwrite(t, repository.BlobPath(s.(*repository.Dir), d), content)
		},
	})
}

// TestCacheConformance runs the Cache conformance suite on DirCache, on a
// root it shares with a Dir, as a runner's usually does.
func TestCacheConformance(t *testing.T) {
	repositorytest.RunCache(t, repositorytest.CacheConfig{
		New: func(t *testing.T) repository.Cache {
			root := t.TempDir()
			if _, err := repository.Open(root); err != nil {
				t.Fatal(err)
			}
			c, err := repository.OpenCache(root)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { repository.CheckNoTemps(t, c.Root()) })
			return c
		},
	})
}
