package remote

import (
	"testing"

	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/pool/pooltest"
)

// TestConformance runs the Pool conformance suite on a Client: over real
// loopback connections (TLS with a pinned certificate, and plain HTTP,
// batched and not) to a server of a local pool running processes and of
// a memory pool running builtins; and in process, inside synctest
// bubbles, where the lease subtests run too.
func TestConformance(t *testing.T) {
	commands := pooltest.Config{
		NoSynctest: true,
		Block:      argv("sleep", "1000"),
		Succeed:    argv("/bin/true"),
		Fail:       argv("/bin/false"),
	}
	t.Run("local/tls", func(t *testing.T) {
		cfg := commands
		cfg.New = func(t *testing.T) pool.Pool {
			p, repo := localPool(t)
			return dial(t, serveTLS(t, newServer(t, ServerConfig{Pool: p, Repository: repo})))
		}
		pooltest.Run(t, cfg)
	})
	t.Run("memory/http", func(t *testing.T) {
		cfg := commands
		cfg.New = func(t *testing.T) pool.Pool {
			return dial(t, serveHTTP(t, newServer(t, ServerConfig{Pool: memPool(t)})))
		}
		pooltest.Run(t, cfg)
	})
	t.Run("memory/http/nobatch", func(t *testing.T) {
		cfg := commands
		cfg.New = func(t *testing.T) pool.Pool {
			c := serveHTTP(t, newServer(t, ServerConfig{Pool: memPool(t)}))
			c.NoBatch = true
			return dial(t, c)
		}
		pooltest.Run(t, cfg)
	})
	t.Run("memory/in-process", func(t *testing.T) {
		cfg := commands
		cfg.NoSynctest = false
		cfg.New = func(t *testing.T) pool.Pool {
			return dialInProcess(t, newServer(t, ServerConfig{Pool: memPool(t)}))
		}
		pooltest.Run(t, cfg)
	})
}
