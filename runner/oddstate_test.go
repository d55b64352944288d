package runner

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// oddStates are States a damaged or hand-edited file may hold. Those with
// a want are refused (ErrInvalid, saying want); the others must be
// resumable without a panic.
var oddStates = []struct {
	name   string
	mutate func(s *State)
	want   string
}{
	{"done without result or err", func(s *State) { s.Phase = PhaseDone }, "neither a result nor an err"},
	{"done with both", func(s *State) { s.Phase = PhaseDone; s.Result = &Result{}; s.Err = "boom" }, "both a result and an err"},
	{"result while eval", func(s *State) { s.Result = &Result{Tasks: 1} }, `a result in phase "eval"`},
	{"negative result count", func(s *State) { s.Phase = PhaseDone; s.Result = &Result{Ran: -1} }, "negative count"},
	{"bad output digest", func(s *State) {
		s.Phase = PhaseDone
		s.Result = &Result{Outputs: map[string]digest.Digest{"a/out": "sha256:nope"}}
	}, `output "a/out"`},
	{"negative allocs", func(s *State) { s.Allocs = -3 }, "allocs -3"},
	{"negative alloc resources", func(s *State) { s.Primary.Inspect.Resources = ebb.Resources{ebb.CPU: -1} }, `alloc "p1"`},
	{"kinds without err", func(s *State) { s.ErrKinds = []string{"invalid"} }, "without an err"},

	{"fresh", func(s *State) {}, ""},
	{"eval without primary", func(s *State) { s.Primary = nil; s.NumTries = 0 }, ""},
	{"retry without err", func(s *State) { s.Phase = PhaseRetry }, ""},
	{"retry after every try", func(s *State) { s.Phase = PhaseRetry; s.NumTries = 99; s.Err = "lost" }, ""},
	{"done with result and allocs", func(s *State) { s.Phase = PhaseDone; s.Result = &Result{} }, ""},
	{"failed, nothing held", func(s *State) {
		s.Phase = PhaseDone
		s.Err, s.ErrKinds = "boom", []string{"unavailable"}
		s.Primary, s.Aux = nil, nil
	}, ""},
	{"failed, held, no completion", func(s *State) { s.Phase = PhaseDone; s.Err = "boom" }, ""},
	{"init holding allocs of another pool", func(s *State) { s.Phase = PhaseInit; s.Aux[0].Pool = "elsewhere" }, ""},
	{"times in the future", func(s *State) {
		s.Created = time.Now().Add(time.Hour)
		s.Primary.Since = time.Now().Add(24 * time.Hour)
	}, ""},
}

func oddStateBase(id digest.Digest) State {
	return State{
		Version: StateVersion, ID: id, Phase: PhaseEval,
		Primary: &AllocRef{Pool: "memory", ID: "p1", Since: time.Now(),
			Inspect: pool.AllocInspect{Resources: ebb.Resources{ebb.CPU: 1}}},
		Aux:      []AllocRef{{Pool: "memory", ID: "a1"}},
		NumTries: 1, Created: time.Now(),
	}
}

// TestResumeOddStates: a State is either refused with ErrInvalid, naming
// what is wrong, or resumed to the end without a panic, the run either
// succeeding with a Result or failing with its Err, and nothing left held.
func TestResumeOddStates(t *testing.T) {
	for _, tc := range oddStates {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				resumeOdd(t, func(id digest.Digest) *State {
					s := oddStateBase(id)
					tc.mutate(&s)
					return &s
				}, tc.want)
			})
		})
	}
}

// resumeOdd checks what a Runner does with the State made by mk: refuses
// it saying want, or (want empty) resumes it to the end.
func resumeOdd(t *testing.T, mk func(id digest.Digest) *State, want string) {
	var c counter
	p := memPool(t, ebb.Resources{ebb.CPU: 2})
	flow := &ebb.Flow{Tasks: []ebb.Task{c.task("a", ebb.Resources{ebb.CPU: 1}, nil)}}
	cfg := Config{Flow: flow, Cluster: static(p), RetryMinWait: time.Second, RetryMaxWait: time.Second, Retain: time.Minute}
	fresh, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := mk(fresh.State().ID)
	// What the file would hold.
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	loaded, uerr := UnmarshalState(b)
	r, nerr := New(cfg, s)
	if want != "" {
		for what, err := range map[string]error{"UnmarshalState": uerr, "New": nerr} {
			if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s = %v, want ErrInvalid saying %q", what, err, want)
			}
		}
		return
	}
	if uerr != nil || nerr != nil {
		t.Fatalf("refused: UnmarshalState = %v, New = %v\n%s", uerr, nerr, b)
	}
	if _, err := New(cfg, loaded); err != nil {
		t.Fatalf("New of the loaded state: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	runErr := r.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("Run did not end: %v", runErr)
	}
	end := r.State()
	if end.Phase != PhaseDone || end.Primary != nil || len(end.Aux) != 0 {
		t.Errorf("ended in %s holding %v %v", end.Phase, end.Primary, end.Aux)
	}
	if (runErr == nil) != (end.Result != nil) || (runErr == nil) == (end.Err != "") {
		t.Errorf("Run = %v with result %+v and err %q", runErr, end.Result, end.Err)
	}
	if err := end.Validate(); err != nil {
		t.Errorf("the end state does not validate: %v", err)
	}
	if ids := liveAllocs(t, p); len(ids) != 0 {
		t.Errorf("allocs left: %v", ids)
	}
}

// FuzzResumeState: whatever a state file holds, loading and resuming it
// never panics; what loads, resumes to the end.
func FuzzResumeState(f *testing.F) {
	for _, tc := range oddStates {
		s := oddStateBase(digest.FromString("x"))
		tc.mutate(&s)
		b, _ := json.Marshal(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		synctest.Test(t, func(t *testing.T) {
			resumeOdd(t, func(id digest.Digest) *State {
				s, err := UnmarshalState(b)
				if err != nil {
					t.Skip(err)
				}
				s.ID = id // the flow's, so that the runner takes it
				return s
			}, "")
		})
	})
}
