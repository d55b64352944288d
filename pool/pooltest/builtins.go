package pooltest

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
)

// Builtins is a [PoolConfig.Run] hook that runs a few commands inside the
// process, so that tests can give a memory pool command execs:
//
//	true             exits 0
//	false            exits 1
//	exit N           exits N
//	echo ARG...      writes the ARGs, space-separated, and a newline to stdout
//	sleep SECONDS    waits that long (a decimal number), or until killed
//
// A command is known by its last path element, so /bin/true is true. Any
// other command exits 127 with an error naming it; a bad argument exits 2.
// sleep waits on a time.Timer, so in a testing/synctest bubble it takes no
// real time.
func Builtins(ctx context.Context, cfg pool.ExecConfig, env ebb.FuncEnv) pool.Result {
	if len(cfg.Argv) == 0 {
		return pool.Result{ExitCode: 127, Error: "no command"}
	}
	name, args := path.Base(cfg.Argv[0]), cfg.Argv[1:]
	usage := func(format string, a ...any) pool.Result {
		return pool.Result{ExitCode: 2, Error: fmt.Sprintf("%s: ", name) + fmt.Sprintf(format, a...)}
	}
	switch name {
	case "true":
		return pool.Result{}
	case "false":
		return pool.Result{ExitCode: 1, Error: "false: exit status 1"}
	case "exit":
		if len(args) != 1 {
			return usage("want one exit status, got %q", args)
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > 255 {
			return usage("exit status %q: want 0 to 255", args[0])
		}
		if n == 0 {
			return pool.Result{}
		}
		return pool.Result{ExitCode: n, Error: fmt.Sprintf("exit: exit status %d", n)}
	case "echo":
		fmt.Fprintln(env.Stdout, strings.Join(args, " "))
		return pool.Result{}
	case "sleep":
		if len(args) != 1 {
			return usage("want one duration in seconds, got %q", args)
		}
		secs, err := strconv.ParseFloat(args[0], 64)
		if err != nil || secs < 0 || secs > 1e9 {
			return usage("duration %q: want seconds, 0 to 1e9", args[0])
		}
		t := time.NewTimer(time.Duration(secs * float64(time.Second)))
		defer t.Stop()
		select {
		case <-t.C:
			return pool.Result{}
		case <-ctx.Done():
			return pool.Result{ExitCode: -1, Error: "sleep: " + ctx.Err().Error()}
		}
	}
	return pool.Result{ExitCode: 127, Error: fmt.Sprintf("%s: command not found (pooltest.Builtins runs true, false, exit, echo, sleep)", cfg.Argv[0])}
}
