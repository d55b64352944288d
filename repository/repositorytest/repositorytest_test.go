package repositorytest_test

import (
	"testing"

	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/repository/repositorytest"
	"github.com/opencontainers/go-digest"
)

func TestStoreConformance(t *testing.T) {
	repositorytest.RunStore(t, repositorytest.StoreConfig{
		New: func(t *testing.T) repository.Store { return repositorytest.NewStore() },
		Damage: func(t *testing.T, s repository.Store, d digest.Digest, content []byte) {
			s.(*repositorytest.Store).Damage(d, content)
		},
	})
}

func TestCacheConformance(t *testing.T) {
	repositorytest.RunCache(t, repositorytest.CacheConfig{
		New: func(t *testing.T) repository.Cache { return repositorytest.NewCache() },
	})
}
