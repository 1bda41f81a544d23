package job_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// TestRunOnSharesABroker runs two jobs at once on one open broker, then a
// third: RunOn neither opens a broker of its own (the embedded server
// locks its store) nor closes the caller's.
func TestRunOnSharesABroker(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	cfg := baseConfig(t)
	b, err := broker.Open(ctx, cfg.Broker)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	in := generatedText(t, "runon.txt", 256<<10, 7, true)
	dir := t.TempDir()
	run := func(id string, argv ...string) error {
		c := cfg
		c.ID, c.Kind, c.Inputs, c.Command, c.ChunkSize = id, schema.KindPipe, []string{in}, argv, 16<<10
		c.Output = filepath.Join(dir, id+".txt")
		_, err := job.RunOn(ctx, b, c)
		return err
	}
	var g errgroup.Group
	g.Go(func() error { return run("upper", "tr", "a-z", "A-Z") })
	g.Go(func() error { return run("lower", "tr", "A-Z", "a-z") })
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := run("again", "cat"); err != nil {
		t.Fatalf("a job after two on the same broker: %v", err)
	}
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"upper": strings.ToUpper(string(data)), "lower": strings.ToLower(string(data)), "again": string(data)} {
		got, err := os.ReadFile(filepath.Join(dir, id+".txt"))
		if err != nil || string(got) != want {
			t.Errorf("job %s: output of %d bytes (%v), want %d", id, len(got), err, len(want))
		}
	}
}
