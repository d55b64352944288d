package proctest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// SlurmErr says why Slurm cannot be used here, or is nil when a slurmctld
// answers sinfo.
func SlurmErr() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sinfo", "--noheader", "--format=%P").CombinedOutput()
	if err != nil {
		return fmt.Errorf("sinfo: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NeedSlurm skips t when slurmErr (from SlurmErr) says Slurm cannot be
// used, or fails it when EBB_SLURM_REQUIRED=1 says Slurm must be there,
// as in CI. When Slurm can be used, t holds the test cluster (see Hold)
// until it ends.
func NeedSlurm(t testing.TB, slurmErr error) {
	t.Helper()
	if slurmErr == nil {
		Hold(t, "ebb-slurmtest.lock")
		return
	}
	if os.Getenv("EBB_SLURM_REQUIRED") == "1" {
		t.Fatalf("slurm: no slurmctld answering (%v), and EBB_SLURM_REQUIRED=1; run scripts/slurm-test-cluster up", slurmErr)
	}
	t.Skipf("slurm: no slurmctld answering (%v); run scripts/slurm-test-cluster up, or set EBB_SLURM_REQUIRED=1 to make this a failure", slurmErr)
}
