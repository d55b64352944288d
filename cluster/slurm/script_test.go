package slurm

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ebbflow/ebb"
)

// TestJobScript runs job scripts with sh: every word reaches the program
// exactly, whatever it holds.
func TestJobScript(t *testing.T) {
	words := []string{
		"plain", "", " spaces  around ", "it's", "''", `"$HOME"`, "$(echo injected)", "`id`",
		`back\slash`, "semi;colon && true", "new\nline", "#SBATCH --mem=1", "\n#SBATCH --cpus-per-task=99",
		"*", "~", "tab\there", "ünïcode", "'; echo pwned; '",
	}
	dir := t.TempDir()
	for i := range words {
		// printf prints each word and a NUL, so the words come back
		// exactly, newlines included.
		argv := append([]string{"printf", `%s\0`}, words[i:]...)
		script, err := jobScript("w", argv)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(script, "#!/bin/sh\n") {
			t.Errorf("script starts %q, want #!/bin/sh", script[:min(len(script), 20)])
		}
		path := filepath.Join(dir, "job.sh")
		if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(path).Output()
		if err != nil {
			t.Fatalf("running the script of %q: %v\n%s", words[i:], err, script)
		}
		got := strings.Split(string(out), "\x00")
		got = got[:len(got)-1]
		if !slices.Equal(got, words[i:]) {
			t.Errorf("the script of %q passed %q\n%s", words[i:], got, script)
		}
		// sbatch reads #SBATCH directives only until the first command:
		// the script must have none.
		for line := range strings.Lines(script) {
			if strings.HasPrefix(line, "#SBATCH") {
				t.Errorf("script has a directive line %q before its command:\n%s", line, script)
			}
			if !strings.HasPrefix(line, "#") {
				break
			}
		}
	}
	if _, err := jobScript("w", []string{"a\x00b"}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("jobScript of a word with NUL: %v, want ErrInvalid", err)
	}
	if _, err := jobScript("w", nil); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("jobScript of no argv: %v, want ErrInvalid", err)
	}
}

func FuzzShellQuote(f *testing.F) {
	for _, s := range []string{"", "'", `a'b"c$d`, "\n", `\'`} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip()
		}
		path := filepath.Join(dir, "q.sh")
		if err := os.WriteFile(path, []byte("#!/bin/sh\nprintf %s "+shellQuote(s)+"\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(path).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh read %q back as %q (%v)", s, out, err)
		}
	})
}
