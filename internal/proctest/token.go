package proctest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TokenWrapper writes, in dir, a shell script that stands for a site's
// wrapper of `ebb worker`: it appends the mode of $EBB_TOKEN_FILE to the
// file modes, then runs ebb's worker with its arguments without exec, so
// the shell lives as long as the worker. It returns the script's path and
// modes.
func TokenWrapper(t testing.TB, dir, ebb string) (script, modes string) {
	t.Helper()
	modes = filepath.Join(dir, "modes")
	script = filepath.Join(dir, "wrapper")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+
		"stat -c %a \"$EBB_TOKEN_FILE\" >>'"+modes+"'\n"+
		"'"+ebb+"' worker \"$@\"\n"+
		"exit $?\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return script, modes
}

// CheckTokenHidden checks what a worker handed its token in a file
// leaves to see: no process of pids (the shells that started the worker
// and outlive its start-up) holds token in its environment, and each has
// $EBB_TOKEN_FILE naming file; file is gone once the worker is up; and
// modes (see TokenWrapper) says the file was 0600 when the worker's
// starter saw it.
func CheckTokenHidden(t testing.TB, pids []int, token, file, modes string) {
	t.Helper()
	for _, pid := range pids {
		environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(environ), token) {
			t.Errorf("process %d, which started the worker: its environ holds the worker's token", pid)
		}
		if !strings.Contains(string(environ), "EBB_TOKEN_FILE="+file+"\x00") {
			t.Errorf("process %d, which started the worker: no $EBB_TOKEN_FILE=%s in its environ", pid, file)
		}
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the token file once the worker is up: %v, want it removed", err)
	}
	if b, err := os.ReadFile(modes); err != nil || string(b) != "600\n" {
		t.Errorf("the token file's mode as the worker's starter saw it: %q, %v; want 600", b, err)
	}
}
