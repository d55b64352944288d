package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	cmdprov "github.com/ebbflow/ebb/cluster/command"
	"github.com/ebbflow/ebb/cluster/procs"
	"github.com/ebbflow/ebb/cluster/slurm"
	"github.com/ebbflow/ebb/repository"
	"github.com/grailbio/base/status"
)

// A workers file says where a run's auxiliary allocs come from when they
// are not this machine's pool: workers that a provider starts, each `ebb
// worker` serving its node over the pool protocol. YAML 1.2 or JSON, read
// like a flow file (unknown fields are errors):
//
//	provider: command           # procs (worker processes here), command, slurm or kube
//	max_workers: 8              # at most this many at once (default 8)
//	idle_timeout: 1m            # a worker with no alloc this long is stopped (default 1m)
//	latency: 2m                 # how long a worker takes to come up, for the stealer (default 30s)
//	worker: [/usr/local/bin/ebb, worker]   # default: this ebb
//	shapes:                     # procs: default a quarter, a half and the whole of what -resources leaves beside the primary
//	  - {name: node, resources: "cpu=8,mem=32GiB", price: 8}
//	command:                    # provider: command (see package cluster/command)
//	  name: site                # starts every worker ID (default "ebb-HASH", HASH of the run's State)
//	  start: [/opt/site/submit, "--cpus={{.CPU}}", "{{.Worker}}"]
//	  list: [/opt/site/list]
//	  stop: [/opt/site/cancel, "{{.Handle}}"]
//	  timeout: 1m
//	  start_timeout: 10m
//	  check_interval: 30s
//	  token_file: false         # true: the worker's token is in a 0600 file under -dir ($EBB_TOKEN_FILE), which the worker removes
//	                            # once read, not in $EBB_TOKEN: for a start whose worker sees this machine's files
//	slurm:                      # provider: slurm (see package cluster/slurm)
//	  partition: batch
//	  time_limit: 4h
//	  sbatch_args: [--account=lab]
//	  job_prefix: ebb-          # default "ebb-HASH-", HASH of the run's State: runs sharing a user never cancel each other's jobs
//	  pending_timeout: 10m
//	kube:                       # provider: kube (see package cluster/kube and kubeFile)
//	  image: registry.example.org/ebb:v1
//	  pod_template: worker-pod.yaml
//	listen: ":0"                # command, slurm: where the workers reach ebb (default 127.0.0.1:0)
//	advertise: driver.example.org
//	worker_listen: ":0"         # command, slurm: where workers listen (default 127.0.0.1:0)
//	shared_repository: false    # command, slurm: the workers see ebb's -dir (default: they fetch blobs from ebb, or from each other with -peers)
//
// "-workers procs" is short for a file that says only "provider: procs".
// Without shapes, procs workers share what the local pool's capacity
// (-resources, or the machine) leaves beside the primary alloc: their
// shapes are slices of it, and their total stays within it.
type workersFile struct {
	Provider         string       `json:"provider"`
	MaxWorkers       int          `json:"max_workers"`
	IdleTimeout      duration     `json:"idle_timeout"`
	Latency          duration     `json:"latency"`
	Worker           []string     `json:"worker"`
	Shapes           []shapeFile  `json:"shapes"`
	Command          *commandFile `json:"command"`
	Slurm            *slurmFile   `json:"slurm"`
	Kube             *kubeFile    `json:"kube"`
	Listen           string       `json:"listen"`
	Advertise        string       `json:"advertise"`
	WorkerListen     string       `json:"worker_listen"`
	SharedRepository bool         `json:"shared_repository"`
	// peers, when set, moves blobs between the workers (ebb run -peers).
	peers *peerTransfer

	// derived are the shapes ebb gives a procs file without shapes,
	// within costCap (what its Elastic may spend per hour; 0: no cap).
	derived []cluster.Shape
	costCap float64
}

type shapeFile struct {
	Name      string  `json:"name"`
	Resources string  `json:"resources"`
	Price     float64 `json:"price"`
}

type commandFile struct {
	Name          string   `json:"name"`
	Start         []string `json:"start"`
	List          []string `json:"list"`
	Stop          []string `json:"stop"`
	Timeout       duration `json:"timeout"`
	StartTimeout  duration `json:"start_timeout"`
	CheckInterval duration `json:"check_interval"`
	TokenFile     bool     `json:"token_file"`
}

type slurmFile struct {
	Partition      string   `json:"partition"`
	TimeLimit      duration `json:"time_limit"`
	SbatchArgs     []string `json:"sbatch_args"`
	JobPrefix      string   `json:"job_prefix"`
	PendingTimeout duration `json:"pending_timeout"`
	PollInterval   duration `json:"poll_interval"`
}

// duration reads "90s", "2m" (time.ParseDuration).
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"90s\" or \"2m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a duration such as \"90s\" or \"2m\", got %q", s)
	}
	*d = duration(v)
	return nil
}

