package amqpsink

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/runner"
	"github.com/ebbflow/ebb/stealer"
)

func TestJobID(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"count", "count"},
		{"words/a.txt", "words/a_txt"},
		{"a*b#c d\te", "a_b_c_d_e"},
		{"", "_"},
		{"héllo", "héllo"},
		{strings.Repeat("x", 300), strings.Repeat("x", maxID)},
		{strings.Repeat("x", maxID-1) + "é", strings.Repeat("x", maxID-1)},
	} {
		if got := JobID(tc.name); got != tc.want {
			t.Errorf("JobID(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMessages(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 0, 0, 1, time.UTC)
	res := ebb.Resources{ebb.CPU: 1}
	base := runner.Event{Time: at, Task: "count.words", Digest: "sha256:ab", AllocID: "a1", Pool: "p1"}
	with := func(f func(*runner.Event)) runner.Event {
		ev := base
		f(&ev)
		return ev
	}
	for _, tc := range []struct {
		name string
		ev   runner.Event
		want []string // key: body, the body without timestamp, executor and seq
	}{
		{"queued", with(func(e *runner.Event) { e.Kind, e.AllocID, e.Pool = runner.EventQueued, "", "" }),
			[]string{`job.count_words.queued: {"type":"job.queued","job":"count.words","digest":"sha256:ab"}`}},
		{"started", with(func(e *runner.Event) { e.Kind, e.Try = runner.EventStarted, 1 }),
			[]string{`job.count_words.started: {"type":"job.started","job":"count.words","digest":"sha256:ab","alloc_id":"a1","pool":"p1","try":1}`}},
		{"finished", with(func(e *runner.Event) {
			e.Kind, e.ExitCode, e.Duration, e.Resources = runner.EventFinished, 0, 1500*time.Millisecond, res
		}), []string{
			`job.count_words.execution.finished: {"type":"job.execution.finished","job":"count.words","digest":"sha256:ab","alloc_id":"a1","pool":"p1","try":0,"exit_status":0,"time":1.5,"resources":{"cpu":1}}`,
			`job.count_words.finished: {"type":"job.finished","job":"count.words","digest":"sha256:ab","alloc_id":"a1","pool":"p1","try":0,"exit_status":0,"metrics":{"executor":"x","execution":1.5,"tries":0,"resources":{"cpu":1}}}`,
		}},
		{"cached", with(func(e *runner.Event) { e.Kind, e.Cached, e.AllocID, e.Pool = runner.EventFinished, true, "", "" }),
			[]string{`job.count_words.finished: {"type":"job.finished","job":"count.words","digest":"sha256:ab","cached":true}`}},
		{"retried", with(func(e *runner.Event) {
			e.Kind, e.Try, e.ExitCode, e.Error, e.Duration = runner.EventRetried, 1, 1, "boom", time.Second
		}), []string{
			`job.count_words.execution.finished: {"type":"job.execution.finished","job":"count.words","digest":"sha256:ab","alloc_id":"a1","pool":"p1","try":1,"exit_status":1,"time":1,"error":"boom"}`,
			`job.count_words.retried: {"type":"job.retried","job":"count.words","digest":"sha256:ab","alloc_id":"a1","pool":"p1","try":1,"exit_status":1,"error":"boom"}`,
		}},
		{"lost", with(func(e *runner.Event) { e.Kind, e.Error = runner.EventLost, "alloc a1 expired" }),
			[]string{`job.count_words.lost: {"type":"job.lost","job":"count.words","digest":"sha256:ab","alloc_id":"a1","pool":"p1","try":0,"error":"alloc a1 expired"}`}},
		{"timed out", with(func(e *runner.Event) { e.Kind = runner.EventTimedOut }),
			[]string{`job.count_words.timed_out: {"type":"job.timed_out","job":"count.words","digest":"sha256:ab","alloc_id":"a1","pool":"p1","try":0}`}},
		{"dropped", runner.Event{Time: at, Kind: runner.EventDropped, Dropped: 7},
			[]string{`events.dropped: {"type":"events.dropped","dropped":7}`}},
		{"stealer", runner.Event{Time: at, Kind: runner.EventStealer, Stealer: &stealer.Event{
			Kind: stealer.EventFailed, AllocID: "a2", RequestID: "r1", Reason: "no room", Err: errors.New("full")}},
			[]string{`stealer.failed: {"type":"stealer.failed","alloc_id":"a2","error":"full","request_id":"r1","reason":"no room"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := Messages(tc.ev, "x")
			var got []string
			for _, m := range ms {
				if m.Body.Executor != "x" || m.Body.Timestamp != "2026-12-05T09:00:00.000000001Z" {
					t.Errorf("%s: executor %q, timestamp %q", m.Key, m.Body.Executor, m.Body.Timestamp)
				}
				m.Body.Executor, m.Body.Timestamp = "", ""
				b, err := json.Marshal(m.Body)
				if err != nil {
					t.Fatal(err)
				}
				// The fields every body has, blanked above.
				s := strings.Replace(string(b), `,"timestamp":"","executor":"","seq":0`, "", 1)
				got = append(got, m.Key+": "+s)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Messages(%+v):\ngot  %s\nwant %s", tc.ev, strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
			}
		})
	}
}

// TestStageMessages: a StageIn event makes stage-in.started and
// .finished, stamped with the staging's own start and end, with its
// bytes, time and files; a StageOut event makes nothing, and the
// Finished after it makes execution.finished, stage-out.started and
// .finished, and finished.
func TestStageMessages(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	ins := []pool.Transfer{
		{Name: "a", Bytes: 100, Start: at.Add(time.Second), Duration: 2 * time.Second, Where: pool.WherePeer},
		{Name: "b", Bytes: 20, Start: at, Duration: time.Second, Where: pool.WhereCache},
	}
	outs := []pool.Transfer{{Name: "out", Bytes: 7, Start: at.Add(10 * time.Second), Duration: 500 * time.Millisecond, Where: pool.WhereCache}}
	base := runner.Event{Time: at.Add(time.Minute), Task: "t", AllocID: "a1", Pool: "p1", Try: 0}
	keyTime := func(ms []Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Key+"@"+m.Body.Timestamp[11:23])
		}
		return out
	}
	in := base
	in.Kind, in.Transfers = runner.EventStageIn, ins
	in.Bytes, in.Duration = pool.StagedBytes(ins)
	ms := Messages(in, "x")
	if got := fmt.Sprint(keyTime(ms)); got != "[job.t.stage-in.started@09:00:00.000 job.t.stage-in.finished@09:00:03.000]" {
		t.Errorf("stage-in: %s", got)
	}
	if len(ms) == 2 {
		b, _ := json.Marshal(ms[1].Body)
		want := `"bytes":120,"files":[{"name":"a","bytes":100,"time":2,"where":"peer"},{"name":"b","bytes":20,"time":1,"where":"cache"}]`
		if !strings.Contains(string(b), want) || *ms[1].Body.Time != 3 {
			t.Errorf("stage-in.finished: %s; want %s and time 3", b, want)
		}
	}
	out := base
	out.Kind, out.Transfers = runner.EventStageOut, outs
	if ms := Messages(out, "x"); len(ms) != 0 {
		t.Errorf("stage-out event made %v, want nothing", keyTime(ms))
	}
	fin := base
	fin.Kind, fin.StageOut = runner.EventFinished, outs
	if got := fmt.Sprint(keyTime(Messages(fin, "x"))); got != "[job.t.execution.finished@09:01:00.000 job.t.stage-out.started@09:00:10.000 job.t.stage-out.finished@09:00:10.500 job.t.finished@09:01:00.000]" {
		t.Errorf("finished: %s", got)
	}
}
