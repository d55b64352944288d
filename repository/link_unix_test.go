//go:build unix

package repository

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

const asUserEnv = "EBB_REPOSITORY_TEST_AS_USER"

// TestGetFileUnprivileged runs the tests of GetFile as the user nobody
// when the tests run as root, so that the hard-link path is tested too.
func TestGetFileUnprivileged(t *testing.T) {
	if os.Getenv(asUserEnv) != "" || os.Geteuid() != 0 {
		t.Skip("not root: TestGetFileStaged tests the hard-link path")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user to drop privileges to: %v", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Skipf("user nobody has uid %q, gid %q", u.Uid, u.Gid)
	}
	// nobody needs to reach the test binary and a temporary directory.
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "repository.test")
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^(TestGetFile|TestStoreConformance)", "-test.v")
	cmd.Env = append(os.Environ(), asUserEnv+"=nobody", "TMPDIR="+tmp)
	cmd.Dir = tmp
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("as nobody: %v\n%s", err, out)
	case err != nil:
		t.Skipf("cannot run as nobody: %v", err)
	case !bytes.Contains(out, []byte("linked=true")):
		t.Fatalf("as nobody, GetFile did not link:\n%s", out)
	}
	t.Logf("as nobody:\n%s", out)
}
