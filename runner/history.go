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
// (a stealer.Profile), carried to the next run of the same flow, so that
// a pipeline run daily is sized from the first minute by what its tasks
// took yesterday. It is a blob in the repository, found through an entry
// of the cache under a key made of the flow's name: both are written
// atomically, and the profile is bounded (see stealer.Durations.Profile).

// historyFile names the profile blob among the cache entry's outputs.
const historyFile = "durations.json"

// historyVersion is the version of the profile blob's format.
const historyVersion = 1

type historyBlob struct {
	Version int             `json:"version"`
	Kinds   stealer.Profile `json:"kinds"`
}

// historyKey returns the cache key of flow's history.
func historyKey(flow *ebb.Flow) digest.Digest {
	d := ebb.NewDigester()
	d.WriteString("ebb.history/v1")
	d.WriteString(flow.Name)
	return d.Digest()
}

// loadHistory returns the history of flow, or nil when there is none.
func loadHistory(ctx context.Context, cache repository.Cache, repo repository.Store, flow *ebb.Flow) (stealer.Profile, error) {
	if cache == nil || repo == nil {
		return nil, nil
	}
	res, err := cache.Get(ctx, historyKey(flow))
	if errors.Is(err, ebb.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rc, err := repo.Get(ctx, res.Outputs[historyFile])
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var h historyBlob
	if err := json.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(&h); err != nil {
		return nil, fmt.Errorf("history of flow %q: %w: %w", flow.Name, err, ebb.ErrCorrupt)
	}
	if h.Version != historyVersion {
		return nil, fmt.Errorf("history of flow %q: version %d, want %d: %w", flow.Name, h.Version, historyVersion, ebb.ErrInvalid)
	}
	return h.Kinds, nil
}

// saveHistory stores p as the history of flow.
func saveHistory(ctx context.Context, cache repository.Cache, repo repository.Store, flow *ebb.Flow, p stealer.Profile) error {
	if cache == nil || repo == nil || len(p) == 0 {
		return nil
	}
	b, err := json.Marshal(historyBlob{Version: historyVersion, Kinds: p})
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
