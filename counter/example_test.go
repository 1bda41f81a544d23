package counter_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/splitter"
)

// A Go map function counts the blank lines it skips; the run report sums
// the counts of every task.
func ExampleAdd() {
	tmp, _ := os.MkdirTemp("", "jetmr-example-")
	defer os.RemoveAll(tmp)

	reg := mapper.NewRegistry()
	reg.RegisterMap("words", func(ctx context.Context, chunk []byte, emit mapper.Emitter) error {
		for _, line := range bytes.Split(bytes.TrimSuffix(chunk, []byte("\n")), []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				counter.Add(ctx, "Input", "Blank lines", 1)
				continue
			}
			for _, w := range bytes.Fields(line) {
				if err := emit.Emit(w, []byte("1")); err != nil {
					return err
				}
			}
		}
		return nil
	})
	rep, err := job.Run(context.Background(), job.Config{
		Kind:            "mapreduce",
		Source:          splitter.Lines{R: strings.NewReader("a b\n\nb c\n \n\nc\n")},
		Output:          filepath.Join(tmp, "counts"),
		Registry:        reg,
		MapReduceConfig: job.MapReduceConfig{Map: "words", Reduce: "sum"},
		Broker:          broker.Config{StoreDir: filepath.Join(tmp, "store")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range rep.Counters {
		fmt.Printf("%s,%s = %d\n", c.Group, c.Name, c.Value)
	}
	// Output:
	// Input,Blank lines = 3
}
