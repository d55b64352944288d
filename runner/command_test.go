package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ebbflow/ebb"
)

// State.Command is what the program recorded: kept as it is through the
// State's encoding and a resume, replaced when the resuming program gives
// its own, and absent from states written before it.
func TestStateCommand(t *testing.T) {
	var c counter
	flow := &ebb.Flow{Name: "one", Tasks: []ebb.Task{c.task("a", nil, nil)}}
	p := static(memPool(t, ebb.Resources{"cpu": 1}))
	first := json.RawMessage(`{"version":1,"dir":"/data/run"}`)
	r, err := New(Config{Flow: flow, Cluster: p, Command: first}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := r.State()
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := UnmarshalState(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := compact(t, loaded.Command); got != string(first) {
		t.Errorf("after a round trip, Command = %s, want %s", got, first)
	}

	r, err = New(Config{Flow: flow, Cluster: p}, loaded)
	if err != nil {
		t.Fatal(err)
	}
	if got := compact(t, r.State().Command); got != string(first) {
		t.Errorf("resumed without a Command: %s, want the state's %s", got, first)
	}
	second := json.RawMessage(`{"version":1,"dir":"/data/other"}`)
	r, err = New(Config{Flow: flow, Cluster: p, Command: second}, loaded)
	if err != nil {
		t.Fatal(err)
	}
	if got := compact(t, r.State().Command); got != string(second) {
		t.Errorf("resumed with a Command: %s, want %s", got, second)
	}

	// A state of before the field loads, with none.
	var old map[string]any
	if err := json.Unmarshal(b, &old); err != nil {
		t.Fatal(err)
	}
	delete(old, "command")
	ob, _ := json.Marshal(old)
	s2, err := UnmarshalState(ob)
	if err != nil || s2.Command != nil {
		t.Errorf("a state without command: %v, command %s", err, s2.Command)
	}

	s.Command = json.RawMessage(`{"dir":`)
	if err := s.Validate(); !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), "command") {
		t.Errorf("Validate of a command that is not JSON = %v, want ErrInvalid naming the field", err)
	}
}

func compact(t *testing.T, m json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, m); err != nil {
		t.Fatalf("%s: %v", m, err)
	}
	return b.String()
}
