package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/atomicfile"
)

// A WorkerRecord is what a driver needs to reach one of its workers again
// after it restarted: what the engine calls the worker (Handle), where its
// pool serves (URL), the certificate it serves with (Pin), and the
// credential it takes (Token). A [Provider] writes one when a worker is
// launched, before the worker can take an alloc, and removes it once the
// worker is terminated; a provider made later with the same configuration
// reads them back in Workers, to adopt the workers that still live.
//
// The Token is a secret: a record is kept where only the driver's user
// reads it (a [RecordDir] file of mode 0600, a Kubernetes Secret), and
// never in a run's State.
type WorkerRecord struct {
	// ID names the worker within its provider.
	ID WorkerID `json:"id"`
	// Shape is the shape the worker was launched with.
	Shape Shape `json:"shape"`
	// Labels are the labels it was launched with.
	Labels ebb.Labels `json:"labels,omitempty"`
	// Handle is the engine's name for the worker, as the provider needs
	// it to check on it and stop it: a process ID, a Slurm job ID, a pod
	// name. Empty when the engine has not answered yet.
	Handle string `json:"handle,omitempty"`
	// URL and Pin are where the worker's pool serves and the fingerprint
	// of its certificate ("" without TLS); empty until it is up.
	URL string `json:"url,omitempty"`
	Pin string `json:"pin,omitempty"`
	// Token is the worker's own bearer token.
	Token string `json:"token"`
}

// Up reports whether the record says where the worker serves: a worker
// recorded before it was up cannot be reached, only stopped.
func (r WorkerRecord) Up() bool { return r.URL != "" }

// A RecordDir keeps WorkerRecords as files in a directory, one per worker,
// each written atomically with mode 0600 in a directory of mode 0700. It
// is what the procs, command and slurm providers keep beside their
// workers; a provider on another engine may keep its records elsewhere
// (a Kubernetes Secret), as long as a new provider of the same
// configuration finds them. The zero RecordDir is not usable; its value is
// the directory's path. It holds no state and is safe for concurrent use
// on distinct IDs.
type RecordDir string

const recordSuffix = ".worker.json"

// Save writes rec, replacing the record of the same ID.
func (d RecordDir) Save(rec WorkerRecord) error {
	if err := rec.ID.Validate(); err != nil {
		return fmt.Errorf("worker record: %w", err)
	}
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return fmt.Errorf("worker record %s: %w", rec.ID, err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("worker record %s: %w", rec.ID, err)
	}
	if err := atomicfile.WriteFile(d.path(rec.ID), b, 0o600); err != nil {
		return fmt.Errorf("worker record %s: %w", rec.ID, err)
	}
	return nil
}

// Load returns the records in the directory, by ID; none when the
// directory does not exist. A record that does not decode is skipped and
// reported in the joined error, beside the records that did.
func (d RecordDir) Load() ([]WorkerRecord, error) {
	ents, err := os.ReadDir(string(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("worker records: %w", err)
	}
	var out []WorkerRecord
	var errs []error
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), recordSuffix) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(string(d), e.Name()))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		var rec WorkerRecord
		if err := json.Unmarshal(b, &rec); err != nil || rec.ID.Validate() != nil {
			errs = append(errs, fmt.Errorf("worker record %s: undecodable: %w", e.Name(), ebb.ErrCorrupt))
			continue
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b WorkerRecord) int { return compareIDs(a.ID, b.ID) })
	return out, errors.Join(errs...)
}

// Remove deletes the record of id; removing one that is not there is nil.
func (d RecordDir) Remove(id WorkerID) error {
	if err := os.Remove(d.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("worker record %s: %w", id, err)
	}
	return nil
}

func (d RecordDir) path(id WorkerID) string {
	return filepath.Join(string(d), string(id)+recordSuffix)
}
