package mapper_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/schema"
)

// TestPipeChangedInput checks that a chunk whose bytes are not those the
// splitter read fails its task, permanently, as changed input: before the
// command runs when the chunk is read whole first, after it when the
// chunk is larger and streams; and that an unchanged chunk gives the
// command's output either way.
func TestPipeChangedInput(t *testing.T) {
	data := []byte(strings.Repeat("alpha beta\ngamma\n", 500))
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	prefix := []byte("skipped line\n")
	if err := os.WriteFile(path, append(prefix, data...), 0o644); err != nil {
		t.Fatal(err)
	}
	edited := bytes.ToUpper(data)
	cases := []struct {
		name    string
		sum     []byte // the checksum the split computed
		limit   int64  // the largest chunk read whole; 0 keeps the default
		changed bool
		ran     bool // whether the command runs
	}{
		{"whole", schema.Checksum(data), 0, false, true},
		{"whole-changed", schema.Checksum(edited), 0, true, false},
		{"streamed", schema.Checksum(data), int64(len(data)) - 1, false, true},
		{"streamed-changed", schema.Checksum(edited), int64(len(data)) - 1, true, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.limit > 0 {
				t.Cleanup(mapper.SetChunkInMemoryMax(c.limit))
			}
			marker := filepath.Join(t.TempDir(), "ran")
			b, _ := startWorker(t, 0, "sh", "-c", `echo ran > "$0"; cat`, marker)
			it := results(t, b.JS)
			task := schema.Task{Job: "w1", Index: uint64(i), Path: path, Offset: int64(len(prefix)), Length: int64(len(data)), Sum: c.sum}
			msg, err := schema.EncodeTask(task)
			if err != nil {
				t.Fatal(err)
			}
			publishTask(t, b.JS, msg)
			r, err := schema.DecodeResult(nextResult(t, it).Data())
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.changed && (r.Err == nil || !r.Err.Permanent || !strings.Contains(r.Err.Message, "changed after it was split")):
				t.Fatalf("result %+v (err %+v), want a permanent failure naming the changed input", r, r.Err)
			case !c.changed && r.Err != nil:
				t.Fatalf("task failed: %+v", r.Err)
			case !c.changed && !bytes.Equal(r.Payload, data):
				t.Fatalf("output %q..., want %q...", head(r.Payload), head(data))
			}
			if _, err := os.Stat(marker); (err == nil) != c.ran {
				t.Fatalf("command ran: %v, want %v", err == nil, c.ran)
			}
		})
	}
}

// head is the start of b, for messages.
func head(b []byte) []byte { return b[:min(len(b), 40)] }
