package slurm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/proctest"
)

// squeue2205 is the shape of squeue --json on Slurm 22.05, cut down.
const squeue2205 = `{
  "meta": {"plugin": {"type": "openapi\/v0.0.38"}, "Slurm": {"release": "22.05.8"}},
  "errors": [],
  "jobs": [
    {"job_id": 12, "name": "ebb-1f2e3d4c-1", "user_id": 0, "job_state": "RUNNING", "state_reason": "None", "comment": "run=r1"},
    {"job_id": 13, "name": "other", "user_id": 1000, "job_state": "PENDING", "state_reason": "BeginTime", "comment": ""}
  ]
}`

// squeue2311 is the later shape: job_state is a list.
const squeue2311 = `{
  "jobs": [
    {"job_id": 14, "name": "x", "user_id": 0, "job_state": ["CANCELLED", "COMPLETING"], "state_reason": "None"}
  ],
  "errors": []
}`

func TestParseJobs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		json bool
		want []job
	}{
		{"json 22.05", squeue2205, true, []job{
			{ID: "12", Name: "ebb-1f2e3d4c-1", UserID: 0, States: []string{"RUNNING"}, Reason: "None", Comment: "run=r1"},
			{ID: "13", Name: "other", UserID: 1000, States: []string{"PENDING"}, Reason: "BeginTime"},
		}},
		{"json 23.11", squeue2311, true, []job{
			{ID: "14", Name: "x", UserID: 0, States: []string{"CANCELLED", "COMPLETING"}, Reason: "None"},
		}},
		{"json empty", `{"errors": [], "jobs": []}`, true, []job{}},
		{"text", "12|RUNNING|None|0|ebb-1f2e3d4c-1\n13|PENDING|BeginTime|1000|a|name with bars\n14_2|PENDING|None|0|array\n", false, []job{
			{ID: "12", Name: "ebb-1f2e3d4c-1", UserID: 0, States: []string{"RUNNING"}, Reason: "None"},
			{ID: "13", Name: "a|name with bars", UserID: 1000, States: []string{"PENDING"}, Reason: "BeginTime"},
		}},
		{"text empty", "", false, nil},
	} {
		var got []job
		var err error
		if tc.json {
			got, err = parseJobsJSON([]byte(tc.in))
		} else {
			got, err = parseJobsText([]byte(tc.in))
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: parse(%q) = %+v, %v; want %+v", tc.name, tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{"jobs": [{"job_id": 1, "job_state": 7}]}`, `{"errors": [{"error": "no"}], "jobs": []}`, `not json`, `{"jobs": [{"job_id": "x"}]}`} {
		if _, err := parseJobsJSON([]byte(bad)); !errors.Is(err, ebb.ErrUnavailable) {
			t.Errorf("parseJobsJSON(%q): %v, want ErrUnavailable", bad, err)
		}
	}
	if _, err := parseJobsText([]byte("12|RUNNING\n")); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("parseJobsText of a short line: %v, want ErrUnavailable", err)
	}
}

func TestJobStates(t *testing.T) {
	for _, tc := range []struct {
		states               []string
		reason               string
		pending, ended, gone bool
		never                string
	}{
		{[]string{"PENDING"}, "Resources", true, false, false, ""},
		{[]string{"PENDING"}, "BadConstraints", true, false, false, "BadConstraints"},
		{[]string{"RUNNING"}, "None", false, false, false, ""},
		{[]string{"COMPLETING"}, "None", false, true, false, ""},
		{[]string{"CANCELLED", "COMPLETING"}, "None", false, true, false, ""},
		{[]string{"CANCELLED"}, "None", false, true, true, ""},
		{[]string{"NODE_FAIL"}, "None", false, true, true, ""},
		{[]string{"TIMEOUT"}, "None", false, true, true, ""},
		{[]string{"COMPLETED"}, "None", false, true, true, ""},
	} {
		j := job{States: tc.states, Reason: tc.reason}
		if j.pending() != tc.pending || j.ended() != tc.ended || j.gone() != tc.gone || j.never() != tc.never {
			t.Errorf("%v (%s): pending %v, ended %v, gone %v, never %q; want %v, %v, %v, %q",
				tc.states, tc.reason, j.pending(), j.ended(), j.gone(), j.never(), tc.pending, tc.ended, tc.gone, tc.never)
		}
	}
}

func TestParsePartitions(t *testing.T) {
	got, err := parsePartitions([]byte("debug*|2|21695\nbig|64|512000\nbig|4+|8000\n"))
	want := []partition{
		{Name: "debug", Default: true, Nodes: []node{{2, 21695}}},
		{Name: "big", Nodes: []node{{64, 512000}, {4, 8000}}},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parsePartitions = %+v, %v; want %+v", got, err, want)
	}
	for _, tc := range []struct {
		cpus int
		mem  int64
		want bool
	}{{64, 512000, true}, {4, 8000, true}, {8, 100000, true}, {65, 1, false}, {64, 512001, false}} {
		if got := want[1].holds(tc.cpus, tc.mem); got != tc.want {
			t.Errorf("big.holds(%d, %d) = %v, want %v", tc.cpus, tc.mem, got, tc.want)
		}
	}
	if _, err := parsePartitions([]byte("debug|x|1\n")); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("parsePartitions of a bad line: %v, want ErrUnavailable", err)
	}
}

