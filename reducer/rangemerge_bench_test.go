package reducer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// BenchmarkCommitMerge measures a fold's final merge at Commit, of many
// distinct keys in kept runs (results' runs), spilled runs and the table:
// in one merge (parallel 1) and split by key ranges (parallel 2). Only
// Commit is timed; the results are merged in beforehand. cpu-ns/op is
// the process's CPU time in Commit, steadier than the elapsed time on a
// loaded machine.
//
//	go test -run '^$' -bench CommitMerge -benchmem -count 5 ./reducer
func BenchmarkCommitMerge(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var results []*schema.Result
	for i := range uint64(52) {
		pairs := map[string]string{}
		for range 12000 {
			pairs[fmt.Sprintf("user-%08d", rng.IntN(2_000_000))] = strconv.Itoa(rng.IntN(50) + 1)
		}
		results = append(results, orderedRun(b, schema.Keys{}, i, pairs))
	}
	for _, parallel := range []int{1, 2} {
		b.Run("parallel="+strconv.Itoa(parallel), func(b *testing.B) {
			var bytes int64
			for _, r := range results {
				bytes += int64(len(r.Payload))
			}
			b.SetBytes(bytes)
			var cpu time.Duration
			for i := range b.N {
				b.StopTimer()
				cfg := reducer.KeyedConfig{Job: "bench" + strconv.Itoa(i), Parallel: parallel, Memory: 4 << 20}
				s := rangeSink(b, b.TempDir(), cfg, 1, 8, results)
				b.StartTimer()
				start := reducer.CPUTime()
				if err := s.Commit(context.Background(), false); err != nil {
					b.Fatal(err)
				}
				cpu += reducer.CPUTime() - start
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkCommitMergeKeyFields is BenchmarkCommitMerge with keys of two
// fields, sorted and merged by the text order bytewise (a job recorded
// before field-by-field text order) and field by field.
//
//	go test -run '^$' -bench CommitMergeKeyFields -count 5 ./reducer
func BenchmarkCommitMergeKeyFields(b *testing.B) {
	for _, k := range []struct {
		name string
		keys schema.Keys
	}{
		{"bytewise", schema.Keys{Fields: 2}},
		{"by-field", schema.Keys{Fields: 2, TextByField: true}},
	} {
		rng := rand.New(rand.NewPCG(5, 6))
		var results []*schema.Result
		for i := range uint64(26) {
			pairs := map[string]string{}
			for range 12000 {
				pairs[fmt.Sprintf("user-%06d\t%d", rng.IntN(20_000), rng.IntN(100))] = strconv.Itoa(rng.IntN(50) + 1)
			}
			results = append(results, orderedRun(b, k.keys, i, pairs))
		}
		b.Run(k.name, func(b *testing.B) {
			var cpu time.Duration
			for i := range b.N {
				b.StopTimer()
				cfg := reducer.KeyedConfig{Job: "bench" + strconv.Itoa(i), Parallel: 1, Memory: 4 << 20, Keys: k.keys}
				s := rangeSink(b, b.TempDir(), cfg, 1, 8, results)
				b.StartTimer()
				start := reducer.CPUTime()
				if err := s.Commit(context.Background(), false); err != nil {
					b.Fatal(err)
				}
				cpu += reducer.CPUTime() - start
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