// readWorkers reads the -workers flag's value: "procs", or a workers
// file's path.
func readWorkers(arg string) (*workersFile, error) {
	if arg == "procs" {
		return &workersFile{Provider: "procs"}, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("-workers: %w", err)
	}
	w, err := parseWorkers(b, arg)
	if err != nil {
		return nil, err
	}
	// A command's program given as a relative path with a slash is
	// relative to the file, as a flow file's input paths are.
	dir := filepath.Dir(arg)
	if w.Kube != nil {
		if err := w.Kube.resolve(dir); err != nil {
			return nil, err
		}
	}
	for _, argv := range [][]string{w.Worker, w.commandArgv("start"), w.commandArgv("list"), w.commandArgv("stop")} {
		if len(argv) > 0 && strings.Contains(argv[0], "/") && !filepath.IsAbs(argv[0]) {
			if argv[0], err = filepath.Abs(filepath.Join(dir, argv[0])); err != nil {
				return nil, err
			}
		}
	}
	return w, nil
}

// commandArgv returns the named command of the command section, nil
// without one.
func (w *workersFile) commandArgv(name string) []string {
	if w.Command == nil {
		return nil
	}
	return map[string][]string{"start": w.Command.Start, "list": w.Command.List, "stop": w.Command.Stop}[name]
}

