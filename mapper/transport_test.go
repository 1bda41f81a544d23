package mapper_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/transfer"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/schema"
)

// gone is the input path of the tasks below: it does not exist here, so a
// worker that read it instead of its shipped or fetched bytes would fail.
const gone = "/nonexistent/jetmr/input.txt"

// TestWorkerObjectTransport runs the tasks of a job whose workers share no
// disk with its submitter: chunks arrive inline, fetched from the
// submitter or (tasks of older submitters) as objects, never read from
// their path, checked against their checksum, and large outputs leave as
// objects.
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

	small := []byte("abc\ndef\n")
	data, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 0, Path: gone, Offset: 0, Length: int64(len(small)),
		Inline: small, Sum: schema.Checksum(small)})
	publishTask(t, b.JS, data)
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil || r.Err != nil || string(r.Payload) != "ABC\nDEF\n" {
		t.Fatalf("inline chunk: got %+v, %v", r, err)
	}

	// 2.3 MB: fetched in several pieces, an object out.
	big := bytes.Repeat([]byte("hello fetched chunk\n"), 120000)
	file := append([]byte("head\n"), big...)
	damaged := bytes.Clone(file)
	damaged[len(damaged)/2] = 'X'
	serveFiles(t, b, map[string][]byte{gone: file, gone + ".damaged": damaged})
	for _, o := range []bool{false, true} { // a fetched chunk; an object of an older submitter
		task := schema.Task{Job: "w1", Index: 1, Path: gone, Offset: 5, Length: int64(len(big)), Sum: schema.Checksum(big), Fetch: true}
		if o {
			if _, err := obs.PutBytes(ctx, schema.ChunkObject(2), big); err != nil {
				t.Fatal(err)
			}
			task = schema.Task{Job: "w1", Index: 2, Path: gone, Offset: 5, Length: int64(len(big)), Sum: schema.Checksum(big), Object: schema.ChunkObject(2)}
		}
		data, _ = schema.EncodeTask(task)
		publishTask(t, b.JS, data)
		r, err = schema.DecodeResult(nextResult(t, it).Data())
		if err != nil || r.Err != nil || r.Object == "" || r.Spill != "" || r.Payload != nil {
			t.Fatalf("chunk of task %d: got %+v, %v; want its output as an object", task.Index, r, err)
		}
		out, err := obs.GetBytes(ctx, r.Object)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, bytes.ToUpper(big)) {
			t.Fatalf("output of task %d: %d bytes, want the %d upper-cased input bytes", task.Index, len(out), len(big))
		}
	}

	bad := []byte("abc\n")
	data, _ = schema.EncodeTask(schema.Task{Job: "w1", Index: 3, Path: gone, Length: 4,
		Inline: bad, Sum: schema.Checksum([]byte("abd\n"))})
	publishTask(t, b.JS, data)
	r, err = schema.DecodeResult(nextResult(t, it).Data())
	if err != nil || r.Err == nil || !strings.Contains(r.Err.Message, "checksum mismatch") || r.Path != gone {
		t.Fatalf("damaged inline chunk: got %+v (err %v), want a dead letter naming the checksum and the input", r, err)
	}

	data, _ = schema.EncodeTask(schema.Task{Job: "w1", Index: 4, Path: gone + ".damaged", Offset: 5, Length: int64(len(big)),
		Sum: schema.Checksum(big), Fetch: true})
	publishTask(t, b.JS, data)
	r, err = schema.DecodeResult(nextResult(t, it).Data())
	if err != nil || r.Err == nil || !strings.Contains(r.Err.Message, "checksum mismatch") || r.Path != gone+".damaged" || r.Attempt != 1 {
		t.Fatalf("damaged fetched chunk: got %+v (err %v), want a dead letter at once naming the checksum and the input", r, err)
	}
}

// serveFiles serves files as the ranges of job w1 for the test's
// lifetime, as its submitter would.
func serveFiles(t *testing.T, b *broker.Broker, files map[string][]byte) {
	t.Helper()
	srv, err := transfer.NewServer(transfer.ServerConfig{NC: b.NC, Job: "w1", Files: memFiles(files)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return srv.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Error(err)
		}
	})
}

type memFiles map[string][]byte

func (m memFiles) Open(path string) (io.ReaderAt, error) {
	data, ok := m[path]
	if !ok {
		return nil, fmt.Errorf("serving %s: %w", path, transfer.ErrNotServed)
	}
	return bytes.NewReader(data), nil
}

// attempts passes each ended attempt to a channel.
type attempts chan observe.Attempt

func (a attempts) JobStarted(string, string, int64, int64, int) {}
func (a attempts) TasksPublished(string, string, int64, bool)   {}
func (a attempts) AttemptStarted(observe.Attempt)               {}
func (a attempts) AttemptEnded(ev observe.Attempt)              { a <- ev }
func (a attempts) JobEnded(string, string, error)               {}

// TestWorkerWaitsForSubmitter: a fetched task whose submitter does not
// answer (it is down) is handed back without using up its attempts, even
// with no retries left, and runs once the submitter serves it again.
func TestWorkerWaitsForSubmitter(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := schema.JobRecord{ID: "w1", Kind: schema.KindPipe, Command: []string{"tr", "a-z", "A-Z"}, Partitions: 1,
		Transport: schema.TransportObject, Retries: 0}
	if _, err := b.ProvisionJob(ctx, rec.ID, broker.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	job, err := mapper.ResolveJob(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(attempts, 16)
	w, err := mapper.NewWorker(mapper.Config{JS: b.JS, Job: job, Slots: 1, SpillDir: t.TempDir(), Observer: ended,
		Fetcher: transfer.Fetcher{Tries: 2, Backoff: 10 * time.Millisecond, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	var g errgroup.Group
	g.Go(func() error { return w.Run(ctx) })
	defer func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("worker: %v", err)
		}
	}()
	it := results(t, b.JS)
	chunk := []byte("lost\nand found\n")
	data, _ := schema.EncodeTask(schema.Task{Job: "w1", Index: 0, Path: gone, Length: int64(len(chunk)), Sum: schema.Checksum(chunk), Fetch: true})
	publishTask(t, b.JS, data)
	select {
	case ev := <-ended:
		if !ev.Failed {
			t.Fatalf("the attempt without a submitter: %+v, want it to fail", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no attempt ended within 20s")
	}
	serveFiles(t, b, map[string][]byte{gone: chunk})
	r, err := schema.DecodeResult(nextResult(t, it).Data())
	if err != nil || r.Err != nil || string(r.Payload) != "LOST\nAND FOUND\n" || r.Attempt < 2 {
		t.Fatalf("after the submitter came back: got %+v, %v; want the task's output from a later delivery", r, err)
	}
}
