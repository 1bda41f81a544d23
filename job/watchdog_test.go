package job

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/schema"
)

// TestWatchdogReportsLostTasks removes a queued task from the stream behind
// jetmr's back: the job must fail with ErrTasksLost instead of waiting for
// the task forever.
func TestWatchdogReportsLostTasks(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat("a line of text\n", 48000)), 0o644); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	started := make(chan string, 1)
	cfg := Config{
		ID: "lost", Kind: schema.KindPipe, Inputs: []string{in}, Command: []string{"sh", "-c", "sleep 0.3; cat"},
		Output: filepath.Join(dir, "out.txt"), ChunkSize: 72 << 10, Slots: 1, // 10 tasks, too big to be fetched ahead
		Broker:    broker.Config{StoreDir: store},
		Started:   func(id string) { started <- id },
		LossCheck: 200 * time.Millisecond,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Run the job and, once its tasks are queued, delete the last one.
	p, err := validate(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Open(ctx, cfg.Broker)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		_, err := p.run(ctx, b, time.Now())
		done <- err
	}()
	<-started
	deleted := false
	for deadline := time.Now().Add(20 * time.Second); !deleted && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s, err := b.JS.Stream(ctx, schema.TaskStream("lost"))
		if err != nil {
			continue
		}
		st := s.CachedInfo().State
		if st.LastSeq == 10 && st.Msgs >= 5 { // all published, the last not delivered yet
			if err := s.DeleteMsg(ctx, st.LastSeq); err != nil {
				t.Fatal(err)
			}
			deleted = true
		}
	}
	if !deleted {
		t.Fatal("the tasks never queued up")
	}
	err = <-done
	if !errors.Is(err, ErrTasksLost) || !strings.Contains(err.Error(), "1 of ") {
		t.Fatalf("got %v, want ErrTasksLost naming 1 lost task", err)
	}
	if _, err := os.Stat(cfg.Output); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an output was published by a job that lost a task")
	}
}
