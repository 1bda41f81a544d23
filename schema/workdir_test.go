package schema_test

import (
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/schema"
)

// TestJobRecordWorkDir round-trips a record's working directory without
// raising its version, since a worker that ignores it runs the job as
// before, and decodes a record written before the field with none.
func TestJobRecordWorkDir(t *testing.T) {
	t.Parallel()
	rec := schema.JobRecord{ID: "wd", Kind: schema.KindEach, Partitions: 1, Command: []string{"cat"}, WorkDir: "/home/u/proj"}
	data, err := schema.EncodeJobRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := schema.DecodeJobRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.WorkDir != rec.WorkDir || got.V != 1 {
		t.Errorf("decoded WorkDir %q at version %d, want %q at 1", got.WorkDir, got.V, rec.WorkDir)
	}
	old, err := msgpack.Marshal(map[string]any{"v": 1, "id": "old", "kind": "each", "parts": 1, "cmd": []string{"cat"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err = schema.DecodeJobRecord(old); err != nil || got.WorkDir != "" {
		t.Errorf("record without a working directory: WorkDir %q, err %v; want none", got.WorkDir, err)
	}
}
