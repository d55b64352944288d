package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// hideToken keeps the worker's token from the tasks it runs. Tasks get
// none of the worker's environment, but one that runs as the worker's
// user can read the worker's /proc/<pid>/environ and /proc/<pid>/cmdline,
// which show the environment and arguments the process started with
// whatever it did since: os.Unsetenv changes only Go's copy. So
// hideToken takes EBB_TOKEN out of the environment, and overwrites with
// 'x' the value of every EBB_TOKEN in the environment block the process
// started with and of every -token argument, through /proc/self/mem.
//
// It must run before the worker starts anything, and after the token was
// read into memory of its own: os.Args point into the memory it
// overwrites.
func hideToken() error {
	os.Unsetenv("EBB_TOKEN")
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return err
	}
	i := bytes.LastIndexByte(stat, ')')
	f := bytes.Fields(stat[i+1:])
	// Field 3 of proc(5) is f[0]: arg_start is field 48, arg_end 49,
	// env_start 50, env_end 51.
	if i < 0 || len(f) < 49 {
		return errors.New("/proc/self/stat: too short")
	}
	var bounds [4]int64
	for j := range bounds {
		if bounds[j], err = strconv.ParseInt(string(f[45+j]), 10, 64); err != nil {
			return fmt.Errorf("/proc/self/stat: %w", err)
		}
	}
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer mem.Close()
	errArgs := overwrite(mem, bounds[0], bounds[1], tokenArgs)
	errEnv := overwrite(mem, bounds[2], bounds[3], tokenEnv)
	return errors.Join(errArgs, errEnv)
}

// overwrite reads the NUL-separated strings of mem from start to end,
// has secrets mark in a copy of them the bytes to hide, and writes back
// what it marked.
func overwrite(mem *os.File, start, end int64, secrets func(strs [][]byte) [][]byte) error {
	if end <= start {
		return nil
	}
	block := make([]byte, end-start)
	if _, err := mem.ReadAt(block, start); err != nil {
		return fmt.Errorf("reading /proc/self/mem: %w", err)
	}
	changed := false
	for _, s := range secrets(bytes.Split(block, []byte{0})) {
		for k := range s {
			s[k] = 'x'
		}
		changed = changed || len(s) > 0
	}
	if !changed {
		return nil
	}
	if _, err := mem.WriteAt(block, start); err != nil {
		return fmt.Errorf("writing /proc/self/mem: %w", err)
	}
	return nil
}

// tokenEnv returns the values of EBB_TOKEN in env.
func tokenEnv(env [][]byte) [][]byte {
	var out [][]byte
	for _, e := range env {
		if v, ok := bytes.CutPrefix(e, []byte("EBB_TOKEN=")); ok {
			out = append(out, v)
		}
	}
	return out
}

// tokenArgs returns the values of the -token flags in args: "-token v",
// "-token=v", with one dash or two.
func tokenArgs(args [][]byte) [][]byte {
	var out [][]byte
	for i, a := range args {
		name := bytes.TrimPrefix(bytes.TrimPrefix(a, []byte("-")), []byte("-"))
		switch {
		case len(name) == len(a):
			// not a flag
		case string(name) == "token" && i+1 < len(args):
			out = append(out, args[i+1])
		case bytes.HasPrefix(name, []byte("token=")):
			out = append(out, name[len("token="):])
		}
	}
	return out
}
