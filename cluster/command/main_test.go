package command

import (
	"os"
	"testing"

	"github.com/ebbflow/ebb/internal/proctest"
)

// ebbBinary is the ebb command, built once by TestMain: the test scripts
// start it as their workers.
var ebbBinary string

func TestMain(m *testing.M) { os.Exit(proctest.MainWithEbb(m, &ebbBinary)) }
