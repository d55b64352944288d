package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestHelpExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout or stderr
	}{
		{[]string{"help"}, 0, "usage: ebb COMMAND"},
		{[]string{"help"}, 0, "exit with 130 (SIGINT) or 143 (SIGTERM)"},
		{[]string{"help", "run"}, 0, "-keep-workers"},
		{[]string{"-h"}, 0, "usage: ebb COMMAND"},
		{[]string{"--help"}, 0, "usage: ebb COMMAND"},
		{[]string{"help", "state"}, 0, "usage: ebb state"},
		{[]string{"state", "-h"}, 0, "usage: ebb state"},
		{[]string{"run", "-help"}, 0, "usage: ebb run"},
		{[]string{"help", "sim"}, 0, "usage: ebb sim"},
		{[]string{"worker", "-h"}, 0, "usage: ebb worker"},
		{nil, 2, "usage: ebb COMMAND"},
		{[]string{"help", "nope"}, 2, `unknown command "nope"`},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"state", "-nope"}, 2, "flag provided but not defined"},
		{[]string{"state"}, 2, "want one state file"},
	} {
		var stdout, stderr bytes.Buffer
		code := mainCode(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
			t.Errorf("ebb %s exited %d, printing:\n%s%s\nwant exit %d and %q", strings.Join(tc.args, " "), code, stdout.String(), stderr.String(), tc.code, tc.want)
		}
	}
}
