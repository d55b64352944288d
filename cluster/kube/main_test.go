package kube

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ebbflow/ebb/internal/proctest"
)

// ebbBinary is the ebb command, built once by TestMain: the fake
// kubelet of the unit tests runs it as the pods' workers.
var ebbBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ebb-kube-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if ebbBinary, err = buildEbb(dir); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if left := leftovers(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "left after the tests:\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

// buildEbb builds the ebb command into dir with the race detector, as
// the tests are built: its packages are then compiled already.
func buildEbb(dir string) (string, error) {
	bin := filepath.Join(dir, "ebb")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-race", "-o", bin, "github.com/ebbflow/ebb/cmd/ebb")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building the ebb command: %w", err)
	}
	return bin, nil
}

// leftovers is proctest.Leftovers less the goroutines client-go keeps
// for the life of the process: klog's flusher, and the idle connections
// of its HTTP transports, which end with their server's idle timeout.
func leftovers(d time.Duration) string {
	var left []string
	proctest.Eventually(d, func() bool {
		left = left[:0]
		buf := make([]byte, 1<<20)
		stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
		for _, g := range stacks[1:] {
			if !strings.Contains(g, "os/signal.") && !strings.Contains(g, "runtime.ensureSigM") &&
				!strings.Contains(g, "k8s.io/klog") && !strings.Contains(g, "net/http.(*persistConn)") &&
				!strings.Contains(g, "net/http.(*http2ClientConn)") && !strings.Contains(g, "golang.org/x/net/http2") {
				left = append(left, g)
			}
		}
		if pids := proctest.Children(); len(pids) > 0 {
			left = append(left, fmt.Sprintf("child processes: %v", pids))
		}
		return len(left) == 0
	})
	return strings.Join(left, "\n\n")
}
