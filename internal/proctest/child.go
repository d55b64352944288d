package proctest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// RunChild runs the test named test of this test binary in a child
// process, with env added to its environment, and returns its output, the
// names of its subtests that failed (the part after "test/"), and how it
// exited; a subtest that crashed the child counts among those that
// failed. Tests of conformance suites use it to run the suite against a
// deliberately broken implementation and check which subtests catch it.
func RunChild(ctx context.Context, test string, env ...string) (out []byte, failed []string, err error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1", "-test.timeout=5m")
	// A race-enabled child otherwise sleeps a second on exit.
	cmd.Env = append(append(os.Environ(), env...), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	out, err = cmd.CombinedOutput()
	failLine := regexp.MustCompile(`--- FAIL: ` + regexp.QuoteMeta(test) + `/(\S+)`)
	for _, m := range failLine.FindAllStringSubmatch(string(out), -1) {
		failed = append(failed, m[1])
	}
	// A subtest that crashed the child (a panic in a goroutine it
	// started) prints no FAIL line: it is the last one to have started
	// before the panic.
	if i := strings.Index(string(out), "\npanic: "); i >= 0 {
		runLine := regexp.MustCompile(`=== RUN   ` + regexp.QuoteMeta(test) + `/(\S+)`)
		if ms := runLine.FindAllStringSubmatch(string(out[:i]), -1); len(ms) > 0 {
			failed = append(failed, ms[len(ms)-1][1])
		}
	}
	return out, failed, err
}

// CheckBroken runs the test named test in a child process with env added
// (see RunChild), as a conformance suite's test of a deliberately broken
// implementation: with wantFail nil the child must pass; otherwise it
// must fail, and so must each subtest wantFail names. It reports on t,
// with the child's output when something is off.
func CheckBroken(t *testing.T, test, env string, wantFail []string) {
	t.Helper()
	out, failed, err := RunChild(t.Context(), test, env)
	if wantFail == nil {
		if err != nil {
			t.Fatalf("the suite failed the unbroken implementation (%s): %v; failed %q\n%s", env, err, failed, out)
		}
		return
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("the suite against the broken implementation (%s): %v, want it to fail\n%s", env, err, out)
	}
	for _, name := range wantFail {
		if !slices.Contains(failed, name) {
			t.Errorf("%s: subtest %s passed, want it to fail; failed: %q", env, name, failed)
		}
	}
	if t.Failed() {
		t.Logf("output of the suite:\n%s", out)
	}
}
