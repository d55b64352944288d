package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/atomicfile"
)

// A StateStore keeps a run's State between the steps of a Runner, so that a
// new process can resume the run. Implementations must be safe for
// concurrent use and must make Save atomic: a Load after a crash at any
// point returns the State of the last Save that returned nil, or of the one
// being made, never a mix.
type StateStore interface {
	// Load returns the saved State, ebb.ErrNotExist when nothing was saved,
	// ebb.ErrCorrupt when what was saved cannot be decoded, and
	// ebb.ErrInvalid for a State this code cannot resume (a newer version).
	Load(ctx context.Context) (*State, error)
	// Save replaces the saved State with s.
	Save(ctx context.Context, s *State) error
}

// FileStore is a StateStore on one JSON file. Save writes a temporary file
// beside it, syncs it and renames it over Path, so the file is always
// whole. Loading a file that cannot be resumed leaves it as it is, so that
// nothing is lost while the user looks at it. The zero value is unusable:
// set Path.
type FileStore struct {
	Path string
}

var _ StateStore = FileStore{}

// Load reads and validates the state file.
func (f FileStore) Load(ctx context.Context) (*State, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("state file %s: %w", f.Path, ebb.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	s, err := UnmarshalState(b)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", f.Path, err)
	}
	return s, nil
}

// Save writes s atomically.
func (f FileStore) Save(ctx context.Context, s *State) error {
	if f.Path == "" {
		return fmt.Errorf("state file: empty path: %w", ebb.ErrInvalid)
	}
	b, err := s.Marshal()
	if err != nil {
		return fmt.Errorf("state file %s: %w", f.Path, err)
	}
	if err := atomicfile.WriteFile(f.Path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}
