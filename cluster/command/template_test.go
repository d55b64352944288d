package command

import (
	"os/exec"
	"slices"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
)

func TestTemplates(t *testing.T) {
	cmds, err := parseCommands(
		[]string{"submit", "--cpus={{.CPU}}", "--mem={{.MemMiB}}M", "--comment=run={{index .Labels \"run\"}}", "{{.Worker}}", "--", "{{.WorkerSh}}"},
		nil,
		[]string{"cancel", "{{.Handle}}", "{{.ID}}"},
	)
	if err != nil {
		t.Fatal(err)
	}
	evil := "x; rm -rf / $(reboot) 'quoted'"
	shape := cluster.Shape{Name: "s", Resources: ebb.Resources{ebb.CPU: 2, ebb.Mem: 1.5 * (1 << 30)}}
	worker := []string{"ebb", "worker", "-id", "w-1", "-resources", "cpu=2,mem=1.5GiB", evil}
	d := newData("w-1", "job-42", shape, ebb.Labels{"run": evil}, worker)
	got, err := cmds.start.render(d)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{"submit", "--cpus=2", "--mem=1536M", "--comment=run=" + evil}, worker...), "--", shellWords(worker))
	if !slices.Equal(got, want) {
		t.Errorf("Start:\n got %q\nwant %q", got, want)
	}
	if got, _ := cmds.stop.render(d); !slices.Equal(got, []string{"cancel", "job-42", "w-1"}) {
		t.Errorf("Stop = %q", got)
	}

	// A shell reading WorkerSh gets the words back as they are.
	out, err := exec.Command("/bin/sh", "-c", `for w in `+shellWords(worker)+`; do printf '%s\n' "$w"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for _, l := range slices.Collect(func(yield func(string) bool) {
		start := 0
		for i, c := range string(out) {
			if c == '\n' {
				if !yield(string(out[start:i])) {
					return
				}
				start = i + 1
			}
		}
	}) {
		words = append(words, l)
	}
	if !slices.Equal(words, worker) {
		t.Errorf("sh read %q, want %q", words, worker)
	}
}
