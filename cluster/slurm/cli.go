package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebbflow/ebb"
)

// A jobID is a Slurm job ID, as sbatch --parsable prints it.
type jobID string

// A job is one job as squeue lists it.
type job struct {
	ID     jobID
	Name   string
	UserID int // -1 when squeue did not say
	// States are the job's state words: one ("RUNNING") on Slurm 22.05,
	// the base state and its flags (["CANCELLED", "COMPLETING"]) on
	// later versions.
	States []string
	// Reason is why a pending job waits ("Resources", "BeginTime"), or
	// "None".
	Reason string
	// Comment is the job's comment; the text format leaves it empty.
	Comment string
}

// finalStates are the states of a job that is over: its processes have
// ended or are being killed.
var finalStates = []string{
	"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL",
	"OUT_OF_MEMORY", "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT",
}

// neverReasons are the reasons a job pends that waiting does not cure:
// the job asks what its partition, account or QOS can never give.
var neverReasons = []string{"BadConstraints", "PartitionConfig", "InvalidAccount", "InvalidQOS"}

func (j job) has(state string) bool { return slices.Contains(j.States, state) }

// pending reports whether the job waits to start.
func (j job) pending() bool { return j.has("PENDING") }

// ended reports whether the job is over or ending: its worker is gone or
// going. A completing job still has processes being killed.
func (j job) ended() bool {
	return j.has("COMPLETING") || slices.ContainsFunc(j.States, func(s string) bool { return slices.Contains(finalStates, s) })
}

// gone reports whether nothing of the job is left on its nodes.
func (j job) gone() bool { return j.ended() && !j.has("COMPLETING") }

// never reports why the job will never start, or "".
func (j job) never() string {
	if j.pending() && slices.Contains(neverReasons, j.Reason) {
		return j.Reason
	}
	return ""
}

func (j job) state() string { return strings.Join(j.States, ",") }

// A partition is one partition's kinds of node, as sinfo lists them.
type partition struct {
	Name    string
	Default bool
	Nodes   []node
}

// A node is a kind of node: its CPUs and its memory, in MiB.
type node struct {
	CPUs  int
	MemMB int64
}

// holds reports whether some node of the partition could ever run a job
// of the given CPUs and memory.
func (p partition) holds(cpus int, memMB int64) bool {
	return slices.ContainsFunc(p.Nodes, func(n node) bool { return cpus <= n.CPUs && memMB <= n.MemMB })
}

// A request is what one batch job asks of sbatch.
type request struct {
	Name      string
	Comment   string
	Partition string
	CPUs      int   // --cpus-per-task; 0 leaves it out
	MemMB     int64 // --mem in MiB; 0 leaves it out
	GPUs      int   // --gres=gpu:N; 0 leaves it out
	TmpMB     int64 // --tmp in MiB; 0 leaves it out
	Time      time.Duration
	Dir       string // --chdir
	Output    string // --output, which also takes standard error
	Script    string // the job script's path
	Extra     []string
	Env       []string // sbatch's environment, which the job inherits (--export=ALL)
}

// args returns sbatch's arguments for r. The extra arguments come first,
// so that ours win where both set an option.
func (r request) args() []string {
	args := append([]string{"--parsable"}, r.Extra...)
	args = append(args,
		"--job-name="+r.Name,
		"--comment="+r.Comment,
		"--nodes=1",
		"--ntasks=1",
		"--no-requeue",
		"--export=ALL",
		"--chdir="+r.Dir,
		"--output="+r.Output,
	)
	if r.Partition != "" {
		args = append(args, "--partition="+r.Partition)
	}
	if r.CPUs > 0 {
		args = append(args, "--cpus-per-task="+strconv.Itoa(r.CPUs))
	}
	if r.MemMB > 0 {
		args = append(args, "--mem="+strconv.FormatInt(r.MemMB, 10)+"M")
	}
	if r.GPUs > 0 {
		args = append(args, "--gres=gpu:"+strconv.Itoa(r.GPUs))
	}
	if r.TmpMB > 0 {
		args = append(args, "--tmp="+strconv.FormatInt(r.TmpMB, 10)+"M")
	}
	if r.Time > 0 {
		// Whole minutes, rounded up: sbatch's plainest form.
		args = append(args, "--time="+strconv.FormatInt(int64((r.Time+time.Minute-1)/time.Minute), 10))
	}
	return append(args, r.Script)
}

// cli runs Slurm's commands: sbatch, squeue, scancel and sinfo. Every
// command is bounded by timeout, and fails with an error that wraps
// ebb.ErrUnavailable unless it says why trying again will not help.
//
// A cli is safe for concurrent use; its mutex guards text, the one thing
// it learns: whether squeue --json works.
type cli struct {
	bin     string // directory of the commands; "" looks them up in $PATH
	timeout time.Duration

	mu   sync.Mutex
	text bool // squeue --json failed where the text form worked
}

