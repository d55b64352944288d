package slurm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/proctest"
)

var (
	// ebbBinary is the ebb command, built once by TestMain: the tests'
	// jobs run it as their workers, so they exercise `ebb worker` end
	// to end.
	ebbBinary string
	// slurmErr says why Slurm cannot be used, or is nil when a
	// slurmctld answered sinfo.
	slurmErr error
	// testPrefix begins the job names of this test process's providers.
	testPrefix = fmt.Sprintf("ebbt%d-", os.Getpid())
)

func TestMain(m *testing.M) { os.Exit(proctest.MainWithEbb(slurmTests{m}, &ebbBinary)) }

// slurmTests runs the tests once it knows whether Slurm answers, and
// fails them when they leave a job of theirs in squeue.
type slurmTests struct{ m *testing.M }

func (s slurmTests) Run() int {
	slurmErr = proctest.SlurmErr()
	code := s.m.Run()
	if slurmErr == nil {
		if left := activeJobs(testPrefix); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "jobs of the tests left in squeue: %v\n", left)
			exec.Command("scancel", append([]string{"--quiet"}, left...)...).Run()
			code = 1
		}
	}
	return code
}

// needSlurm skips t when no slurmctld answers, or fails it when
// EBB_SLURM_REQUIRED=1 says Slurm must be there (as in CI).
func needSlurm(t testing.TB) {
	t.Helper()
	proctest.NeedSlurm(t, slurmErr)
}

// activeJobs returns the IDs of this user's jobs that squeue shows
// running or ending whose names begin with prefix.
func activeJobs(prefix string) []string {
	c := &cli{timeout: 30 * time.Second}
	jobs, err := c.jobs(context.Background())
	if err != nil {
		return []string{"(squeue: " + err.Error() + ")"}
	}
	var ids []string
	for _, j := range jobs {
		if strings.HasPrefix(j.Name, prefix) && !j.gone() && (j.UserID < 0 || j.UserID == os.Getuid()) {
			ids = append(ids, string(j.ID))
		}
	}
	return ids
}
