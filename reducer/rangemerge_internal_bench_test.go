package reducer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jetmr/jetmr/schema"
)

// benchRuns writes n runs of each format of the same distinct keys, as a
// partition's final merge reads them.
func benchRuns(b *testing.B, n, pairs int) []rangeFile {
	dir := b.TempDir()
	var files []rangeFile
	for r := range n {
		run := make([]schema.Pair, pairs)
		for i := range run {
			run[i] = schema.Pair{Key: fmt.Appendf(nil, "user-%09d", (i*n+r)*7), Value: fmt.Appendf(nil, "%d", i%97)}
		}
		for _, f := range []rangeFile{{fmt.Sprintf("%s/r%d.run", dir, r), formatRunfile}, {fmt.Sprintf("%s/r%d.result", dir, r), formatResult}} {
			writeRunFile(b, f.path, f.format, run)
			files = append(files, f)
		}
	}
	return files
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRangeMergeReads measures what the split of a final merge reads
// runs with, on one goroutine: the scan of every run, then each run read
// in 4 ranges. cpu-ns/op is the process's CPU time, steadier than the
// elapsed time on a loaded machine.
//
//	go test -run '^$' -bench RangeMergeReads -benchmem -count 5 ./reducer
func BenchmarkRangeMergeReads(b *testing.B) {
	files := benchRuns(b, 4, 200_000)
	var size int64
	for _, f := range files {
		fi, err := os.Stat(f.path)
		if err != nil {
			b.Fatal(err)
		}
		size += fi.Size()
	}
	b.SetBytes(2 * size)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		for _, f := range files {
			idx, err := scanRun(f.path, f.format, nil)
			if err != nil {
				b.Fatal(err)
			}
			bounds := [][]byte{nil}
			for q := 1; q < 4; q++ {
				bounds = append(bounds, idx.marks[q*len(idx.marks)/4].key)
			}
			bounds = append(bounds, nil)
			for q := range 4 {
				src, file, err := openRange(idx, bounds[q], bounds[q+1], nil)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, _, err := src.Next(); errors.Is(err, io.EOF) {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
				file.Close()
			}
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