func TestRequestArgs(t *testing.T) {
	r := request{
		Name: "ebb-1-2", Comment: "a=b,c=d", Partition: "debug", CPUs: 2, MemMB: 512, GPUs: 1, TmpMB: 10,
		Time: 90 * time.Second, Dir: "/d", Output: "/d/x.log", Script: "/d/x.sh", Extra: []string{"--qos=low", "--job-name=theirs"},
	}
	want := []string{"--parsable", "--qos=low", "--job-name=theirs", "--job-name=ebb-1-2", "--comment=a=b,c=d",
		"--nodes=1", "--ntasks=1", "--no-requeue", "--export=ALL", "--chdir=/d", "--output=/d/x.log",
		"--partition=debug", "--cpus-per-task=2", "--mem=512M", "--gres=gpu:1", "--tmp=10M", "--time=2", "/d/x.sh"}
	if got := r.args(); !slices.Equal(got, want) {
		t.Errorf("args =\n%q\nwant\n%q", got, want)
	}
}

// TestCLI runs sbatch, squeue and scancel against the real daemons: a
// job is listed by ID and name, in JSON and in text, cancelled, and gone;
// scancel of a job that never was is nil; a job no node can hold is
// ErrResources; an argv word that looks like an #SBATCH directive is
// only a word.
func TestCLI(t *testing.T) {
	needSlurm(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &cli{timeout: 30 * time.Second}
	dir := t.TempDir()
	name := testPrefix + "cli"
	trick := "x\n#SBATCH --cpus-per-task=999"
	script, err := jobScript(name, []string{"/bin/sh", "-c", `printf '%s\n' "$1"; exec sleep 300`, "sh", trick})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "job.log")
	id, err := c.submit(ctx, request{Name: name, Comment: "k=v", CPUs: 1, MemMB: 64, Time: time.Minute, Dir: dir, Output: out, Script: path})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	defer c.cancel(context.Background(), id)

	find := func(text bool) (job, bool) {
		c.mu.Lock()
		c.text = text
		c.mu.Unlock()
		jobs, err := c.jobs(ctx)
		if err != nil {
			t.Fatalf("jobs (text %v): %v", text, err)
		}
		i := slices.IndexFunc(jobs, func(j job) bool { return j.ID == id })
		if i < 0 {
			return job{}, false
		}
		return jobs[i], true
	}
	var j job
	if !proctest.Eventually(30*time.Second, func() bool {
		var ok bool
		j, ok = find(false)
		return ok && j.has("RUNNING")
	}) {
		t.Fatalf("job %s is not running: %+v", id, j)
	}
	if j.Name != name || j.Comment != "k=v" || j.UserID != os.Getuid() {
		t.Errorf("squeue --json shows %+v; want name %s, comment k=v, user %d", j, name, os.Getuid())
	}
	if tj, ok := find(true); !ok || tj.Name != name || !tj.has("RUNNING") || tj.UserID != os.Getuid() {
		t.Errorf("squeue's text form shows %+v, %v; want the running job %s", tj, ok, name)
	}
	if !proctest.Eventually(30*time.Second, func() bool { b, _ := os.ReadFile(out); return string(b) == trick+"\n" }) {
		b, _ := os.ReadFile(out)
		t.Errorf("the job printed %q, want its argument %q", b, trick+"\n")
	}

	if err := c.cancel(ctx, id); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if !proctest.Eventually(30*time.Second, func() bool { j, ok := find(false); return !ok || j.gone() }) {
		t.Errorf("job %s not gone after scancel", id)
	}
	if err := c.cancel(ctx, id, "999999999"); err != nil {
		t.Errorf("cancel of jobs that ended or never were: %v, want nil", err)
	}

	_, err = c.submit(ctx, request{Name: name + "-huge", MemMB: 1 << 40, Dir: dir, Output: "/dev/null", Script: path})
	if !errors.Is(err, ebb.ErrResources) {
		t.Errorf("submit of a job no node holds: %v, want ErrResources", err)
	}
	parts, err := c.partitions(ctx)
	if err != nil || !slices.ContainsFunc(parts, func(p partition) bool { return p.Default && len(p.Nodes) > 0 }) {
		t.Errorf("partitions = %+v, %v; want a default partition with nodes", parts, err)
	}
}

func TestCLIErrors(t *testing.T) {
	ctx := context.Background()
	c := &cli{bin: "/no/such/dir", timeout: time.Second}
	if _, err := c.jobs(ctx); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("jobs with no squeue: %v, want ErrUnavailable", err)
	}
	if err := c.cancel(ctx, "1"); !errors.Is(err, ebb.ErrUnavailable) {
		t.Errorf("cancel with no scancel: %v, want ErrUnavailable", err)
	}
	// A squeue that hangs is cut off at the timeout.
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "squeue"), []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c = &cli{bin: bin, timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err := c.jobs(ctx)
	if !errors.Is(err, ebb.ErrUnavailable) || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("jobs with a hanging squeue: %v, want ErrUnavailable, no answer", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a hanging squeue took %v", d)
	}
}
