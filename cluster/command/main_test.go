package command

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/proctest"
)

// ebbBinary is the ebb command, built once by TestMain: the test scripts
// start it as their workers.
var ebbBinary string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ebb-command-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if ebbBinary, err = proctest.BuildEbb(dir); err != nil {
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
