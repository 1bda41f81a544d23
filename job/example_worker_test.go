package job_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/splitter"
)

// A worker binary of your own is a short main: register your functions,
// join the broker, run a pool until SIGTERM. Jobs submitted anywhere (for
// instance with jetmr mapreduce --nats URL --map shout) then run them:
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		reg := mapper.NewRegistry()
//		reg.RegisterMap("shout", shout)
//		b, err := broker.Open(ctx, broker.Config{URL: os.Getenv("NATS_URL")})
//		if err != nil {
//			log.Fatal(err)
//		}
//		pool, _ := mapper.NewPool(mapper.PoolConfig{Broker: b, Registry: reg})
//		if err := pool.Run(ctx); err != nil { // nil once drained after SIGTERM
//			log.Fatal(err)
//		}
//	}
//
// Here the worker and the submitter share one process and a NATS server
// started for the example.
func Example_workerBinary() {
	tmp, _ := os.MkdirTemp("", "jetmr-example-")
	defer os.RemoveAll(tmp)
	natsURL, shutdown, err := startNATS(filepath.Join(tmp, "nats"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer shutdown()

	// The worker.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	reg := mapper.NewRegistry()
	reg.RegisterMap("shout", func(ctx context.Context, chunk []byte, emit mapper.Emitter) error {
		for _, w := range strings.Fields(string(chunk)) {
			if err := emit.Emit([]byte(strings.ToUpper(w)), []byte("1")); err != nil {
				return err
			}
		}
		return nil
	})
	b, err := broker.Open(ctx, broker.Config{URL: natsURL})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	pool, _ := mapper.NewPool(mapper.PoolConfig{Broker: b, Registry: reg, Slots: 2})
	stopped := make(chan error, 1)
	go func() { stopped <- pool.Run(ctx) }()

	// The submitter names "shout", which only the worker knows.
	_, err = job.Run(context.Background(), job.Config{
		Kind:            "mapreduce",
		Source:          splitter.Lines{R: strings.NewReader("hey you\nhey\n")},
		Output:          filepath.Join(tmp, "shouts"),
		MapReduceConfig: job.MapReduceConfig{Map: "shout", Reduce: "sum"},
		Broker:          broker.Config{URL: natsURL},
	})
	stop()
	fmt.Println("job:", err, "worker:", <-stopped)
	printParts(filepath.Join(tmp, "shouts"))
	// Output:
	// job: <nil> worker: <nil>
	// HEY	2
	// YOU	1
}
