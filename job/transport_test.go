package job_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// TestObjectTransport runs jobs whose chunks travel in the task messages
// or are fetched from the submitter, and whose large outputs travel
// through the object store, instead of a shared disk: outputs equal the
// sequential ones, and the job's objects are gone once it ends.
func TestObjectTransport(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "transport.txt", 3<<20, 11, true)
	t.Run("pipe", func(t *testing.T) {
		t.Parallel()
		argv := []string{"tr", "a-z", "A-Z"}
		want := sequentialPipe(t, argv, []string{in})
		for _, chunk := range []int64{64 << 10, 1 << 20} { // inline chunks; fetched chunks and objects out
			cfg := baseConfig(t)
			cfg.ID, cfg.Kind, cfg.Inputs, cfg.Command, cfg.ChunkSize = "objpipe", schema.KindPipe, []string{in}, argv, chunk
			cfg.Transport, cfg.Output = schema.TransportObject, filepath.Join(t.TempDir(), "out.txt")
			if _, err := runJob(t, cfg); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(cfg.Output)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("chunk %d: output differs from the sequential run at %s", chunk, firstDiff(got, want))
			}
			checkObjectsGone(t, cfg)
		}
	})
	t.Run("mapreduce", func(t *testing.T) {
		t.Parallel()
		cfg := baseConfig(t)
		cfg.ID, cfg.Kind, cfg.Inputs, cfg.ChunkSize = "objmr", schema.KindMapReduce, []string{in}, 1<<20
		// A reduce command gets every (word, 1) pair: runs of megabytes,
		// which workers ship as objects.
		sum := writeScript(t, t.TempDir(), "sum.sh", `awk -F'\t' '{s[$1]+=$2} END {for (k in s) print k "\t" s[k]}' | LC_ALL=C sort`+"\n")
		cfg.Map, cfg.Reduce, cfg.Partitions = "wordcount", sum, 2
		cfg.Transport, cfg.Output = schema.TransportObject, filepath.Join(t.TempDir(), "counts")
		if _, err := runJob(t, cfg); err != nil {
			t.Fatal(err)
		}
		compareCounts(t, readParts(t, cfg.Output, 2), referenceWordCount(t, []string{in}))
		checkObjectsGone(t, cfg)
	})
}

// checkObjectsGone opens the job's store again and checks that its object
// store bucket was deleted with the job.
func checkObjectsGone(t *testing.T, cfg job.Config) {
	t.Helper()
	ctx := context.Background()
	b, err := broker.Open(ctx, cfg.Broker)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.JS.ObjectStore(ctx, schema.DataBucket(cfg.ID)); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("the object store of job %s after the job: %v, want it deleted", cfg.ID, err)
	}
}

func TestTransportBadValue(t *testing.T) {
	t.Parallel()
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command, cfg.Transport = schema.KindPipe, []string{td(t, "crlf.txt")}, []string{"cat"}, "s3"
	_, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), `Config.Transport "s3" is not valid: use auto, shared or object`) {
		t.Fatalf("got %v, want a bad input naming --transport", err)
	}
}

// TestObjectTransportStoresNoChunks checks that workers fetch chunks too
// large for their task message from the submitter rather than through the
// object store: every task of a job whose command reads its chunk and
// fails ran its command (exit status 3, no fetch failure), and the failed
// job's object store, kept for a resume, never stored anything.
func TestObjectTransportStoresNoChunks(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "transport-drop.txt", 3<<20, 12, true)
	cfg := baseConfig(t)
	cfg.ID, cfg.Kind, cfg.Inputs, cfg.ChunkSize = "objdrop", schema.KindPipe, []string{in}, 1<<20
	cfg.Command, cfg.Retries = []string{"sh", "-c", "cat >/dev/null; exit 3"}, -1
	cfg.Transport, cfg.Output = schema.TransportObject, filepath.Join(t.TempDir(), "out.txt")
	rep, err := runJob(t, cfg)
	var failed *job.TasksFailedError
	// The first chunks are 1 MiB; the last ones shrink (the taper), so
	// there are at least 3 tasks.
	if !errors.As(err, &failed) || rep == nil || rep.Tasks < 3 || len(failed.Dead) != rep.Tasks {
		t.Fatalf("got %v, want every task failed, at least 3", err)
	}
	for _, d := range failed.Dead {
		if d.Error.ExitStatus != 3 {
			t.Errorf("task %d: %+v, want its command's exit status 3", d.Index, d)
		}
	}
	ctx := context.Background()
	b, err := broker.Open(ctx, cfg.Broker)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The stream under the object store counts every chunk of every
	// object ever put, deleted or not.
	st, err := b.JS.Stream(ctx, "OBJ_"+schema.DataBucket(cfg.ID))
	if err != nil {
		t.Fatalf("the failed job's object store: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.LastSeq; n != 0 {
		t.Errorf("the object store of the job stored %d messages: chunks are fetched, not stored", n)
	}
}
