package proctest

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// RunChild runs the test named test of this test binary in a child
// process, with env added to its environment, and returns its output, the
// names of its subtests that failed (the part after "test/"), and how it
// exited. Tests of conformance suites use it to run the suite against a
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
	return out, failed, err
}
