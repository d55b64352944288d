package procs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/proctest"
)

// driverEnv, set to the ebb binary's path, makes this test binary a
// driver for TestDriverKilled.
const driverEnv = "EBB_PROCS_TEST_DRIVER"

// driverDirEnv names the directory the driver keeps its workers in: the
// test's own, removed when the test ends, as the killed driver cannot
// remove one of its own.
const driverDirEnv = "EBB_PROCS_TEST_DRIVER_DIR"

// TestDriverKilled kills a driver with SIGKILL while its worker runs an
// exec in an alloc the driver keeps alive: nobody stops the worker, yet
// it stops itself once the alloc's lease lapsed and its lease timeout
// passed, and its exec's process goes with it: nothing is left running.
func TestDriverKilled(t *testing.T) {
	if os.Getenv(driverEnv) != "" {
		drive(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDriverKilled$")
	cmd.Env = append(os.Environ(), driverEnv+"="+ebbBinary, driverDirEnv+"="+t.TempDir())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var worker int
	var marker string
	sc := bufio.NewScanner(out)
	for worker == 0 && sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "worker" {
			worker, _ = strconv.Atoi(f[1])
			marker = f[2]
		}
	}
	if worker == 0 {
		cmd.Wait()
		t.Fatal("the driver never reported its worker")
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	killed := time.Now()
	if syscall.Kill(worker, 0) != nil {
		t.Fatal("the worker died with its driver; want it to outlive it by its lease and lease timeout")
	}
	gone := func() bool { return syscall.Kill(worker, 0) != nil && len(processesWith(marker)) == 0 }
	if !proctest.Eventually(30*time.Second, gone) {
		t.Fatalf("the worker (pid %d) or its exec still runs 30s after its driver was killed", worker)
	}
	t.Logf("the worker and its exec were gone %v after the driver", time.Since(killed).Round(10*time.Millisecond))
}

// drive is the driver: it launches a worker whose lease timeout is a
// second, takes an alloc of it kept alive with a one-second lease, runs
// an exec there, reports the worker's PID and the exec's marker, and
// waits to be killed.
func drive(t *testing.T) {
	ctx := context.Background()
	p, err := New(Config{Command: []string{ebbBinary, "worker"}, Shapes: testShapes(), Dir: os.Getenv(driverDirEnv), LeaseTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w, pr := up(t, ctx, p)
	marker := sleepMarker(os.Getpid())
	a, _ := running(t, ctx, w, marker)
	keepalive(t, ctx, a, time.Second)
	fmt.Printf("worker %d %s\n", pr.cmd.Process.Pid, marker)
	select {}
}
