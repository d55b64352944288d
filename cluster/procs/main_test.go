package procs

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/proctest"
)

// ebbBinary is the ebb command, built once by TestMain: the tests launch
// it as their workers, so they exercise `ebb worker` end to end.
var ebbBinary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ebb-procs-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bin := os.Getenv(driverEnv); bin != "" {
		// A driver started by TestDriverKilled: the ebb binary is its
		// parent's.
		ebbBinary = bin
		return m.Run()
	}
	ebbBinary, err = proctest.BuildEbb(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if left := proctest.Leftovers(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "left after the tests:\n%s\n", left)
			code = 1
		}
	}
	return code
}
