package runner

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
)

// A failed run's error keeps its kind through the State: the Runner that
// resumes it from a file answers the same error, by errors.Is and by text.
func TestErrKindSurvivesResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 4})
		flow := &ebb.Flow{Tasks: []ebb.Task{c.task("huge", ebb.Resources{ebb.CPU: 64}, nil)}}
		store := FileStore{Path: filepath.Join(t.TempDir(), "state.json")}
		cfg := Config{Flow: flow, Cluster: static(p), Store: store}
		r1, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		first := r1.Run(t.Context())
		if !errors.Is(first, ebb.ErrResources) {
			t.Fatalf("Run = %v, want ErrResources", first)
		}
		saved, err := store.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r2, err := New(cfg, saved)
		if err != nil {
			t.Fatal(err)
		}
		for name, got := range map[string]error{"Err": r2.Err(), "Run": r2.Run(t.Context())} {
			if !errors.Is(got, ebb.ErrResources) || got.Error() != first.Error() {
				t.Errorf("resumed %s = %v, want ErrResources reading %q", name, got, first)
			}
			if errors.Is(got, ebb.ErrInvalid) || ebb.Retryable(got) {
				t.Errorf("resumed %s = %v is of a kind it was not", name, got)
			}
		}
	})
}

func TestSavedErrKinds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		kinds []error
	}{
		{"one kind", fmt.Errorf("alloc: %w", ebb.ErrExpired), []error{ebb.ErrExpired}},
		{"two kinds", errors.Join(ebb.ErrInvalid, fmt.Errorf("x: %w", ebb.ErrNotExist)), []error{ebb.ErrInvalid, ebb.ErrNotExist}},
		{"no kind", errors.New("exit status 1"), nil},
	} {
		var s State
		s.setErr(tc.err)
		b, err := (&State{Version: StateVersion, ID: validState().ID, Phase: PhaseDone, Err: s.Err, ErrKinds: s.ErrKinds}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := UnmarshalState(b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, b)
		}
		got := loaded.savedErr()
		if got.Error() != tc.err.Error() {
			t.Errorf("%s: saved error reads %q, want %q", tc.name, got, tc.err)
		}
		for _, k := range kindNames {
			want := false
			for _, w := range tc.kinds {
				want = want || w == k.kind
			}
			if errors.Is(got, k.kind) != want {
				t.Errorf("%s: errors.Is(%v, %v) = %v, want %v", tc.name, got, k.kind, !want, want)
			}
		}
	}
}

// A State written before ErrKinds loads, and its error reads the same.
func TestOldStateWithoutErrKinds(t *testing.T) {
	old := `{"version": 1, "id": "` + string(validState().ID) + `", "phase": "done", "err": "task \"a\": exit status 1", "created": "2026-01-01T00:00:00Z"}`
	s, err := UnmarshalState([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.savedErr(); got == nil || got.Error() != `task "a": exit status 1` {
		t.Errorf("saved error = %v", got)
	}
}

func TestStateRefusesUnknownErrKind(t *testing.T) {
	s := validState()
	s.Err, s.ErrKinds = "boom", []string{"invalid", "sideways"}
	if err := s.Validate(); !errors.Is(err, ebb.ErrInvalid) || !containsAll(err.Error(), "err_kinds", `"sideways"`) {
		t.Errorf("Validate = %v, want ErrInvalid naming err_kinds and the kind", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// A run resumed in Retry that gives up keeps the kind of why it retried.
func TestGiveUpAfterResumeKeepsKind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counter
		p := memPool(t, ebb.Resources{ebb.CPU: 4})
		cfg := Config{Flow: &ebb.Flow{Tasks: []ebb.Task{c.task("a", ebb.Resources{ebb.CPU: 1}, nil)}}, Cluster: static(p), MaxTries: 2}
		fresh, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := fresh.State()
		s.Phase, s.NumTries = PhaseRetry, 2
		s.setErr(fmt.Errorf("primary alloc: %w", ebb.ErrUnavailable))
		r, err := New(cfg, &s)
		if err != nil {
			t.Fatal(err)
		}
		err = r.Run(t.Context())
		if !errors.Is(err, ebb.ErrUnavailable) || err.Error() != "gave up after 2 tries: primary alloc: unavailable" {
			t.Errorf("Run = %v, want ErrUnavailable: gave up after 2 tries: primary alloc: unavailable", err)
		}
		if got := r.State().ErrKinds; len(got) != 1 || got[0] != "unavailable" {
			t.Errorf("State.ErrKinds = %q, want [unavailable]", got)
		}
	})
}
