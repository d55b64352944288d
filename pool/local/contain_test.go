package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ebbflow/ebb/pool"
)

// containModes returns the modes that contain execs on this machine:
// containCgroup where a pool can make cgroups, and containSubreaper.
// TestEscapeeHoldsStdout adds containGroup, which does not.
func containModes(t *testing.T) []containMode {
	t.Helper()
	modes := []containMode{containSubreaper}
	if dir, err := makePoolCgroup("probe"); err == nil {
		syscall.Rmdir(dir)
		modes = append(modes, containCgroup)
	} else {
		t.Logf("no cgroups here (%v): only the subreaper is tested", err)
	}
	return append(modes, containGroup)
}

// sleepTags numbers the sleeps of daemons, which tests find in /proc by
// their argument.
var sleepTags atomic.Int64

// daemonSleep returns a sleep argument no other process has: "1000.<pid><n>".
func daemonSleep() string {
	return fmt.Sprintf("1000.%d%d", os.Getpid(), sleepTags.Add(1))
}

// sleepers returns the live processes whose command line is exactly
// "sleep arg", as listed in /proc; zombies have none.
func sleepers(arg string) []int {
	want := []byte("sleep\x00" + arg + "\x00")
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err == nil && bytes.HasSuffix(cmd, want) && bytes.HasPrefix(cmd, []byte("sleep")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// checkNoSleepers fails the test if a process sleeping arg is alive, and
// kills those it finds so that a failing test leaves nothing behind.
func checkNoSleepers(t *testing.T, arg string) {
	t.Helper()
	if pids := sleepers(arg); len(pids) > 0 {
		t.Errorf("processes of an ended exec left running (sleep %s): %v", arg, pids)
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// daemons are the ways a command leaves processes outside its process
// group: setsid alone (which forks when its caller leads a group), and a
// daemon's double fork.
var daemons = []struct {
	name string
	cmd  func(arg string) string
}{
	{"setsid", func(arg string) string { return "setsid -f sleep " + arg }},
	{"double fork", func(arg string) string { return "(setsid sleep " + arg + " &) &" }},
	{"double fork without setsid", func(arg string) string { return "(sleep " + arg + " &) &" }},
}

// An exec that ends on its own leaves no daemon behind.
func TestContainExecEnds(t *testing.T) {
	adoptOrphans(t)
	for _, mode := range containModes(t) {
		if mode == containGroup {
			continue
		}
		for _, d := range daemons {
			t.Run(mode.String()+"/"+d.name, func(t *testing.T) {
				p := newPool(t, Config{contain: mode})
				a := accept(t, p, nil)
				arg := daemonSleep()
				// The leader waits until the daemon sleeps before it exits.
				r := run(t, a, "daemon", sh(d.cmd(arg)+"\nuntil pgrep -fx 'sleep "+arg+"' >/dev/null; do :; done"))
				if !r.OK() {
					t.Fatalf("Result = %+v, want success", r)
				}
				checkNoSleepers(t, arg)
			})
		}
	}
}

// An exec that is killed, or ends with its alloc or its pool, leaves no
// daemon behind either.
func TestContainExecKilled(t *testing.T) {
	adoptOrphans(t)
	ends := []struct {
		name string
		end  func(t *testing.T, p *Pool, a pool.Alloc, e pool.Exec)
	}{
		{"Kill", func(t *testing.T, p *Pool, a pool.Alloc, e pool.Exec) {
			if err := e.Kill(context.Background()); err != nil {
				t.Fatal(err)
			}
			if r := wait(t, e); !r.Killed {
				t.Errorf("Result = %+v, want killed", r)
			}
		}},
		{"Free", func(t *testing.T, p *Pool, a pool.Alloc, e pool.Exec) {
			if err := a.Free(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
		{"Close", func(t *testing.T, p *Pool, a pool.Alloc, e pool.Exec) {
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, mode := range containModes(t) {
		if mode == containGroup {
			continue
		}
		for _, end := range ends {
			for _, d := range daemons {
				t.Run(mode.String()+"/"+end.name+"/"+d.name, func(t *testing.T) {
					p := newPool(t, Config{contain: mode})
					a := accept(t, p, nil)
					arg := daemonSleep()
					e := put(t, a, "daemon", sh(d.cmd(arg)+"\nuntil pgrep -fx 'sleep "+arg+"' >/dev/null; do :; done; echo $$; sleep 1000"))
					readPgid(t, e) // the daemon sleeps
					end.end(t, p, a, e)
					checkNoSleepers(t, arg)
				})
			}
		}
	}
}

// The orphans of an exec that still runs are its own: another exec's end
// leaves them alone.
func TestContainSubreaperSparesRunning(t *testing.T) {
	adoptOrphans(t)
	p := newPool(t, Config{contain: containSubreaper})
	a := accept(t, p, nil)
	arg := daemonSleep()
	e := put(t, a, "daemon", sh("(setsid sleep "+arg+" &) & until pgrep -fx 'sleep "+arg+"' >/dev/null; do :; done; echo $$; sleep 1000"))
	readPgid(t, e)
	if r := run(t, a, "other", sh("true")); !r.OK() {
		t.Fatalf("Result = %+v, want success", r)
	}
	if pids := sleepers(arg); len(pids) != 1 {
		t.Errorf("daemons of a running exec after another exec ended: %v, want one", pids)
	}
	e.Kill(context.Background())
	wait(t, e)
	checkNoSleepers(t, arg)
}

func TestParseStat(t *testing.T) {
	data := []byte("4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10\n")
	st, ok := parseStat(data)
	if want := (procStat{state: 'S', ppid: 1, pgid: 4242, sid: 4242, start: 987654}); !ok || st != want {
		t.Errorf("parseStat = %+v, %v; want %+v, true", st, ok, want)
	}
	if _, ok := parseStat([]byte("4242 (x) S 1 2")); ok {
		t.Errorf("parseStat of a short line: ok, want not")
	}
}

func TestPopulated(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"populated 1\nfrozen 0\n", true},
		{"populated 0\nfrozen 0\n", false},
		{"", false},
	} {
		if got := populated([]byte(c.in)); got != c.want {
			t.Errorf("populated(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// A pool removes the cgroups that pools of dead processes left, and kills
// what their execs left running.
func TestContainRemovesDeadPools(t *testing.T) {
	adoptOrphans(t)
	probe, err := makePoolCgroup("probe")
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	syscall.Rmdir(probe)
	// A PID that is gone: a child's, once reaped.
	dead := osexec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(probe), fmt.Sprintf("ebb-local-%d-dead", dead.Process.Pid))
	execDir := filepath.Join(dir, "1")
	for _, d := range []string{dir, execDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := syscall.Open(execDir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	arg := daemonSleep()
	left := osexec.Command("sleep", arg)
	left.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	err = left.Start()
	syscall.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- left.Wait() }()

	newPool(t, Config{contain: containCgroup})
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cgroup of a dead pool: %v, want it gone", err)
	}
	checkNoSleepers(t, arg) // killed by New, or here
	<-exited
	// Without the pool, the exec's cgroup would be left, and Rmdir fail.
	syscall.Rmdir(execDir)
	syscall.Rmdir(dir)
}

// Execs run in a pool after others were killed or left processes behind:
// a cgroup that was killed is not reused (Linux kills whatever is born
// into it afterwards).
func TestContainAfterKill(t *testing.T) {
	adoptOrphans(t)
	for _, mode := range containModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			p := newPool(t, Config{contain: mode})
			a := accept(t, p, nil)
			for i := range 3 {
				e := put(t, a, "killed"+strconv.Itoa(i), sh("echo $$; sleep 1000"))
				readPgid(t, e)
				e.Kill(context.Background())
				wait(t, e)
				arg := daemonSleep()
				run(t, a, "daemon"+strconv.Itoa(i), sh("(setsid sleep "+arg+" &) &\nuntil pgrep -fx 'sleep "+arg+"' >/dev/null; do :; done"))
				if r := run(t, a, "after"+strconv.Itoa(i), sh("true")); !r.OK() {
					t.Errorf("an exec after one killed and one that left a daemon: %+v, want success", r)
				}
			}
		})
	}
}
