package remote

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/proctest"
)

// TestMain runs the tests, and then fails them if a goroutine or a child
// process is left: every call, poll, stream and server must have ended.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := proctest.Leftovers(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "left after the tests:\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}
