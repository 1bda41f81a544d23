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

// TestPipeCommandStdin checks what a pipe command reads its chunk from: a
// sealed file in memory, which it cannot write to, for a chunk of a file
// or a chunk carried in the task, and a pipe for a chunk over the limit;
// the command's output is the same either way.
func TestPipeCommandStdin(t *testing.T) {
	data := []byte(strings.Repeat("alpha beta\ngamma\n", 500))
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	prefix := []byte("skipped line\n")
	if err := os.WriteFile(path, append(prefix, data...), 0o644); err != nil {
		t.Fatal(err)
	}
	fileTask := schema.Task{Job: "w1", Path: path, Offset: int64(len(prefix)), Length: int64(len(data)), Sum: schema.Checksum(data)}
	inlineTask := schema.Task{Job: "w1", Inline: data}
	// The commands say what their stdin is and copy it; the first also
	// tries to append to it (a command could read back what it appends
	// to a pipe: the second does not).
	const sealed = `[ -f /dev/stdin ] && echo file; printf x 2>/dev/null >>/dev/stdin && echo writable; cat`
	const piped = `[ -p /dev/stdin ] && echo pipe; cat`
	cases := []struct {
		name   string
		task   schema.Task
		limit  int64 // the largest chunk read from a file; 0 keeps the default
		script string
		want   string
	}{
		{"file-range", fileTask, 0, sealed, "file\n"},
		{"inline", inlineTask, 0, sealed, "file\n"},
		{"file-range-over-limit", fileTask, int64(len(data)) - 1, piped, "pipe\n"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.limit > 0 {
				t.Cleanup(mapper.SetChunkFileMax(c.limit))
			}
			b, _ := startWorker(t, 0, "sh", "-c", c.script)
			it := results(t, b.JS)
			task := c.task
			task.Index = uint64(i)
			msg, err := schema.EncodeTask(task)
			if err != nil {
				t.Fatal(err)
			}
			publishTask(t, b.JS, msg)
			r, err := schema.DecodeResult(nextResult(t, it).Data())
			if err != nil {
				t.Fatal(err)
			}
			if r.Err != nil {
				t.Fatalf("task failed: %+v", r.Err)
			}
			want := append([]byte(c.want), data...)
			if !bytes.Equal(r.Payload, want) {
				t.Fatalf("output %q..., want %q...", head(r.Payload), head(want))
			}
		})
	}
}

// TestPipeChangedInputRunsNoCommand checks that a chunk whose bytes are
// not those the splitter read fails its task as changed input before
// the command runs on them.
func TestPipeChangedInputRunsNoCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(path, []byte("edited after the split\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "ran")
	b, _ := startWorker(t, 2, "sh", "-c", `echo ran > "$0"; cat`, marker)
	it := results(t, b.JS)
	msg, err := schema.EncodeTask(schema.Task{Job: "w1", Index: 1, Path: path, Length: 23, Sum: schema.Checksum([]byte("written before a split\n"))})
	if err != nil {
		t.Fatal(err)
	}
	publishTask(t, b.JS, msg)
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil {
		t.Fatal(err)
	}
	if r.Err == nil || !r.Err.Permanent || !strings.Contains(r.Err.Message, "changed after it was split") {
		t.Fatalf("result %+v (err %+v), want a permanent failure naming the changed input", r, r.Err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran on the changed chunk")
	}
}

// head is the start of b, for messages.
func head(b []byte) []byte { return b[:min(len(b), 40)] }
