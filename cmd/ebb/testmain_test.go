package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand for ebb where ebb starts itself:
// `ebb run` and `ebb resume`, run in process by the tests, start their
// machine worker as os.Executable() "worker" ..., which is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(mainSignals(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
