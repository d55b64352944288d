package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

func validState() *State {
	return &State{
		Version: StateVersion, ID: digest.FromString("run"), Program: "align",
		Params: map[string]string{"genome": "hg38"}, Phase: PhaseEval,
		Primary:  &AllocRef{Pool: "local", ID: "a1", Since: time.Unix(1e9, 0).UTC()},
		Aux:      []AllocRef{{Pool: "local", ID: "a2"}},
		NumTries: 1, Created: time.Unix(1e9, 0).UTC(),
		TotalResources: ebb.Resources{ebb.CPU: 12.5},
	}
}

func TestFileStoreRoundTrip(t *testing.T) {
	store := FileStore{Path: filepath.Join(t.TempDir(), "state.json")}
	if _, err := store.Load(t.Context()); !errors.Is(err, ebb.ErrNotExist) {
		t.Errorf("Load of nothing = %v, want ErrNotExist", err)
	}
	want := validState()
	if err := store.Save(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := want.Marshal()
	b, _ := got.Marshal()
	if !bytes.Equal(a, b) {
		t.Errorf("round trip:\n%s\nwant\n%s", b, a)
	}
}

func TestFileStoreRefusesAndKeepsBadFiles(t *testing.T) {
	good, _ := validState().Marshal()
	newer := bytes.Replace(good, []byte(`"version": 1`), []byte(`"version": 99`), 1)
	for _, tc := range []struct {
		name    string
		content []byte
		kind    error
		says    string
	}{
		{"truncated", good[:len(good)/2], ebb.ErrCorrupt, "state"},
		{"garbage", []byte("\x00\x01not json"), ebb.ErrCorrupt, "state"},
		{"newer version", newer, ebb.ErrInvalid, "version 99 is newer"},
		{"bad phase", bytes.Replace(good, []byte(`"eval"`), []byte(`"dancing"`), 1), ebb.ErrInvalid, `phase "dancing"`},
		{"negative resources", bytes.Replace(good, []byte(`12.5`), []byte(`-1`), 1), ebb.ErrInvalid, "cpu"},
		{"no id", bytes.Replace(good, []byte(digest.FromString("run")), []byte(""), 1), ebb.ErrInvalid, "id"},
	} {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, tc.content, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := FileStore{Path: path}.Load(t.Context())
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: Load = %v, want %v saying %q", tc.name, err, tc.kind, tc.says)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, tc.content) {
			t.Errorf("%s: the file was changed", tc.name)
		}
	}
}

func FuzzUnmarshalState(f *testing.F) {
	good, _ := validState().Marshal()
	f.Add(good)
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"id":"sha256:` + strings.Repeat("a", 64) + `","phase":"done"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalState(b)
		if err != nil {
			if !errors.Is(err, ebb.ErrCorrupt) && !errors.Is(err, ebb.ErrInvalid) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrInvalid", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted a state that does not validate: %v", err)
		}
		// What was accepted encodes and decodes to the same.
		again, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := UnmarshalState(again)
		if err != nil {
			t.Fatalf("re-encoded state refused: %v", err)
		}
		a, _ := json.Marshal(s)
		b2, _ := json.Marshal(s2)
		if !bytes.Equal(a, b2) {
			t.Fatalf("state changed across a round trip:\n%s\n%s", a, b2)
		}
	})
}
