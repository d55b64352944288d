package procs

import (
	"os"
	"testing"

	"github.com/ebbflow/ebb/internal/proctest"
)

// ebbBinary is the ebb command, built once by TestMain: the tests launch
// it as their workers, so they exercise `ebb worker` end to end.
var ebbBinary string

func TestMain(m *testing.M) {
	if bin := os.Getenv(driverEnv); bin != "" {
		// A driver started by TestDriverKilled: the ebb binary is its
		// parent's.
		ebbBinary = bin
		os.Exit(m.Run())
	}
	os.Exit(proctest.MainWithEbb(m, &ebbBinary))
}
