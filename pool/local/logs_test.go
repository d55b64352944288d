package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

func readAll(t *testing.T, e pool.Exec, s pool.Stream, follow bool) string {
	t.Helper()
	rc, err := e.Logs(context.Background(), s, follow)
	if err != nil {
		t.Fatalf("Logs(%s, %v): %v", s, follow, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading Logs(%s, %v): %v", s, follow, err)
	}
	return string(b)
}

// forLogs runs test with a command's streams in files (Config.KeepLogs)
// and in pipes.
func forLogs(t *testing.T, test func(t *testing.T, keep bool)) {
	t.Helper()
	t.Run("files", func(t *testing.T) { test(t, true) })
	t.Run("pipes", func(t *testing.T) { test(t, false) })
}

func TestLogsCommand(t *testing.T) { forLogs(t, testLogsCommand) }

func testLogsCommand(t *testing.T, keep bool) {
	p := newPool(t, Config{KeepLogs: keep})
	a := accept(t, p, nil)
	e := put(t, a, "hi", sh("echo out; echo err >&2"))
	// Following an exec to its end reads everything, then EOF.
	if got := readAll(t, e, pool.Stdout, true); got != "out\n" {
		t.Errorf("followed stdout = %q, want out", got)
	}
	wait(t, e)
	if got := readAll(t, e, pool.Stdout, false); got != "out\n" {
		t.Errorf("stdout = %q, want out", got)
	}
	if got := readAll(t, e, pool.Stderr, false); got != "err\n" {
		t.Errorf("stderr = %q, want err", got)
	}
	if got := readAll(t, e, pool.Stderr, true); got != "err\n" {
		t.Errorf("followed stderr of an ended exec = %q, want err", got)
	}
	if _, err := e.Logs(context.Background(), pool.Stream(7), false); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Logs of stream 7: %v, want ErrInvalid", err)
	}
}

func TestLogsFollowCommand(t *testing.T) { forLogs(t, testLogsFollowCommand) }

func testLogsFollowCommand(t *testing.T, keep bool) {
	p := newPool(t, Config{KeepLogs: keep})
	a := accept(t, p, nil)
	// The command prints, then waits for the test to write to a FIFO.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	e := put(t, a, "two lines", sh("echo one; read x < "+fifo+"; echo $x"))
	rc, err := e.Logs(context.Background(), pool.Stdout, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	if line, err := br.ReadString('\n'); line != "one\n" || err != nil {
		t.Fatalf("first followed line = %q, %v; want one", line, err)
	}
	// Before the test writes, the command cannot have printed more: the
	// reader is blocked at the end of the file.
	if err := os.WriteFile(fifo, []byte("two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if string(rest) != "two\n" || err != nil {
		t.Errorf("rest of the followed stream = %q, %v; want two, then EOF", rest, err)
	}
}

func TestLogsFollowCancel(t *testing.T) { forLogs(t, testLogsFollowCancel) }

func testLogsFollowCancel(t *testing.T, keep bool) {
	p := newPool(t, Config{KeepLogs: keep})
	a := accept(t, p, nil)
	e := put(t, a, "quiet", sh("echo hi; exec sleep 1000"))
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := e.Logs(ctx, pool.Stdout, true)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(rc)
	if line, _ := br.ReadString('\n'); line != "hi\n" {
		t.Fatalf("followed line = %q, want hi", line)
	}
	cancel()
	if _, err := io.ReadAll(br); !errors.Is(err, context.Canceled) {
		t.Errorf("reading a follower whose ctx ended: %v, want context.Canceled", err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	e.Kill(context.Background())
	wait(t, e)
	checkNoGoroutines(t)
}

func TestLogsFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, Config{TailBytes: 8})
		a := accept(t, p, nil)
		step := make(chan struct{})
		e := put(t, a, "chatty", pool.ExecConfig{Func: func(ctx context.Context, env ebb.FuncEnv) error {
			fmt.Fprint(env.Stdout, "ab")
			<-step
			fmt.Fprint(env.Stdout, "cd")
			fmt.Fprint(env.Stderr, "0123456789abcdefghij") // beyond the tail
			<-step
			return nil
		}})
		rc, err := e.Logs(context.Background(), pool.Stdout, true)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		buf := make([]byte, 10)
		n, err := rc.Read(buf)
		if string(buf[:n]) != "ab" || err != nil {
			t.Fatalf("first followed read = %q, %v; want ab", buf[:n], err)
		}
		got := make(chan string)
		go func() {
			b, _ := io.ReadAll(rc)
			got <- string(b)
		}()
		synctest.Wait() // the follower is blocked at the end
		step <- struct{}{}
		synctest.Wait()
		if s := readAll(t, e, pool.Stdout, false); s != "abcd" {
			t.Errorf("stdout while running = %q, want abcd", s)
		}
		if s := readAll(t, e, pool.Stderr, false); !strings.HasSuffix(s, "cdefghij") || len(s) > 16 {
			t.Errorf("stderr = %q, want at most 16 bytes ending cdefghij", s)
		}
		step <- struct{}{}
		if s := <-got; s != "cd" {
			t.Errorf("rest of the followed stream = %q, want cd", s)
		}
		if r := wait(t, e); r.Stdout != "abcd" || r.Stderr != "cdefghij" {
			t.Errorf("Result tails = %q, %q; want abcd, cdefghij", r.Stdout, r.Stderr)
		}
	})
}

func TestFollowerEndsWithExec(t *testing.T) { forLogs(t, testFollowerEndsWithExec) }

func testFollowerEndsWithExec(t *testing.T, keep bool) {
	p := newPool(t, Config{KeepLogs: keep})
	a := accept(t, p, nil)
	e := put(t, a, "sleeper", sh("echo hi; exec sleep 1000"))
	rc, err := e.Logs(context.Background(), pool.Stdout, true)
	if err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(rc).ReadString('\n'); line != "hi\n" {
		t.Fatalf("followed line = %q, want hi", line)
	}
	// Nobody closes the reader or cancels its ctx: the watcher ends with
	// the exec all the same.
	e.Kill(context.Background())
	wait(t, e)
	checkNoGoroutines(t)
	rc.Close()
}
