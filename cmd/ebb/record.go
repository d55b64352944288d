package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/runner"
)

// runRecordVersion is the version of the runRecord ebb writes. A record of
// a newer version is refused: this ebb cannot know what it says.
const runRecordVersion = 1

// A runRecord is what ebb run records in its State (runner.State.Command)
// so that "ebb resume STATE" needs nothing else: the run's directory and
// the flags that shaped the run, paths made absolute, so that they mean
// the same from any working directory. Fields added later are optional.
type runRecord struct {
	Version     int    `json:"version"`
	Dir         string `json:"dir"`
	Resources   string `json:"resources,omitempty"`
	Primary     string `json:"primary,omitempty"`
	Elastic     bool   `json:"elastic"`
	Workers     string `json:"workers,omitempty"`
	Outputs     string `json:"outputs,omitempty"`
	Policy      string `json:"policy,omitempty"`
	KeepWorkers bool   `json:"keep_workers,omitempty"`
	// PrimaryInProcess is -primary-in-process.
	PrimaryInProcess bool `json:"primary_in_process,omitempty"`
	// NoPeers is -peers=false.
	NoPeers bool `json:"no_peers,omitempty"`
}

// record returns f as a runRecord's JSON. f's paths must be absolute
// (see absolute).
func (f *runFlags) record() (json.RawMessage, error) {
	return json.Marshal(runRecord{
		Version: runRecordVersion, Dir: f.dir,
		Resources: f.resources.Format(), Primary: f.primary.Format(),
		Elastic: f.elastic, Workers: f.workers, Outputs: f.outputs, Policy: f.policy,
		KeepWorkers: f.keepWorkers, PrimaryInProcess: f.primaryInProcess, NoPeers: !f.peers,
	})
}

// absolute makes f's paths absolute, relative to the working directory:
// -dir, -outputs, and -workers unless it names no file (procs).
func (f *runFlags) absolute() error {
	for _, p := range []*string{&f.dir, &f.outputs, &f.workers} {
		if *p == "" || (p == &f.workers && *p == "procs") {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

// resumeFlags returns the flags to resume s with: those the run recorded,
// overridden by the ones fs set (parsed into f). A state without a record
// (written before ebb recorded one) resumes with f as it is.
func resumeFlags(s *runner.State, fs *flag.FlagSet, f runFlags) (runFlags, error) {
	if len(s.Command) == 0 {
		return f, nil
	}
	var rec runRecord
	if err := json.Unmarshal(s.Command, &rec); err != nil {
		return f, fmt.Errorf("state of run %s: command: %v: %w", shortID(s.ID.Encoded()), err, ebb.ErrInvalid)
	}
	if rec.Version < 1 || rec.Version > runRecordVersion {
		return f, fmt.Errorf("state of run %s: command: version %d, this ebb reads 1 to %d: %w", shortID(s.ID.Encoded()), rec.Version, runRecordVersion, ebb.ErrInvalid)
	}
	was := f
	was.dir, was.elastic, was.workers, was.outputs, was.keepWorkers = rec.Dir, rec.Elastic, rec.Workers, rec.Outputs, rec.KeepWorkers
	was.primaryInProcess = rec.PrimaryInProcess
	was.peers = !rec.NoPeers
	if rec.Policy != "" {
		was.policy = rec.Policy
	}
	var err error
	if was.resources, err = ebb.ParseResources(rec.Resources); err != nil {
		return f, fmt.Errorf("state of run %s: command: resources: %w", shortID(s.ID.Encoded()), err)
	}
	if was.primary, err = ebb.ParseResources(rec.Primary); err != nil {
		return f, fmt.Errorf("state of run %s: command: primary: %w", shortID(s.ID.Encoded()), err)
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "dir":
			was.dir = f.dir
		case "resources":
			was.resources = f.resources
		case "primary":
			was.primary = f.primary
		case "elastic":
			was.elastic = f.elastic
		case "workers":
			was.workers = f.workers
		case "outputs":
			was.outputs = f.outputs
		case "policy":
			was.policy = f.policy
		case "keep-workers":
			was.keepWorkers = f.keepWorkers
		case "primary-in-process":
			was.primaryInProcess = f.primaryInProcess
		}
	})
	return was, nil
}
