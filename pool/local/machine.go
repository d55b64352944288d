package local

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/ebbflow/ebb"
)

// MachineResources returns this machine's capacity as a Pool of a Config
// without Resources would hold it, its Dir being dir: every core the
// process may use, all of its memory, and the free space of the file
// system that holds dir (which must exist). Whoever starts a pool in
// another process (an ebb worker) sizes it the same way with it.
func MachineResources(dir string) (ebb.Resources, error) {
	return machineResources(dir)
}

// machineResources reads this machine's capacity: every core the process
// may use, all of its memory, and the free space of the file system that
// holds dir.
func machineResources(dir string) (ebb.Resources, error) {
	mem, err := memTotal("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return nil, fmt.Errorf("free disk space of %s: %w", dir, err)
	}
	return ebb.Resources{
		ebb.CPU:  float64(runtime.NumCPU()),
		ebb.Mem:  mem,
		ebb.Disk: float64(fs.Bavail) * float64(fs.Bsize),
	}, nil
}

// memTotal returns MemTotal, in bytes, from a file in the format of
// /proc/meminfo.
func memTotal(path string) (float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("memory size: %w", err)
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		f := bytes.Fields(s.Bytes())
		if len(f) < 2 || string(f[0]) != "MemTotal:" {
			continue
		}
		n, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			break
		}
		if len(f) > 2 && string(f[2]) == "kB" {
			n *= 1024
		}
		return float64(n), nil
	}
	return 0, fmt.Errorf("memory size: no MemTotal in %s", path)
}
