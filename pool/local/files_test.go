package local

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/opencontainers/go-digest"
)

func TestInputsOutputsCommand(t *testing.T) {
	repo := newMemRepo()
	p := newPool(t, Config{Repository: repo})
	a := accept(t, p, nil)
	in := repo.add("hello\n")
	cfg := sh(`mkdir -p res && tr a-z A-Z < data/in.txt > res/out.txt && printf x > count`)
	cfg.Inputs = map[string]digest.Digest{"data/in.txt": in}
	cfg.Outputs = []string{"res/out.txt", "count"}
	r := run(t, a, "upper", cfg)
	if !r.OK() {
		t.Fatalf("Result = %+v, want success", r)
	}
	for name, want := range map[string]string{"res/out.txt": "HELLO\n", "count": "x"} {
		d, ok := r.Outputs[name]
		if !ok {
			t.Errorf("Result.Outputs lacks %q: %v", name, r.Outputs)
			continue
		}
		if d != digest.FromString(want) {
			t.Errorf("output %q: digest %s, want that of %q", name, d, want)
		}
		if got, ok := repo.get(d); !ok || got != want {
			t.Errorf("output %q in the repository = %q, %v; want %q", name, got, ok, want)
		}
	}
	if len(r.Outputs) != 2 {
		t.Errorf("Result.Outputs = %v, want 2 entries", r.Outputs)
	}
}

func TestMissingOutput(t *testing.T) {
	repo := newMemRepo()
	p := newPool(t, Config{Repository: repo})
	a := accept(t, p, nil)
	cfg := sh("printf x > here")
	cfg.Outputs = []string{"here", "not/here"}
	r := run(t, a, "missing", cfg)
	if r.OK() || !strings.Contains(r.Error, `output "not/here"`) || !strings.Contains(r.Error, "missing") || r.Outputs != nil {
		t.Errorf("Result = exit %d, error %q, outputs %v; want an error naming the missing output and no outputs", r.ExitCode, r.Error, r.Outputs)
	}
	// A failed command stores nothing.
	cfg = sh("printf x > here; exit 2")
	cfg.Outputs = []string{"here"}
	if r := run(t, a, "failed", cfg); r.ExitCode != 2 || r.Outputs != nil {
		t.Errorf("Result of a failed command = exit %d, outputs %v; want 2 and none", r.ExitCode, r.Outputs)
	}
}

func TestOutputSymlinkOutside(t *testing.T) {
	repo := newMemRepo()
	p := newPool(t, Config{Repository: repo})
	a := accept(t, p, nil)
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("secret"), 0o644)
	cfg := sh("ln -s " + secret + " out")
	cfg.Outputs = []string{"out"}
	r := run(t, a, "escape", cfg)
	if r.OK() || !strings.Contains(r.Error, `output "out"`) {
		t.Errorf("Result of an output linking outside the work directory = %+v, want an error naming it", r)
	}
	if _, ok := repo.get(digest.FromString("secret")); ok {
		t.Error("a file outside the work directory went into the repository")
	}
}

func TestMissingInput(t *testing.T) {
	repo := newMemRepo()
	p := newPool(t, Config{Repository: repo})
	a := accept(t, p, nil)
	cfg := sh("true")
	absent := digest.FromString("absent")
	cfg.Inputs = map[string]digest.Digest{"in": absent}
	r := run(t, a, "no input", cfg)
	if r.OK() || r.ExitCode != -1 || !strings.Contains(r.Error, `input "in"`) || !strings.Contains(r.Error, "does not exist") {
		t.Errorf("Result with an input missing from the repository = exit %d, error %q; want -1 and an error naming it", r.ExitCode, r.Error)
	}
}

func TestInputsOutputsFunc(t *testing.T) {
	repo := newMemRepo()
	p := newPool(t, Config{Repository: repo})
	a := accept(t, p, nil)
	in := repo.add("abc")
	r := run(t, a, "func files", pool.ExecConfig{
		Inputs:  map[string]digest.Digest{"in": in},
		Outputs: []string{"out"},
		Func: func(ctx context.Context, env ebb.FuncEnv) error {
			b, err := os.ReadFile(filepath.Join(env.Dir, "in"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(env.Dir, "out"), []byte(strings.Repeat(string(b), 2)), 0o644)
		},
	})
	if !r.OK() {
		t.Fatalf("Result = %+v, want success", r)
	}
	if got, _ := repo.get(r.Outputs["out"]); got != "abcabc" {
		t.Errorf("func output = %q, want abcabc", got)
	}
}

func TestRemoveDeletesFiles(t *testing.T) {
	forLogs(t, func(t *testing.T, keep bool) {
		ctx := context.Background()
		p := newPool(t, Config{KeepLogs: keep})
		a := accept(t, p, nil)
		e := put(t, a, "files", sh("pwd; printf x > f"))
		work := strings.TrimSpace(wait(t, e).Stdout)
		if _, err := os.Stat(filepath.Join(work, "f")); err != nil {
			t.Fatalf("exec's file before Remove: %v", err)
		}
		logs := filepath.Join(p.allocDir(a.ID()), execsName, e.ID().Encoded())
		if _, err := os.Stat(logs); (err == nil) != keep {
			t.Errorf("exec's log directory: %v, want it only with KeepLogs", err)
		}
		if err := a.Remove(ctx, e.ID()); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{work, logs} {
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s after Remove: %v, want it gone", dir, err)
			}
		}
		// The same ID runs again in a fresh directory.
		e = put(t, a, "files", sh("ls"))
		if r := wait(t, e); r.Stdout != "" {
			t.Errorf("a new exec of a removed ID found %q in its work directory, want nothing", r.Stdout)
		}
	})
}

