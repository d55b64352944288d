package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/pool"
	"github.com/ebbflow/ebb/repository"
	"github.com/ebbflow/ebb/stealer"
	"github.com/opencontainers/go-digest"
)

// A run's history is what its evaluation learned of its tasks' durations
// (a stealer.Profile, each task's size against its kind, stealer.Sizes,
// and how long tasks took lately), and what its
// stealer learned of the cluster (how long allocations took), carried
// to the next run of the same flow, so that a pipeline run daily is
// sized from the first minute by what its tasks and its cluster took
// yesterday: ebb sim -history measures runs that start so. It is a blob
// in the repository, found through an entry of the cache under a key
// made of the flow's name: both are written atomically, and the
// history is bounded (see stealer.Durations.Profile and
// stealer.Learned).

// historyFile names the profile blob among the cache entry's outputs.
const historyFile = "durations.json"

// historyVersion is the version of the profile blob's format.
const historyVersion = 1

// history is what a run learned, for the next run of its flow. A blob
// written before TaskDuration, Cluster, Sizes and SizeFit were kept has
// none of them: the next run learns them anew.
type history struct {
	Version int             `json:"version"`
	Kinds   stealer.Profile `json:"kinds"`
	// Sizes is how long each task ran against its kind (Eval.Sizes),
	// and SizeFit how much of the sizes before showed in the run
	// (Eval.SizeFit).
	Sizes   stealer.Sizes   `json:"sizes,omitempty"`
	SizeFit stealer.SizeFit `json:"size_fit,omitzero"`
	// TaskDuration is how long tasks took lately (Eval.TaskDuration).
	TaskDuration time.Duration `json:"task_duration,omitempty"`
	// Cluster is what the stealer learned of the auxiliary cluster.
	Cluster stealer.Learned `json:"cluster,omitzero"`
}

// historyKey returns the cache key of flow's history.
func historyKey(flow *ebb.Flow) digest.Digest {
	d := ebb.NewDigester()
	d.WriteString("ebb.history/v1")
	d.WriteString(flow.Name)
	return d.Digest()
}

// loadHistory returns the history of flow; the zero history when there
// is none.
func loadHistory(ctx context.Context, cache repository.Cache, repo repository.Store, flow *ebb.Flow) (history, error) {
	if cache == nil || repo == nil {
		return history{}, nil
	}
	res, err := cache.Get(ctx, historyKey(flow))
	if errors.Is(err, ebb.ErrNotExist) {
		return history{}, nil
	}
	if err != nil {
		return history{}, err
	}
	rc, err := repo.Get(ctx, res.Outputs[historyFile])
	if err != nil {
		return history{}, err
	}
	defer rc.Close()
	var h history
	if err := json.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(&h); err != nil {
		return history{}, fmt.Errorf("history of flow %q: %w: %w", flow.Name, err, ebb.ErrCorrupt)
	}
	if h.Version != historyVersion {
		return history{}, fmt.Errorf("history of flow %q: version %d, want %d: %w", flow.Name, h.Version, historyVersion, ebb.ErrInvalid)
	}
	if err := h.Cluster.Validate(); err != nil {
		return history{}, fmt.Errorf("history of flow %q: cluster: %v: %w", flow.Name, err, ebb.ErrCorrupt)
	}
	if err := h.Sizes.Validate(); err != nil {
		return history{}, fmt.Errorf("history of flow %q: sizes: %v: %w", flow.Name, err, ebb.ErrCorrupt)
	}
	if err := h.SizeFit.Validate(); err != nil {
		return history{}, fmt.Errorf("history of flow %q: %v: %w", flow.Name, err, ebb.ErrCorrupt)
	}
	if h.TaskDuration < 0 {
		return history{}, fmt.Errorf("history of flow %q: task_duration %v: must not be negative: %w", flow.Name, h.TaskDuration, ebb.ErrCorrupt)
	}
	return h, nil
}

// saveHistory stores h as the history of flow.
func saveHistory(ctx context.Context, cache repository.Cache, repo repository.Store, flow *ebb.Flow, h history) error {
	if cache == nil || repo == nil || len(h.Kinds) == 0 {
		return nil
	}
	h.Version = historyVersion
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	d, err := repo.Put(ctx, bytes.NewReader(b))
	if err != nil {
		return err
	}
	now := time.Now()
	return cache.Put(ctx, historyKey(flow), pool.Result{Outputs: map[string]digest.Digest{historyFile: d}, Start: now, End: now})
}
