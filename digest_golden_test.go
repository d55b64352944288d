package ebb

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// goldenFlow is a flow whose task digests are pinned in
// TestDigestsUnchanged: argv, env out of order, a field longer than the
// Digester's buffer, path, blob and task inputs, and a func task.
func goldenFlow() (*Flow, map[string]digest.Digest) {
	long := strings.Repeat("x", 10000)
	return &Flow{Name: "golden", Tasks: []Task{
			{Name: "a", Argv: []string{"sh", "-c", long}, Env: []string{"B=2", "A=1"}, Outputs: []string{"o1", "o2"},
				Inputs: []Input{{Name: "z", Path: "in.txt"}, {Name: "y", Digest: digest.Digest("sha256:" + strings.Repeat("cd", 32))}}},
			{Name: "b", Argv: []string{"cat"}, Inputs: []Input{{Name: "i", Task: "a", Output: "o2"}}, Outputs: []string{"p"}},
			{Name: "c", Func: func(context.Context, FuncEnv) error { return nil }, FuncKey: "k", After: []string{"b"}},
		}}, map[string]digest.Digest{
			"in.txt": digest.Digest("sha256:" + strings.Repeat("ab", 32)),
		}
}

// TestDigestsUnchanged pins task digests as earlier versions of ebb
// computed them: a changed digest would miss every cache entry and every
// resumed run's execs.
func TestDigestsUnchanged(t *testing.T) {
	f, paths := goldenFlow()
	g, err := f.Graph()
	if err != nil {
		t.Fatal(err)
	}
	got, err := g.Digests(paths)
	if err != nil {
		t.Fatal(err)
	}
	want := []digest.Digest{
		"sha256:d0fb160d634115c578682bf04b8901fc349731662423e2ee9d93ee7a4d6f3dbb",
		"sha256:a0d7db6f6e4541a3765faa0b8fb5d4210383eecf55c0a7f1870b47cb102a317e",
		"sha256:bcaad1b574656b6884241917da43e564a1a05aad96abfcd80c2fc3153c57e175",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("task %s: digest %s, want %s", f.Tasks[i].Name, got[i], want[i])
		}
	}
}

// TestDigesterReset checks that a reset Digester digests as a new one,
// and that a field longer than its buffer digests as the plain hash of
// its length-prefixed bytes.
func TestDigesterReset(t *testing.T) {
	long := strings.Repeat("0123456789", 1000)
	d := NewDigester()
	d.WriteString("junk")
	d.Reset()
	d.WriteString(long)
	fresh := NewDigester()
	fresh.WriteString(long)
	if d.Digest() != fresh.Digest() {
		t.Error("a reset Digester digests differently from a new one")
	}
	want := digest.SHA256.FromBytes(append(binary.AppendUvarint(nil, uint64(len(long))), long...))
	if got := fresh.Digest(); got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
}
