package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/runner"
)

// workersCmd lists a run's workers: ebb workers [-json] STATE. It reads
// the State and the workers record its driver writes beside it
// (workers.json); the allocs are the State's. While the driver runs, the
// record is at most a few seconds old, and says what the driver's
// provider lists (a starting worker, a stray); once it has stopped, the
// record is its last word, and says which workers were kept running for
// ebb resume.
func workersCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("workers", "STATE", stderr)
	asJSON := fs.Bool("json", false, "print the workers record (workers.json) with idle times and allocs from the State, as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one state file, got %d arguments: %w", fs.NArg(), errUsage)
	}
	statePath := fs.Arg(0)
	s, err := runner.FileStore{Path: statePath}.Load(ctx)
	if err != nil {
		return err
	}
	rec, err := readWorkersRecord(filepath.Join(filepath.Dir(statePath), workersFileName))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "run %s: no workers recorded (%s is missing): the run took no workers (-workers), or its driver predates the record\n",
			shortID(s.ID.Encoded()), workersFileName)
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Run != "" && rec.Run != s.ID.Encoded() {
		return fmt.Errorf("%s beside %s is of run %s, not of run %s: %w", workersFileName, statePath, shortID(rec.Run), shortID(s.ID.Encoded()), ebb.ErrInvalid)
	}
	now := time.Now()
	live := rec.live(now)
	// The allocs are the State's: it is saved whenever one is taken or
	// given back, so it is as fresh as the record, or fresher.
	allocs := allocsByWorker(s.Aux)
	for i := range rec.Workers {
		rec.Workers[i].Allocs = allocs[rec.Workers[i].ID]
	}
	if *asJSON {
		rec.Live = live
		b, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	// Idle times are as of now while the driver runs, else as of its
	// last record.
	asOf := rec.Updated
	if live {
		asOf = now
	}
	fmt.Fprintf(stdout, "run %s: %s workers of %s, %s\n", shortID(s.ID.Encoded()), rec.Provider, rec.Cluster, rec.describe(now, live))
	if len(rec.Workers) == 0 {
		fmt.Fprintln(stdout, "no workers")
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	if len(rec.Workers) > 0 {
		fmt.Fprintln(tw, "WORKER\tPROVIDER\tSHAPE\tRESOURCES\tSTATE\tALLOCS\tIDLE")
	}
	slices.SortFunc(rec.Workers, func(a, b workerRecord) int { return strings.Compare(a.ID, b.ID) })
	for _, w := range rec.Workers {
		idle := "-"
		if w.Allocs == 0 && !w.LastBusy.IsZero() && w.State != "listed" {
			idle = asOf.Sub(w.LastBusy).Round(time.Second).String()
		}
		res := "-"
		if len(w.Resources) > 0 {
			res = w.Resources.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", w.ID, rec.Provider, w.Shape, res, w.State, w.Allocs, idle)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rec.Launching) > 0 {
		fmt.Fprintf(stdout, "launching: %s\n", strings.Join(rec.Launching, ", "))
	}
	if rec.Waiting > 0 {
		fmt.Fprintf(stdout, "waiting: %d allocs wait for a worker\n", rec.Waiting)
	}
	return nil
}

// readWorkersRecord reads a workers record.
func readWorkersRecord(path string) (*workersRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec workersRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", path, err, ebb.ErrCorrupt)
	}
	if rec.Version != 1 {
		return nil, fmt.Errorf("%s: version %d, want 1: %w", path, rec.Version, ebb.ErrInvalid)
	}
	return &rec, nil
}

// live says whether the driver that wrote rec still runs: it said so,
// it rewrote the record lately, and its process exists.
func (rec *workersRecord) live(now time.Time) bool {
	every := time.Duration(rec.Every * float64(time.Second))
	if !rec.Live || now.Sub(rec.Updated) > 3*every+time.Second {
		return false
	}
	if rec.Driver <= 0 {
		return false
	}
	err := syscall.Kill(rec.Driver, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// describe says where the record stands, for people.
func (rec *workersRecord) describe(now time.Time, live bool) string {
	age := now.Sub(rec.Updated).Round(time.Second)
	switch {
	case live:
		return fmt.Sprintf("driver %d running (record %v old)", rec.Driver, age)
	case rec.Live:
		return fmt.Sprintf("driver %d gone without a last word: as it recorded %v ago (workers it had may still run, until their leases lapse)", rec.Driver, age)
	default:
		return fmt.Sprintf("driver %d stopped %v ago: as it left them", rec.Driver, age)
	}
}
