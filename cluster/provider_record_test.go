package cluster_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
)

// A RecordDir keeps each record in a file only its owner reads, gives
// them back by ID, reports a corrupt one beside the good ones, and
// removes them idempotently.
func TestRecordDir(t *testing.T) {
	d := cluster.RecordDir(filepath.Join(t.TempDir(), "records"))
	if recs, err := d.Load(); err != nil || len(recs) != 0 {
		t.Fatalf("Load of a missing directory = %v, %v; want none", recs, err)
	}
	shape := cluster.Shape{Name: "s", Resources: ebb.Resources{ebb.CPU: 1}}
	for _, id := range []cluster.WorkerID{"w-2", "w-1"} {
		if err := d.Save(cluster.WorkerRecord{ID: id, Shape: shape, Handle: "42", Token: "secret-" + string(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Save(cluster.WorkerRecord{ID: "w-1", Shape: shape, Handle: "42", URL: "https://127.0.0.1:1", Pin: "p", Token: "secret-w-1"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Save(cluster.WorkerRecord{ID: "a/b"}); !errors.Is(err, ebb.ErrInvalid) {
		t.Errorf("Save of ID a/b: %v, want ErrInvalid", err)
	}
	st, err := os.Stat(string(d))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("record directory mode %v, %v; want 0700", st.Mode().Perm(), err)
	}
	files, _ := filepath.Glob(filepath.Join(string(d), "*"))
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("record %s mode %v, %v; want 0600: it holds a token", f, st.Mode().Perm(), err)
		}
	}
	if err := os.WriteFile(filepath.Join(string(d), "bad.worker.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	recs, err := d.Load()
	if !errors.Is(err, ebb.ErrCorrupt) {
		t.Errorf("Load with a corrupt record: %v, want ErrCorrupt", err)
	}
	if len(recs) != 2 || recs[0].ID != "w-1" || recs[1].ID != "w-2" || !recs[0].Up() || recs[1].Up() || recs[0].Token != "secret-w-1" {
		t.Errorf("Load = %+v, want w-1 (up, with its token) then w-2 (not up)", recs)
	}
	for range 2 {
		if err := d.Remove("w-1"); err != nil {
			t.Errorf("Remove: %v", err)
		}
	}
	os.Remove(filepath.Join(string(d), "bad.worker.json"))
	if recs, err := d.Load(); err != nil || len(recs) != 1 || recs[0].ID != "w-2" {
		t.Errorf("Load after Remove = %+v, %v; want w-2 alone", recs, err)
	}
}
