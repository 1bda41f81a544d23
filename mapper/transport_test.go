package mapper_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// TestWorkerObjectTransport runs the tasks of a job whose workers share no
// disk with its submitter: chunks arrive inline or as objects, never read
// from their (here nonexistent) path, checked against their checksum, and
// large outputs leave as objects.
func TestWorkerObjectTransport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := schema.JobRecord{ID: "w1", Kind: schema.KindPipe, Command: []string{"tr", "a-z", "A-Z"},
		Partitions: 1, Transport: schema.TransportObject}
	b := startWorkerFor(t, rec)
	obs, err := b.DataStore(ctx, "w1", 1)
	if err != nil {
		t.Fatal(err)
	}
	it := results(t, b.JS)
	const gone = "/nonexistent/jetmr/input.txt"

	small := []byte("abc\ndef\n")
	data, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 0, Path: gone, Offset: 0, Length: int64(len(small)),
		Inline: small, Sum: schema.Checksum(small)})
	publishTask(t, b.JS, data)
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil || r.Err != nil || string(r.Payload) != "ABC\nDEF\n" {
		t.Fatalf("inline chunk: got %+v, %v", r, err)
	}

	big := bytes.Repeat([]byte("hello object store\n"), 40000) // 760 KB: an object in, an object out
	if _, err := obs.PutBytes(ctx, schema.ChunkObject(1), big); err != nil {
		t.Fatal(err)
	}
	data, _ = schema.EncodeTask(schema.Task{Job: "w1", Index: 1, Path: gone, Offset: 8, Length: int64(len(big)),
		Object: schema.ChunkObject(1), Sum: schema.Checksum(big)})
	publishTask(t, b.JS, data)
	r, err = schema.DecodeResult(nextResult(t, it).Data())
	if err != nil || r.Err != nil || r.Object == "" || r.Spill != "" || r.Payload != nil {
		t.Fatalf("object chunk: got %+v, %v; want its output as an object", r, err)
	}
	out, err := obs.GetBytes(ctx, r.Object)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, bytes.ToUpper(big)) {
		t.Fatalf("object output: %d bytes, want the %d upper-cased input bytes", len(out), len(big))
	}

	damaged := []byte("abc\n")
	data, _ = schema.EncodeTask(schema.Task{Job: "w1", Index: 2, Path: gone, Length: 4,
		Inline: damaged, Sum: schema.Checksum([]byte("abd\n"))})
	publishTask(t, b.JS, data)
	r, err = schema.DecodeResult(nextResult(t, it).Data())
	if err != nil || r.Err == nil || !strings.Contains(r.Err.Message, "checksum mismatch") || r.Path != gone {
		t.Fatalf("damaged chunk: got %+v (err %v), want a dead letter naming the checksum and the input", r, err)
	}
}
