package job_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// TestResumeKeepsRecordedKeyOrder resumes a job of two key fields whose
// record predates the text order field by field (as a jetmr that
// predates it recorded it): the resume sorts every run, and the output,
// bytewise as that record says, so runs of one order are never merged by
// the other. A job recorded now sorts field by field.
func TestResumeKeepsRecordedKeyOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.tsv")
	var b bytes.Buffer
	for i := range 400 {
		first := []string{"a", "a\x01", "a\x02b", "ab"}[i%4]
		fmt.Fprintf(&b, "%s\t%c\tv%d\n", first, 'a'+byte(i%26), i)
	}
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		recorded bool // the record says: field by field
	}{{"recorded before", false}, {"recorded now", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.ID, cfg.Kind, cfg.Inputs, cfg.Output = "korder", schema.KindMapReduce, []string{in}, filepath.Join(t.TempDir(), "out")
			cfg.Map, cfg.Reduce, cfg.KeyFields, cfg.ChunkSize = "cat", schema.ReduceNone, 2, 1<<10
			ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
			defer cancel()
			stopCtx, stop := context.WithCancel(ctx)
			cfg.Started = func(string) { stop() } // recorded, nothing run
			if _, err := job.Run(stopCtx, cfg); !errors.Is(err, context.Canceled) {
				t.Fatalf("the stopped run: %v, want context.Canceled", err)
			}
			cfg.Started = nil
			rewriteRecord(t, cfg.Broker, cfg.ID, func(r *schema.JobRecord) {
				if !r.KeyTextByField {
					t.Errorf("a job of 2 key fields recorded without KeyTextByField")
				}
				r.KeyTextByField = tc.recorded
			})
			cfg.Resume = true
			if _, err := runJob(t, cfg); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(cfg.Output, "part-00000"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) != 400 {
				t.Fatalf("%d lines, want 400", len(lines))
			}
			keys := schema.Keys{Fields: 2, TextByField: tc.recorded}
			key := func(l string) []byte { k, _ := keys.Split([]byte(l)); return k }
			if !slices.IsSortedFunc(lines, func(a, b string) int { return keys.Compare(key(a), key(b)) }) {
				t.Errorf("output not sorted in the recorded order (by field: %v):\n%q", tc.recorded, lines[:min(len(lines), 12)])
			}
			other := schema.Keys{Fields: 2, TextByField: !tc.recorded}
			if slices.IsSortedFunc(lines, func(a, b string) int { return other.Compare(key(a), key(b)) }) {
				t.Errorf("output also sorted in the other order: the input does not tell them apart")
			}
		})
	}
}

// rewriteRecord changes the stored record of job id.
func rewriteRecord(t *testing.T, cfg broker.Config, id string, change func(*schema.JobRecord)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	b, err := broker.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kv, err := b.Jobs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := schema.DecodeJobRecord(e.Value())
	if err != nil {
		t.Fatal(err)
	}
	change(&rec)
	data, err := schema.EncodeJobRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, id, data); err != nil {
		t.Fatal(err)
	}
}