// command returns the path of a Slurm command.
func (c *cli) command(name string) string {
	if c.bin == "" {
		return name
	}
	return filepath.Join(c.bin, name)
}

// run runs one command with args and the given environment (nil: this
// process's), and returns its standard output. A command that fails,
// hangs past the timeout or cannot start is an error that quotes its
// standard error, wrapping ebb.ErrUnavailable.
func (c *cli) run(ctx context.Context, name string, env []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.command(name), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	msg := strings.TrimSpace(stderr.String())
	if ctx.Err() != nil {
		err = ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v", c.timeout)
		}
	}
	if msg != "" {
		return nil, &cmdError{name: name, err: err, stderr: msg}
	}
	return nil, &cmdError{name: name, err: err}
}

// A cmdError is a Slurm command that failed. It wraps ebb.ErrUnavailable,
// or ebb.ErrResources when its message says the request can never be met.
type cmdError struct {
	name   string
	err    error
	stderr string
	never  bool
}

func (e *cmdError) Error() string {
	if e.stderr == "" {
		return fmt.Sprintf("%s: %v", e.name, e.err)
	}
	return fmt.Sprintf("%s: %v: %s", e.name, e.err, e.stderr)
}

func (e *cmdError) Unwrap() []error {
	if e.never {
		return []error{e.err, ebb.ErrResources}
	}
	return []error{e.err, ebb.ErrUnavailable}
}

// neverMessages are what sbatch says when no node of the partition, or
// the account or QOS, can ever run the job.
var neverMessages = []string{
	"Requested node configuration is not available",
	"Memory specification can not be satisfied",
	"More processors requested than permitted",
	"Invalid generic resource (gres) specification",
	"Requested time limit is invalid",
	"Invalid account or account/partition combination",
	"Invalid qos specification",
	"Invalid partition name specified",
}

// submit submits the batch job r asks for, and returns its ID.
func (c *cli) submit(ctx context.Context, r request) (jobID, error) {
	out, err := c.run(ctx, "sbatch", r.Env, r.args()...)
	if err != nil {
		var ce *cmdError
		if errors.As(err, &ce) {
			ce.never = slices.ContainsFunc(neverMessages, func(m string) bool { return strings.Contains(ce.stderr, m) })
		}
		return "", err
	}
	// --parsable prints "ID" or "ID;CLUSTER".
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("sbatch: printed %q, not a job ID: %w", out, ebb.ErrUnavailable)
	}
	return jobID(id), nil
}

// cancel cancels the given jobs: scancel sends their processes SIGTERM,
// and SIGKILL after the cluster's KillWait. Jobs that are over, or that
// never were, are no error.
func (c *cli) cancel(ctx context.Context, ids ...jobID) error {
	if len(ids) == 0 {
		return nil
	}
	args := []string{"--quiet"}
	for _, id := range ids {
		args = append(args, string(id))
	}
	_, err := c.run(ctx, "scancel", nil, args...)
	return err
}

// signal sends SIGTERM to the batch step's process alone (scancel
// --batch), not to its children: the job script execs the worker, which
// then stops its own execs. A job that is not running fails.
func (c *cli) signal(ctx context.Context, id jobID) error {
	_, err := c.run(ctx, "scancel", nil, "--batch", "--signal=TERM", string(id))
	return err
}

// jobs lists the jobs squeue knows of this user's (on Slurm 22.05, whose
// --json ignores filters, everyone's): those that are pending or
// running, and those that ended within the cluster's MinJobAge. It reads
// squeue --json, or, where that fails and the text form works, a fixed
// text format, from then on.
func (c *cli) jobs(ctx context.Context) ([]job, error) {
	c.mu.Lock()
	text := c.text
	c.mu.Unlock()
	if !text {
		out, err := c.run(ctx, "squeue", nil, "--json", "--me", "--all")
		if err == nil {
			return parseJobsJSON(out)
		}
		tout, terr := c.run(ctx, "squeue", nil, textArgs...)
		if terr != nil {
			return nil, err
		}
		c.mu.Lock()
		c.text = true
		c.mu.Unlock()
		return parseJobsText(tout)
	}
	out, err := c.run(ctx, "squeue", nil, textArgs...)
	if err != nil {
		return nil, err
	}
	return parseJobsText(out)
}

