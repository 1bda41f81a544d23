package migrate

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jetmr/jetmr/migrate/pgtest"
)

// BenchmarkPostgresMigrate1M compares, on a throwaway PostgreSQL, three
// ways to run "SET n = n + 1" over a table of 1,000,000 rows: batches of
// 10,000 run one after the other on one connection, the same batches on
// two goroutines (two connections), and a single UPDATE of the whole
// table. Each variant starts from a vacuumed table. Run it with
//
//	go test ./migrate -run '^$' -bench PostgresMigrate1M -benchtime 3x
func BenchmarkPostgresMigrate1M(b *testing.B) {
	const total, per = 1_000_000, 10_000
	srv := pgtest.Shared(b)
	ctx := context.Background()
	url, err := srv.CreateDatabase(ctx, fmt.Sprintf("bench%d", pgDatabases.Add(1)))
	if err != nil {
		b.Fatal(err)
	}
	seqDB := openBench(b, url+"&pool_max_conns=1")
	parDB := openBench(b, url+"&pool_max_conns=2")
	exec(b, seqDB, "CREATE TABLE t (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
	exec(b, seqDB, fmt.Sprintf("INSERT INTO t (id) SELECT g FROM generate_series(1, %d) g", total))
	exec(b, seqDB, "VACUUM ANALYZE t")

	spec := Spec{Table: "t", Key: "id", SQL: updateSQL}
	spec.Job = "bench-check"
	if err := Check(ctx, seqDB, spec); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var batches []Batch
	if err := Batches(ctx, seqDB, spec, per, func(bt Batch) error { batches = append(batches, bt); return nil }); err != nil {
		b.Fatal(err)
	}
	split := time.Since(start)

	run := func(db DB, job string, workers int) time.Duration {
		spec := spec
		spec.Job = job
		work := make(chan Batch)
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for bt := range work {
					if _, err := RunBatch(ctx, db, spec, bt); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, bt := range batches {
			work <- bt
		}
		close(work)
		wg.Wait()
		return time.Since(start)
	}
	vacuum := func() {
		b.StopTimer()
		exec(b, seqDB, "VACUUM t")
		b.StartTimer()
	}

	var seq, par, single time.Duration
	iterations := 0
	for i := 0; i < b.N; i++ {
		vacuum()
		seq += run(seqDB, fmt.Sprintf("seq-%d", i), 1)
		vacuum()
		par += run(parDB, fmt.Sprintf("par-%d", i), 2)
		vacuum()
		start := time.Now()
		exec(b, seqDB, "UPDATE t SET n = n + 1")
		single += time.Since(start)
		iterations++
	}
	b.StopTimer()
	if n := queryInt(b, seqDB, "SELECT count(*) FROM t WHERE n <> $1", 3*iterations); n != 0 {
		b.Errorf("%d rows were not updated exactly 3 times per iteration", n)
	}
	rate := func(d time.Duration) float64 { return float64(total*iterations) / d.Seconds() }
	b.ReportMetric(rate(seq), "seq_rows/s")
	b.ReportMetric(rate(par), "2goroutines_rows/s")
	b.ReportMetric(rate(single), "single_update_rows/s")
	b.ReportMetric(rate(par)/rate(seq), "2goroutines/seq")
	b.ReportMetric(rate(single)/rate(seq), "single_update/seq")
	b.ReportMetric(split.Seconds(), "split_s")
	b.Logf("%d batches of %d rows; split in %v; per iteration: sequential %v, 2 goroutines %v, single UPDATE %v",
		len(batches), per, split.Round(time.Millisecond), (seq / time.Duration(iterations)).Round(time.Millisecond),
		(par / time.Duration(iterations)).Round(time.Millisecond), (single / time.Duration(iterations)).Round(time.Millisecond))
}

func openBench(b *testing.B, url string) DB {
	db, err := Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}