// A work directory left as it was made goes to the next exec; one left
// changed in any way is removed, and the next exec gets a new one.
func TestWorkDirReused(t *testing.T) {
	ctx := context.Background()
	p := newPool(t, Config{})
	a := accept(t, p, nil)
	// pwd runs a command that prints its directory, lets change change the
	// directory, and removes the exec.
	pwd := func(name, script string, change func(dir string)) string {
		t.Helper()
		e := put(t, a, name, sh("pwd; "+script))
		r := wait(t, e)
		if !r.OK() {
			t.Fatalf("%s: Result = %+v, want success", name, r)
		}
		dir := strings.TrimSpace(r.Stdout)
		if change != nil {
			change(dir)
		}
		if err := a.Remove(ctx, e.ID()); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	first := pwd("first", "true", nil)
	if got := pwd("second", "true", nil); got != first {
		t.Errorf("exec after one that left its directory as it was runs in %s, want %s again", got, first)
	}
	for _, tc := range []struct {
		name, script string
		change       func(dir string)
	}{
		{"file", "printf x > f", nil},
		{"hidden file", "mkdir .d", nil},
		{"mode", "chmod 700 .", nil},
		{"setgid", "chmod g+s .", nil},
		{"extended attribute", "true", func(dir string) {
			if err := syscall.Setxattr(dir, "user.ebb", []byte("x"), 0); err != nil {
				t.Logf("setxattr %s: %v; the file system may have none", dir, err)
				os.Mkdir(filepath.Join(dir, "d"), 0o755) // changed all the same
			}
		}},
		{"replaced by a link", "d=$(pwd); cd /; rmdir $d; ln -s /tmp $d", nil},
	} {
		dir := pwd(tc.name, tc.script, tc.change)
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("%s: work directory after Remove: %v, want it gone", tc.name, err)
		}
		if got := pwd(tc.name+" next", "test -z \"$(ls -A)\"", nil); got == dir {
			t.Errorf("%s: the next exec ran in %s, the changed directory", tc.name, got)
		}
	}
}

// stuckRepo is a Repository whose Get blocks until its ctx is done.
type stuckRepo struct{ memRepo }

func (r *stuckRepo) Get(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestKillWhileStaging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPool(t, Config{Repository: &stuckRepo{}})
		a := accept(t, p, nil)
		for _, cfg := range []pool.ExecConfig{
			sh("true"),
			{Func: func(context.Context, ebb.FuncEnv) error { return nil }},
		} {
			cfg.Inputs = map[string]digest.Digest{"in": digest.FromString("in")}
			e, err := a.Put(ctx, cfg.Digest(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // staging is stuck in Get
			if in, _ := e.Inspect(ctx); in.State != pool.ExecRunning {
				t.Fatalf("exec staging its inputs is %s, want running", in.State)
			}
			e.Kill(ctx)
			if r := wait(t, e); !r.Killed || r.ExitCode != -1 || r.Error != "killed" {
				t.Errorf("Result of an exec killed while staging = %+v, want killed", r)
			}
		}
	})
}

// An output that is a FIFO or a device fails the exec, naming the output,
// instead of hanging it in open (a FIFO waits for a writer) or in a read
// that never ends (/dev/zero).
func TestOutputNotRegularFile(t *testing.T) {
	repo := newMemRepo()
	p := newPool(t, Config{Repository: repo})
	a := accept(t, p, nil)
	for _, tc := range []struct{ name, script string }{
		{"fifo", "mkfifo out"},
		{"link to dev/zero", "ln -s /dev/zero out"},
		{"device", "mknod out c 1 5 || ln -s /dev/zero out"},
		{"directory", "mkdir out"},
	} {
		cfg := sh(tc.script)
		cfg.Outputs = []string{"out"}
		r := run(t, a, tc.name, cfg)
		if r.OK() || !strings.Contains(r.Error, `output "out"`) || !strings.Contains(r.Error, "not a regular file") {
			t.Errorf("%s: Result = %+v, want an error naming the output, not a regular file", tc.name, r)
		}
	}
}