// textArgs ask squeue for every job of this user's in a fixed format: ID,
// state, reason and user ID, none of which holds a '|', then the name,
// last, which may.
var textArgs = []string{"--noheader", "--me", "--all", "--states=all", "--format=%i|%T|%r|%U|%j"}

// parseJobsJSON reads squeue --json: the 22.05 form (job_state a string)
// and the later one (job_state a list of strings).
func parseJobsJSON(out []byte) ([]job, error) {
	var v struct {
		Errors []json.RawMessage `json:"errors"`
		Jobs   []struct {
			JobID       json.Number     `json:"job_id"`
			Name        string          `json:"name"`
			UserID      *int            `json:"user_id"`
			JobState    json.RawMessage `json:"job_state"`
			StateReason string          `json:"state_reason"`
			Comment     string          `json:"comment"`
		} `json:"jobs"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("squeue --json: %v: %w", err, ebb.ErrUnavailable)
	}
	if len(v.Errors) > 0 {
		return nil, fmt.Errorf("squeue --json: errors %s: %w", bytes.Join(rawSlice(v.Errors), []byte(", ")), ebb.ErrUnavailable)
	}
	jobs := make([]job, 0, len(v.Jobs))
	for _, j := range v.Jobs {
		if _, err := strconv.ParseUint(j.JobID.String(), 10, 64); err != nil {
			return nil, fmt.Errorf("squeue --json: job_id %q: %w", j.JobID, ebb.ErrUnavailable)
		}
		var states []string
		var one string
		if err := json.Unmarshal(j.JobState, &one); err == nil {
			states = []string{one}
		} else if err := json.Unmarshal(j.JobState, &states); err != nil {
			return nil, fmt.Errorf("squeue --json: job %s: job_state %s: %w", j.JobID, j.JobState, ebb.ErrUnavailable)
		}
		uid := -1
		if j.UserID != nil {
			uid = *j.UserID
		}
		jobs = append(jobs, job{ID: jobID(j.JobID.String()), Name: j.Name, UserID: uid, States: states, Reason: j.StateReason, Comment: j.Comment})
	}
	return jobs, nil
}

func rawSlice(v []json.RawMessage) [][]byte {
	out := make([][]byte, len(v))
	for i, r := range v {
		out[i] = r
	}
	return out
}

// parseJobsText reads squeue's output in the format of textArgs.
func parseJobsText(out []byte) ([]job, error) {
	var jobs []job
	for line := range strings.Lines(string(out)) {
		line = strings.TrimRight(line, "\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.SplitN(line, "|", 5)
		if len(f) != 5 {
			return nil, fmt.Errorf("squeue: line %q: want ID|STATE|REASON|UID|NAME: %w", line, ebb.ErrUnavailable)
		}
		id, state, reason, uidText, name := strings.TrimSpace(f[0]), strings.TrimSpace(f[1]), strings.TrimSpace(f[2]), strings.TrimSpace(f[3]), f[4]
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			// An array or heterogeneous job ("12_3", "12+1") is none of ours.
			continue
		}
		uid, err := strconv.Atoi(uidText)
		if err != nil {
			uid = -1
		}
		jobs = append(jobs, job{ID: jobID(id), Name: name, UserID: uid, States: []string{state}, Reason: reason})
	}
	return jobs, nil
}

// partitions lists the partitions, each with its kinds of node.
func (c *cli) partitions(ctx context.Context) ([]partition, error) {
	out, err := c.run(ctx, "sinfo", nil, "--noheader", "--all", "--format=%P|%c|%m")
	if err != nil {
		return nil, err
	}
	return parsePartitions(out)
}

// parsePartitions reads sinfo's lines of PARTITION|CPUS|MEMORY, one per
// partition and kind of node; the default partition's name ends in '*',
// and a number may end in '+' (at least that).
func parsePartitions(out []byte) ([]partition, error) {
	var parts []partition
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 3 {
			return nil, fmt.Errorf("sinfo: line %q: want PARTITION|CPUS|MEMORY: %w", line, ebb.ErrUnavailable)
		}
		name, def := strings.CutSuffix(f[0], "*")
		cpus, err1 := strconv.Atoi(strings.TrimSuffix(f[1], "+"))
		mem, err2 := strconv.ParseInt(strings.TrimSuffix(f[2], "+"), 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("sinfo: line %q: %v: %w", line, err, ebb.ErrUnavailable)
		}
		i := slices.IndexFunc(parts, func(p partition) bool { return p.Name == name })
		if i < 0 {
			parts = append(parts, partition{Name: name})
			i = len(parts) - 1
		}
		parts[i].Default = parts[i].Default || def
		parts[i].Nodes = append(parts[i].Nodes, node{CPUs: cpus, MemMB: mem})
	}
	return parts, nil
}
