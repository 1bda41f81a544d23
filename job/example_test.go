package job_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/splitter"
)

// printParts prints the part files of a map-reduce output directory.
func printParts(dir string) {
	parts, _ := filepath.Glob(filepath.Join(dir, "part-*"))
	for _, p := range parts {
		data, _ := os.ReadFile(p)
		fmt.Print(string(data))
	}
}

// Count the words of a string on the embedded NATS server.
func Example_wordCount() {
	tmp, _ := os.MkdirTemp("", "jetmr-example-")
	defer os.RemoveAll(tmp)

	_, err := job.Run(context.Background(), job.Config{
		Kind:            "mapreduce",
		Source:          splitter.Lines{R: strings.NewReader("the cat\nThe dog\nthe end\n")},
		Output:          filepath.Join(tmp, "counts"),
		MapReduceConfig: job.MapReduceConfig{Map: "wordcount", Reduce: "sum"},
		Broker:          broker.Config{StoreDir: filepath.Join(tmp, "store")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	printParts(filepath.Join(tmp, "counts"))
	// Output:
	// cat	1
	// dog	1
	// end	1
	// the	3
}

// Register a map function written in Go and run a job that names it.
func Example_customMap() {
	tmp, _ := os.MkdirTemp("", "jetmr-example-")
	defer os.RemoveAll(tmp)

	reg := mapper.NewRegistry()
	// lengths emits each line's length in characters as the key.
	reg.RegisterMap("lengths", func(ctx context.Context, chunk []byte, emit mapper.Emitter) error {
		for _, line := range bytes.Split(bytes.TrimSuffix(chunk, []byte("\n")), []byte("\n")) {
			if err := emit.Emit([]byte(strconv.Itoa(len([]rune(string(line))))), []byte("1")); err != nil {
				return err
			}
		}
		return nil
	})
	_, err := job.Run(context.Background(), job.Config{
		Kind:            "mapreduce",
		Source:          splitter.Lines{R: strings.NewReader("ab\ncd\nxyz\nnaïve\n")},
		Output:          filepath.Join(tmp, "lengths"),
		MapReduceConfig: job.MapReduceConfig{Map: "lengths", Reduce: "count"},
		Registry:        reg,
		Broker:          broker.Config{StoreDir: filepath.Join(tmp, "store")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	printParts(filepath.Join(tmp, "lengths"))
	// Output:
	// 2	2
	// 3	1
	// 5	1
}

// Register a reduce written in Go: it sees all the values of one key.
func Example_customReduce() {
	tmp, _ := os.MkdirTemp("", "jetmr-example-")
	defer os.RemoveAll(tmp)

	reg := mapper.NewRegistry()
	reg.RegisterMap("pairs", func(ctx context.Context, chunk []byte, emit mapper.Emitter) error {
		for _, line := range strings.Fields(string(chunk)) {
			k, v, _ := strings.Cut(line, "=")
			if err := emit.Emit([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	// spread emits the difference between a key's largest and smallest value.
	reg.RegisterReduce("spread", func(ctx context.Context, key []byte, values [][]byte, emit func([]byte) error) error {
		lo, hi := 0, 0
		for i, v := range values {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return err
			}
			if i == 0 || n < lo {
				lo = n
			}
			if i == 0 || n > hi {
				hi = n
			}
		}
		return emit([]byte(strconv.Itoa(hi - lo)))
	})
	_, err := job.Run(context.Background(), job.Config{
		Kind:            "mapreduce",
		Source:          splitter.Lines{R: strings.NewReader("a=3 b=7\na=10\nb=1 a=4\n")},
		Output:          filepath.Join(tmp, "spread"),
		MapReduceConfig: job.MapReduceConfig{Map: "pairs", Reduce: "spread"},
		Registry:        reg,
		Broker:          broker.Config{StoreDir: filepath.Join(tmp, "store")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	printParts(filepath.Join(tmp, "spread"))
	// Output:
	// a	7
	// b	6
}

// numbers is a custom source: it makes one task per block of n numbers,
// carried in the task message. Implementing splitter.Describer makes jobs
// over it resumable.
type numbers struct{ n, block int }

func (s numbers) Split(ctx context.Context, _ int64, yield func(splitter.Chunk) error) error {
	for lo := 1; lo <= s.n; lo += s.block {
		var b strings.Builder
		for i := lo; i < lo+s.block && i <= s.n; i++ {
			fmt.Fprintln(&b, i)
		}
		if err := yield(splitter.Chunk{Data: []byte(b.String())}); err != nil {
			return err
		}
	}
	return nil
}

func (s numbers) Describe() ([]string, []int64) {
	return []string{fmt.Sprintf("numbers 1..%d", s.n)}, []int64{int64(s.n)}
}

// Feed a job from a source of your own.
func Example_customSource() {
	tmp, _ := os.MkdirTemp("", "jetmr-example-")
	defer os.RemoveAll(tmp)

	reg := mapper.NewRegistry()
	reg.RegisterMap("parity", func(ctx context.Context, chunk []byte, emit mapper.Emitter) error {
		for _, f := range strings.Fields(string(chunk)) {
			n, _ := strconv.Atoi(f)
			key := map[bool]string{true: "even", false: "odd"}[n%2 == 0]
			if err := emit.Emit([]byte(key), []byte(f)); err != nil {
				return err
			}
		}
		return nil
	})
	report, err := job.Run(context.Background(), job.Config{
		Kind:            "mapreduce",
		Source:          numbers{n: 100, block: 10},
		Output:          filepath.Join(tmp, "sums"),
		MapReduceConfig: job.MapReduceConfig{Map: "parity", Reduce: "sum"},
		Registry:        reg,
		Broker:          broker.Config{StoreDir: filepath.Join(tmp, "store")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("tasks:", report.Tasks)
	printParts(filepath.Join(tmp, "sums"))
	// Output:
	// tasks: 10
	// even	2550
	// odd	2500
}

// Upper-case a stream given as the input "-" next to a gzip file: the
// stream and the decompressed file are cut into chunks of whole lines,
// and the output keeps the order of the inputs.
func Example_streamedInputs() {
	tmp, _ := os.MkdirTemp("", "jetmr-example-")
	defer os.RemoveAll(tmp)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("from a gzip file\n"))
	zw.Close()
	os.WriteFile(filepath.Join(tmp, "old.log.gz"), gz.Bytes(), 0o644)

	var out bytes.Buffer
	_, err := job.Run(context.Background(), job.Config{
		Kind:    "pipe",
		Inputs:  []string{"-", filepath.Join(tmp, "old.log.gz")},
		Stdin:   strings.NewReader("from standard input\n"),
		Stdout:  &out,
		Command: []string{"tr", "a-z", "A-Z"},
		Broker:  broker.Config{StoreDir: filepath.Join(tmp, "store")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(out.String())
	// Output:
	// FROM STANDARD INPUT
	// FROM A GZIP FILE
}

// Secondary sort: the key is a user and a time (two fields), partitioned
// by the user and sorted by the time as a number, so that a map-only
// job's part files list each user's events in time order.
func Example_secondarySort() {
	tmp, _ := os.MkdirTemp("", "jetmr-example-")
	defer os.RemoveAll(tmp)

	events := "bob\t900\tlogout\nann\t1500\tbuy\nbob\t80\tlogin\nann\t300\tlogin\n"
	_, err := job.Run(context.Background(), job.Config{
		Kind:   "mapreduce",
		Source: splitter.Lines{R: strings.NewReader(events)},
		Output: filepath.Join(tmp, "by-user"),
		MapReduceConfig: job.MapReduceConfig{
			Map: "cat", Reduce: "none",
			KeyFields: 2, PartitionFields: 1, KeyOrder: "text,numeric",
		},
		Broker: broker.Config{StoreDir: filepath.Join(tmp, "store")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	printParts(filepath.Join(tmp, "by-user"))
	// Output:
	// ann	300	login
	// ann	1500	buy
	// bob	80	login
	// bob	900	logout
}
