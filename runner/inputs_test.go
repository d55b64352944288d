package runner

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/repository"
)

// A flow whose input path is a FIFO or a device is refused at once, naming
// the path: New neither waits for a FIFO's writer nor hashes /dev/zero
// forever.
func TestInputPathNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		var c counter
		task := c.task("a", nil, nil)
		task.Inputs = []ebb.Input{{Name: "in", Path: path}}
		_, err := New(Config{Flow: &ebb.Flow{Tasks: []ebb.Task{task}}, Cluster: static(memPool(t)), Repository: repo}, nil)
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), path) {
			t.Errorf("New with input %s = %v, want ErrInvalid naming it", path, err)
		}
	}
}
