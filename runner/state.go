package runner

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

// StateVersion is the format version of the State this package writes. A
// State of a newer version is refused: this code cannot know what it says.
const StateVersion = 1

// Phase is where a run is in its life: Init → Eval → (Retry → Init …) → Done.
type Phase string

// The phases of a run.
const (
	// PhaseInit: the run gets its primary alloc (a new one, or the one it held
	// before a restart, while that is still alive) and stores its inputs.
	PhaseInit Phase = "init"
	// PhaseEval: the flow is evaluated on the primary and any auxiliary allocs.
	PhaseEval Phase = "eval"
	// PhaseRetry: the primary was lost or a restartable error happened; the run
	// waits out a backoff, then goes back to Init.
	PhaseRetry Phase = "retry"
	// PhaseDone: the run finished, with a Result or an Err.
	PhaseDone Phase = "done"
)

// State is everything needed to resume a run in another process: a Runner
// persists it after every step, and a new Runner given it continues where
// the last one stopped. It is plain data, encoded as versioned JSON.
type State struct {
	// Version is the format version (StateVersion when written here).
	Version int `json:"version"`
	// ID is the run ID: the digest of the flow's task digests and the
	// run's parameters. A State only resumes the flow it was made for.
	ID digest.Digest `json:"id"`
	// Program, Params and Args say what the user asked to run.
	Program string            `json:"program,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Args    []string          `json:"args,omitempty"`
	// Command is what the program that made the run records to resume
	// it as it was started, beyond Program, Params and Args, which make
	// the run's ID: for ebb run, its directory and the flags that shaped
	// it. It is JSON the program defines and versions; the runner keeps
	// it as it is and it does not count in the ID. States written before
	// the field have none; the field is optional, so it did not change
	// the Version.
	Command json.RawMessage `json:"command,omitempty"`

	Phase Phase `json:"phase"`

	// Primary is the primary alloc: held for the whole run.
	Primary *AllocRef `json:"primary,omitempty"`
	// Aux are the auxiliary allocs held now.
	Aux []AllocRef `json:"aux,omitempty"`

	// Allocs counts the allocs the run has taken, primary and auxiliary.
	Allocs int `json:"allocs"`

	// NumTries counts the tries of Eval; LastTry is when the last began.
	NumTries int       `json:"num_tries"`
	LastTry  time.Time `json:"last_try,omitzero"`
	// Created is when the run began, Completion when it reached Done.
	Created    time.Time `json:"created"`
	Completion time.Time `json:"completion,omitzero"`

	// Result is set when the run succeeded, Err when it failed (or, in
	// PhaseRetry, why it is retrying).
	Result *Result `json:"result,omitempty"`
	Err    string  `json:"err,omitempty"`
	// ErrKinds names the ebb error kinds (ebb.ErrInvalid and the other
	// sentinels of the root package) Err was, so that a resumed run's
	// error is still each of them by errors.Is: "invalid", "unavailable",
	// "offer_gone", "expired", "not_exist", "resources", "corrupt",
	// "closed", "timeout". States written before the field have none; their errors
	// read the same but are of no kind. The field is optional, so it did
	// not change the Version.
	ErrKinds []string `json:"err_kinds,omitempty"`

	// TotalResources is what the run held, in resource-minutes (a core
	// held for an hour is 60 cpu), integrated over every alloc it held.
	TotalResources ebb.Resources `json:"total_resources,omitempty"`
}

// AllocRef names an alloc a run holds, and what it looked like when taken.
type AllocRef struct {
	Pool    string            `json:"pool"`
	ID      string            `json:"id"`
	Inspect pool.AllocInspect `json:"inspect"`
	// Since is when the run started counting the alloc's
	// resource-minutes; it moves forward as they are added to
	// State.TotalResources.
	Since time.Time `json:"since"`
}

// Result is what a successful run produced.
type Result struct {
	// Outputs maps "task/output" to the digest of each output of the
	// flow's sinks (the tasks no other task depends on).
	Outputs map[string]digest.Digest `json:"outputs,omitempty"`
	// Tasks counts the flow's tasks: Ran were run in this run, Cached
	// were found in the cache instead, and Skipped needed neither, as
	// they only feed tasks found in the cache.
	Tasks   int `json:"tasks"`
	Ran     int `json:"ran"`
	Cached  int `json:"cached"`
	Skipped int `json:"skipped,omitempty"`
}

// Validate checks that s can be resumed by this code. The error wraps
// ebb.ErrInvalid and names the field at fault.
func (s *State) Validate() error {
	switch {
	case s.Version < 1:
		return fmt.Errorf("state: version %d: %w", s.Version, ebb.ErrInvalid)
	case s.Version > StateVersion:
		return fmt.Errorf("state: version %d is newer than this ebb understands (%d): %w", s.Version, StateVersion, ebb.ErrInvalid)
	}
	if err := s.ID.Validate(); err != nil {
		return fmt.Errorf("state: id %q: %v: %w", s.ID, err, ebb.ErrInvalid)
	}
	switch s.Phase {
	case PhaseInit, PhaseEval, PhaseRetry, PhaseDone:
	default:
		return fmt.Errorf("state: phase %q: %w", s.Phase, ebb.ErrInvalid)
	}
	if len(s.Command) > 0 && !json.Valid(s.Command) {
		return fmt.Errorf("state: command: not JSON: %w", ebb.ErrInvalid)
	}
	if s.NumTries < 0 {
		return fmt.Errorf("state: num_tries %d: %w", s.NumTries, ebb.ErrInvalid)
	}
	if s.Allocs < 0 {
		return fmt.Errorf("state: allocs %d: %w", s.Allocs, ebb.ErrInvalid)
	}
	if err := s.validateOutcome(); err != nil {
		return err
	}
	for i, a := range s.auxAndPrimary() {
		if a.ID == "" || a.Pool == "" {
			return fmt.Errorf("state: alloc %d: empty id or pool: %w", i, ebb.ErrInvalid)
		}
		if err := a.Inspect.Resources.Validate(); err != nil {
			return fmt.Errorf("state: alloc %q: resources: %w", a.ID, err)
		}
	}
	if err := s.TotalResources.Validate(); err != nil {
		return fmt.Errorf("state: total_resources: %w", err)
	}
	if err := validKinds(s.ErrKinds); err != nil {
		return err
	}
	if len(s.ErrKinds) > 0 && s.Err == "" {
		return fmt.Errorf("state: err_kinds %q without an err: %w", s.ErrKinds, ebb.ErrInvalid)
	}
	return nil
}

// validateOutcome checks Result and Err against the Phase: a Done run has
// exactly one of them, and only a Done run has a Result.
func (s *State) validateOutcome() error {
	switch {
	case s.Phase == PhaseDone && s.Result == nil && s.Err == "":
		return fmt.Errorf("state: phase %q with neither a result nor an err: %w", s.Phase, ebb.ErrInvalid)
	case s.Result != nil && s.Err != "":
		return fmt.Errorf("state: both a result and an err (%q): %w", s.Err, ebb.ErrInvalid)
	case s.Result != nil && s.Phase != PhaseDone:
		return fmt.Errorf("state: a result in phase %q: %w", s.Phase, ebb.ErrInvalid)
	case s.Result == nil:
		return nil
	}
	r := s.Result
	if r.Tasks < 0 || r.Ran < 0 || r.Cached < 0 || r.Skipped < 0 {
		return fmt.Errorf("state: result: negative count (tasks %d, ran %d, cached %d, skipped %d): %w", r.Tasks, r.Ran, r.Cached, r.Skipped, ebb.ErrInvalid)
	}
	for name, d := range r.Outputs {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("state: result: output %q: digest %q: %v: %w", name, d, err, ebb.ErrInvalid)
		}
	}
	return nil
}

func (s *State) auxAndPrimary() []*AllocRef {
	var refs []*AllocRef
	if s.Primary != nil {
		refs = append(refs, s.Primary)
	}
	for i := range s.Aux {
		refs = append(refs, &s.Aux[i])
	}
	return refs
}

// Marshal encodes s as indented JSON.
func (s *State) Marshal() ([]byte, error) {
	return json.MarshalIndent(s, "", "  ")
}

// UnmarshalState decodes and validates a State. A truncated or malformed
// encoding fails with an error wrapping ebb.ErrCorrupt; a State that
// decodes but does not validate (a newer version, a bad field) fails with
// one wrapping ebb.ErrInvalid.
func UnmarshalState(b []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state: %v: %w", err, ebb.ErrCorrupt)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}
