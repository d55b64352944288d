package ebb

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestDigesterIsUnambiguous(t *testing.T) {
	sum := func(fields ...string) string {
		d := NewDigester()
		for _, f := range fields {
			d.WriteString(f)
		}
		return d.Digest().String()
	}
	if sum("ab", "c") == sum("a", "bc") {
		t.Error(`("ab","c") and ("a","bc") digest the same`)
	}
	if sum("a") != sum("a") {
		t.Error("digest not deterministic")
	}
	d1, d2 := NewDigester(), NewDigester()
	d1.WriteStrings([]string{"a", "b"})
	d2.WriteStrings([]string{"a"})
	d2.WriteString("b")
	if d1.Digest() == d2.Digest() {
		t.Error("a list and loose strings digest the same")
	}
	if err := d1.Digest().Validate(); err != nil {
		t.Errorf("digest %s: %v", d1.Digest(), err)
	}
}

// TestDigestsAllocs guards what the digests of a big flow cost: they
// share strings a chunk of tasks long, so a flow of independent tasks
// takes a few allocations per chunk, not one per task.
func TestDigestsAllocs(t *testing.T) {
	const n = 4096
	f := &Flow{Name: "wide", Tasks: make([]Task, n)}
	for i := range f.Tasks {
		f.Tasks[i] = Task{Name: "t" + strconv.Itoa(i), Argv: []string{"true"}}
	}
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	perTask := testing.AllocsPerRun(3, func() {
		if _, err := g.Digests(nil); err != nil {
			t.Fatal(err)
		}
	}) / n
	t.Logf("%.3f allocations a task", perTask)
	if perTask > 0.1 {
		t.Errorf("%.3f allocations a task, want at most 0.1", perTask)
	}
}

// chainAndWide is a flow of n tasks: every third one reads the one before
// it, the rest read nothing, so the digests of a chunk are shared early
// at many places.
func chainAndWide(n int) *Flow {
	f := &Flow{Name: "mixed", Tasks: make([]Task, n)}
	for i := range f.Tasks {
		f.Tasks[i] = Task{Name: "t" + strconv.Itoa(i), Argv: []string{"true", strconv.Itoa(i)}, Outputs: []string{"o"}}
		if i%3 == 0 && i > 0 {
			f.Tasks[i].Inputs = []Input{{Name: "in", Task: f.Tasks[i-1].Name, Output: "o"}}
		}
	}
	return f
}

// Digests written into shared arrays are the digests computed one task
// at a time, and stay so after more digests are written; in a flow big
// enough that goroutines share out the tasks that read no other task's
// output (parallelDigests, with GOMAXPROCS above 1).
func TestDigestsShared(t *testing.T) {
	g, err := chainAndWide(3*parallelDigests + 100).Graph()
	if err != nil {
		t.Fatal(err)
	}
	got, err := g.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]digest.Digest, len(g.Flow.Tasks))
	d := NewDigester()
	for _, i := range g.Order {
		var inputs []digest.Digest
		for _, in := range g.Flow.Tasks[i].Inputs {
			j, _ := g.Index(in.Task)
			d.Reset()
			d.WriteString("output")
			d.WriteDigest(want[j])
			d.WriteString(in.Output)
			inputs = append(inputs, d.Digest())
		}
		want[i] = digest.Digest(g.Flow.Tasks[i].appendDigest(d, inputs, nil))
	}
	if _, err := g.Digests(nil); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("task %d: digest %s, want %s", i, got[i], want[i])
		}
	}
}

// A flow whose tasks read their neighbours' digests still shares arrays
// among many digests: an allocation per array, not per task.
func TestDigestsAllocsChain(t *testing.T) {
	g, err := chainAndWide(4096).Graph()
	if err != nil {
		t.Fatal(err)
	}
	perTask := testing.AllocsPerRun(3, func() {
		if _, err := g.Digests(nil); err != nil {
			t.Fatal(err)
		}
	}) / float64(len(g.Flow.Tasks))
	t.Logf("%.3f allocations a task", perTask)
	if perTask > 0.1 {
		t.Errorf("%.3f allocations a task, want at most 0.1", perTask)
	}
}

// TestDigestsBigNeedPaths: in a flow big enough for goroutines to
// share out its tasks, the error for missing paths still names the
// first task in order that reads one.
func TestDigestsBigNeedPaths(t *testing.T) {
	f := chainAndWide(3 * parallelDigests)
	for _, i := range []int{len(f.Tasks) - 2, len(f.Tasks) / 2, len(f.Tasks)/2 + 1} {
		f.Tasks[i].Inputs = append(f.Tasks[i].Inputs, Input{Name: "p", Path: "data/" + f.Tasks[i].Name})
	}
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []map[string]digest.Digest{nil, {"data/" + f.Tasks[len(f.Tasks)-2].Name: digest.FromString("x")}} {
		var want string // the first missing in order
		for _, i := range g.Order {
			for _, in := range f.Tasks[i].Inputs {
				if _, ok := p[in.Path]; in.Path != "" && !ok && want == "" {
					want = in.Path
				}
			}
		}
		if _, err := g.Digests(p); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), strconv.Quote(want)) {
			t.Errorf("Digests with paths %v: %v, want an error for %q", p, err, want)
		}
	}
}
