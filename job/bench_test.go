package job_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// BenchmarkTinyTasks measures the per-task cost of the whole pipeline:
// 4096 tasks of 1 KiB, mapped by "lines" and reduced by "sum".
func BenchmarkTinyTasks(b *testing.B) {
	dir := b.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat("some words on a line\n", 4096*1024/21)), 0o644); err != nil {
		b.Fatal(err)
	}
	var tasks int
	for i := range b.N {
		out := filepath.Join(dir, "out", strings.Repeat("x", i+1))
		os.MkdirAll(filepath.Dir(out), 0o755)
		r, err := job.Run(context.Background(), job.Config{
			Kind: "mapreduce", Inputs: []string{in}, Output: out, MapReduceConfig: job.MapReduceConfig{Map: "lines", Reduce: "sum"},
			ChunkSize: 1 << 10, Broker: broker.Config{StoreDir: filepath.Join(dir, "store")},
		})
		if err != nil {
			b.Fatal(err)
		}
		tasks += r.Tasks
	}
	b.ReportMetric(float64(tasks)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkHighCardinality profiles a keyed job with many distinct keys:
// word count and sum over $JETMR_BENCH_INPUT (a log-like file of one id per
// line; see bench's "cardinality" scenario), skipped when it is unset,
// with the memory budget $JETMR_BENCH_MEMORY (default: the default).
//
//	JETMR_BENCH_INPUT=ids.txt go test -run '^$' -bench HighCardinality -benchtime 1x -cpuprofile cpu.out ./job
func BenchmarkHighCardinality(b *testing.B) {
	in := os.Getenv("JETMR_BENCH_INPUT")
	if in == "" {
		b.Skip("JETMR_BENCH_INPUT is not set")
	}
	var memory int64
	if m := os.Getenv("JETMR_BENCH_MEMORY"); m != "" {
		var err error
		if memory, err = strconv.ParseInt(m, 10, 64); err != nil {
			b.Fatalf("JETMR_BENCH_MEMORY: %v", err)
		}
	}
	dir := b.TempDir()
	for i := range b.N {
		_, err := job.Run(context.Background(), job.Config{
			Kind: schema.KindMapReduce, Inputs: []string{in}, Output: filepath.Join(dir, "out-"+strconv.Itoa(i)), Memory: memory,
			MapReduceConfig: job.MapReduceConfig{Map: "wordcount", Reduce: "sum"},
			Broker:          broker.Config{StoreDir: filepath.Join(dir, "store")},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeCat profiles jetmr's own work on the pipe path: 16 MiB
// through `cat`, whose own CPU is negligible, so that the profile shows
// reading, storing, result encoding and the ordered write.
//
//	go test -run '^$' -bench PipeCat -benchtime 5x -cpuprofile cpu.out ./job
func BenchmarkPipeCat(b *testing.B) {
	in := generatedText(b, "pipe-16m", 16<<20, 17, true)
	dir := b.TempDir()
	b.SetBytes(16 << 20)
	for i := range b.N {
		_, err := job.Run(context.Background(), job.Config{
			Kind: schema.KindPipe, Inputs: []string{in}, Output: filepath.Join(dir, "out-"+strconv.Itoa(i)), Command: []string{"cat"},
			Slots: 2, Broker: broker.Config{StoreDir: filepath.Join(dir, "store-"+strconv.Itoa(i))},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
