package ebb

import (
	"strconv"
	"testing"
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
