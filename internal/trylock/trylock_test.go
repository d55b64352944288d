package trylock

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/ebbflow/ebb"
)

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	f, err := Lock(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path, 0o600); !errors.Is(err, ebb.ErrUnavailable) {
		t.Fatalf("second Lock = %v, want ErrUnavailable", err)
	}
	f.Close()
	g, err := Lock(path, 0o600)
	if err != nil {
		t.Fatalf("Lock after Close = %v", err)
	}
	g.Close()
}