// parseWorkers decodes a workers file; errors name the file and wrap
// ebb.ErrInvalid.
func parseWorkers(b []byte, name string) (*workersFile, error) {
	bad := func(format string, args ...any) (*workersFile, error) {
		return nil, fmt.Errorf("workers file %s: "+format+": %w", append(append([]any{name}, args...), ebb.ErrInvalid)...)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return bad("%v", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return bad("%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var w workersFile
	if err := dec.Decode(&w); err != nil {
		return bad("%v", err)
	}
	switch {
	case w.Provider != "procs" && w.Provider != "command" && w.Provider != "slurm" && w.Provider != "kube":
		return bad("provider %q: want procs, command, slurm or kube", w.Provider)
	case w.Provider == "kube" && (w.Kube == nil || w.Kube.Image == ""):
		return bad("provider kube without a kube section naming the workers' image")
	case w.Provider != "kube" && w.Kube != nil:
		return bad("a kube section, but provider %q", w.Provider)
	case w.Provider == "command" && w.Command == nil:
		return bad("provider command without a command section")
	case w.Provider != "command" && w.Command != nil:
		return bad("a command section, but provider %q", w.Provider)
	case w.Provider != "slurm" && w.Slurm != nil:
		return bad("a slurm section, but provider %q", w.Provider)
	case w.Provider != "procs" && len(w.Shapes) == 0:
		return bad("provider %s needs shapes: what a worker it starts holds", w.Provider)
	case w.MaxWorkers < 0:
		return bad("max_workers %d: must not be negative", w.MaxWorkers)
	}
	return &w, nil
}

// shapes returns the file's shapes, or the derived ones when it gives
// none; nil when there are none.
func (w *workersFile) shapes() ([]cluster.Shape, error) {
	if len(w.Shapes) == 0 {
		return w.derived, nil
	}
	var out []cluster.Shape
	for i, s := range w.Shapes {
		res, err := ebb.ParseResources(s.Resources)
		if err != nil {
			return nil, fmt.Errorf("workers file: shapes[%d]: %w", i, err)
		}
		sh := cluster.Shape{Name: s.Name, Resources: res, Price: s.Price}
		if err := sh.Validate(); err != nil {
			return nil, fmt.Errorf("workers file: shapes[%d]: %w", i, err)
		}
		out = append(out, sh)
	}
	return out, nil
}

// bootstrap is how the workers of the command and slurm providers start
// and reach ebb: they fetch their blobs from ebb's repository, unless
// they share its directory.
func (w *workersFile) bootstrap(worker []string, repoDir string, repo *repository.Dir, log *slog.Logger) bootstrap.Config {
	boot := bootstrap.Config{Command: worker, Listen: w.Listen, Advertise: w.Advertise, WorkerListen: w.WorkerListen, Logger: log}
	switch {
	case w.SharedRepository:
		boot.Repository = repoDir
	case w.peers != nil && !w.peers.off:
		boot.Blobs, boot.PeerToken, boot.Counter = w.peers.located, w.peers.token, &w.peers.counter
	default:
		boot.Blobs = repo
		if w.peers != nil {
			boot.Counter = &w.peers.counter
		}
	}
	return boot
}

// elasticHooks are what ebb run hands the Elastic of its workers: where
// its worker events go (either may be nil).
type elasticHooks struct {
	onWorker func(cluster.WorkerEvent)
	status   *status.Group
	// peers, when set, moves blobs between the workers (-peers).
	peers *peerTransfer
}

// workerPool is the auxiliary cluster of a workers file: an Elastic over
// its provider, running until stop.
type workerPool struct {
	elastic  *cluster.Elastic
	provider cluster.Provider
	name     string // the provider's: procs, command or slurm
	latency  time.Duration
	// stop stops the Elastic and closes the provider, which stops the
	// workers, unless keep: then they are left running, for a resumed
	// run to adopt.
	stop func(keep bool) error
}

// start makes the provider and the Elastic over it, and runs it. dir is
// the run's -dir; repo the run's repository, in dir/repository. With
// mayKeep, the Elastic leaves its workers to the provider when it stops,
// so that stop may keep them.
func (w *workersFile) start(ctx context.Context, dir, statePath string, repo *repository.Dir, mayKeep bool, log *slog.Logger, hooks elasticHooks) (*workerPool, error) {
	shapes, err := w.shapes()
	if err != nil {
		return nil, err
	}
	worker := w.Worker
	if len(worker) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("workers: finding this ebb to start workers with: %w", err)
		}
		worker = []string{self, "worker"}
	}
	// Relative paths are fine: the providers make absolute those their
	// workers get.
	repoDir := filepath.Join(dir, "repository")
	var prov cluster.Provider
	var closeProv func(context.Context) error
	// release lets go of what keeps a second driver of the run out.
	release := func() {}
	switch w.Provider {
	case "procs":
		p, closeP, rel, err := procsWorkers(procs.Config{Command: worker, Shapes: shapes, Repository: repoDir, Logger: log}, dir, statePath, log)
		if err != nil {
			return nil, err
		}
		prov, closeProv, release = p, closeP, rel
	case "slurm":
		sf := w.Slurm
		if sf == nil {
			sf = &slurmFile{}
		}
		pdir, rel, err := runDir(dir, "slurm", statePath)
		if err != nil {
			return nil, err
		}
		release = rel
		prefix := sf.JobPrefix
		if prefix == "" {
			prefix = "ebb-" + runName(statePath) + "-"
		}
		p, err := slurm.New(ctx, slurm.Config{
			Bootstrap: w.bootstrap(worker, repoDir, repo, log), Shapes: shapes,
			Partition: sf.Partition, TimeLimit: time.Duration(sf.TimeLimit), SbatchArgs: sf.SbatchArgs,
			JobPrefix: prefix, Dir: pdir,
			PendingTimeout: time.Duration(sf.PendingTimeout), PollInterval: time.Duration(sf.PollInterval),
			Logger: log,
		})
		if err != nil {
			release()
			return nil, err
		}
		prov, closeProv = p, p.Close
	case "kube":
		// The bootstrap keeps its address and certificate under -dir, so
		// that the pods of a driver that crashed reach the one that
		// resumes it.
		pdir, rel, err := runDir(dir, "kube", statePath)
		if err != nil {
			return nil, err
		}
		release = rel
		boot := w.bootstrap(worker, repoDir, repo, log)
		if boot.Keep == "" {
			boot.Keep = filepath.Join(pdir, "bootstrap.json")
		}
		p, closeP, err := w.startKube(ctx, shapes, boot, runName(statePath), log)
		if err != nil {
			release()
			return nil, err
		}
		prov, closeProv = p, closeP
	case "command":
		pdir, rel, err := runDir(dir, "command", statePath)
		if err != nil {
			return nil, err
		}
		release = rel
		boot := w.bootstrap(worker, repoDir, repo, log)
		c := w.Command
		tokenDir := ""
		if c.TokenFile {
			tokenDir = filepath.Join(pdir, "tokens")
		}
		name := c.Name
		if name == "" {
			name = "ebb-" + runName(statePath)
		}
		p, err := cmdprov.New(ctx, cmdprov.Config{
			Name: name, Start: c.Start, List: c.List, Stop: c.Stop, Shapes: shapes, Bootstrap: boot,
			Dir: pdir, TokenDir: tokenDir,
			Timeout: time.Duration(c.Timeout), StartTimeout: time.Duration(c.StartTimeout), CheckInterval: time.Duration(c.CheckInterval),
			Logger: log,
		})
		if err != nil {
			release()
			return nil, err
		}
		prov, closeProv = p, p.Close
	}
	maxWorkers := w.MaxWorkers
	if maxWorkers == 0 {
		maxWorkers = 8
	}
	idle := time.Duration(w.IdleTimeout)
	if idle == 0 {
		idle = time.Minute
	}
	elastic, err := cluster.NewElastic(cluster.ElasticConfig{Provider: prov, MaxWorkers: maxWorkers, IdleTimeout: idle, KeepWorkers: mayKeep, CostCap: w.costCap, Logger: log,
		OnWorker: hooks.onWorker, Status: hooks.status})
	if err != nil {
		closeProv(ctx)
		release()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ran := make(chan error, 1)
	go func() { ran <- elastic.Run(runCtx) }()
	latency := time.Duration(w.Latency)
	if latency == 0 {
		latency = 30 * time.Second
		if w.Provider == "procs" {
			latency = 100 * time.Millisecond
		}
	}
	return &workerPool{elastic: elastic, provider: prov, name: w.Provider, latency: latency, stop: func(keep bool) error {
		cancel()
		err := <-ran
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		defer release()
		if keep {
			return err
		}
		sctx, done := context.WithTimeout(context.Background(), time.Minute)
		defer done()
		return errors.Join(err, closeProv(sctx))
	}}, nil
}
