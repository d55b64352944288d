// Package tokenfile hands a worker its token in a file rather than in
// its environment. A provider writes the token to a file of mode 0600
// (Write) and starts `ebb worker` with Env: $EBB_TOKEN_FILE names the
// file and $EBB_TOKEN_FILE_REMOVE=1 asks the worker to remove it once
// read. A batch script or a shell that runs the worker without exec
// then holds no token in its environment, where any process of the same
// user reads it in /proc/PID/environ, and no token lies on disk once the
// worker started. A driver that adopts the worker later has the token in
// its own record of the worker (cluster.WorkerRecord), never from here.
package tokenfile

import (
	"fmt"
	"os"
	"strings"
)

// The environment variables ebb worker reads.
const (
	// EnvFile names the file holding the worker's token.
	EnvFile = "EBB_TOKEN_FILE"
	// EnvRemove, set to "1", has the worker remove EnvFile's file once
	// it has read it.
	EnvRemove = "EBB_TOKEN_FILE_REMOVE"
	// EnvToken holds the token itself, for workers started where no file
	// of the provider's reaches (ssh to another machine, say).
	EnvToken = "EBB_TOKEN"
)

// Write creates the file path, of mode 0600, holding token. It fails if
// path exists already: an earlier file may have been made by someone else,
// with a wider mode.
func Write(path, token string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the worker's token file: %w", err)
	}
	_, err = f.WriteString(token + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing the worker's token file: %w", err)
	}
	return nil
}

// Env returns what the worker's environment must add for it to read its
// token from path and remove the file.
func Env(path string) []string {
	return []string{EnvFile + "=" + path, EnvRemove + "=1"}
}

// Without returns env without the variables that give a worker a token
// ($EBB_TOKEN, $EBB_TOKEN_FILE, $EBB_TOKEN_FILE_REMOVE), in a new slice:
// the environment of a process that starts workers, before their own
// token is added.
func Without(env []string) []string {
	out := make([]string, 0, len(env))
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		if name != EnvToken && name != EnvFile && name != EnvRemove {
			out = append(out, e)
		}
	}
	return out
}
