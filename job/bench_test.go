package job_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
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
