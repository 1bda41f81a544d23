package job_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/internal/testbuf"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
)

// startNATS starts a NATS server with JetStream listening on a random
// loopback port, without authentication, and returns its URL and the
// function that shuts it down.
func startNATS(storeDir string) (url string, shutdown func(), err error) {
	return startNATSOn(storeDir, -1)
}

// startNATSOn is startNATS on a given port (-1: random).
func startNATSOn(storeDir string, port int) (url string, shutdown func(), err error) {
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir,
		NoSigs: true, NoLog: true, ServerName: "jetmr-test",
	})
	if err != nil {
		return "", nil, err
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return "", nil, errors.New("NATS server not ready")
	}
	return s.ClientURL(), func() { s.Shutdown(); s.WaitForShutdown() }, nil
}

func natsServer(t *testing.T) string {
	t.Helper()
	url, shutdown, err := startNATS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shutdown)
	return url
}

var (
	customOnce sync.Once
	customBin  string
	customErr  error
)

// customWorker builds testdata/customworker, a worker binary of the kind a
// user writes: the built-ins plus the Go map function "initials".
func customWorker(t *testing.T) string {
	t.Helper()
	customOnce.Do(func() {
		customBin = filepath.Join(sharedDir, "customworker")
		out, err := exec.Command("go", "build", "-o", customBin, "./testdata/customworker").CombinedOutput()
		if err != nil {
			customErr = fmt.Errorf("building the custom worker: %v\n%s", err, out)
		}
	})
	if customErr != nil {
		t.Fatal(customErr)
	}
	return customBin
}

// startCustomWorkers starts n custom worker processes against url; they
// are stopped with SIGTERM, and must exit 0, when the test ends.
func startCustomWorkers(t *testing.T, url string, n int) {
	t.Helper()
	bin := customWorker(t)
	for range n {
		cmd := exec.Command(bin, url)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("custom worker after SIGTERM: %v; stderr:\n%s", err, stderr.String())
			}
		})
	}
	waitForWorkers(t, url, n)
}

// waitForWorkers waits until n workers have a heartbeat on the broker.
func waitForWorkers(t *testing.T, url string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), jobTimeout)
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for {
		ws, err := job.Workers(ctx, b)
		if err == nil && len(ws) >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d workers did not start within %s (%v)", n, jobTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// initials is the reference for the custom worker's map function.
func initials(ctx context.Context, chunk []byte, emit mapper.Emitter) error {
	for _, w := range strings.FieldsFunc(string(chunk), func(r rune) bool { return !isLetter(r) }) {
		r := []rune(strings.ToLower(w))[0]
		if err := emit.Emit([]byte(string(r)), []byte("1")); err != nil {
			return err
		}
	}
	return nil
}

// TestCustomFunctionOnWorkers runs a Go map function on the embedded
// default and on two worker processes built from a user's main: both give
// the same output.
func TestCustomFunctionOnWorkers(t *testing.T) {
	t.Parallel()
	input := generatedText(t, "custom", 300<<10, 11, false)
	reg := mapper.NewRegistry()
	reg.RegisterMap("initials", initials)

	local := baseConfig(t)
	local.Kind, local.Inputs, local.Map, local.Reduce, local.Registry = "mapreduce", []string{input}, "initials", "sum", reg
	local.Output, local.ChunkSize, local.Partitions = filepath.Join(t.TempDir(), "local"), 16<<10, 2
	if _, err := runJob(t, local); err != nil {
		t.Fatal(err)
	}
	want := readParts(t, local.Output, 2)

	url := natsServer(t)
	startCustomWorkers(t, url, 2)
	remote := local
	remote.Registry = nil // the submitter does not know "initials": only the workers do
	remote.Broker = broker.Config{URL: url}
	remote.Output = filepath.Join(t.TempDir(), "remote")
	rep, err := runJob(t, remote)
	if err != nil {
		t.Fatal(err)
	}
	if got := readParts(t, remote.Output, 2); !maps.Equal(got, want) {
		t.Errorf("the workers' output (%d keys) differs from the embedded run's (%d keys)", len(got), len(want))
	}
	if len(rep.Workers) != 2 {
		t.Errorf("%d workers ran tasks, want the 2 worker processes", len(rep.Workers))
	}
}

// TestUnknownFunctionFails: a job naming a function no live worker has
// fails with an error that names the function, instead of waiting.
func TestUnknownFunctionFails(t *testing.T) {
	t.Parallel()
	url := natsServer(t)
	startCustomWorkers(t, url, 1)
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Map, cfg.Reduce = "mapreduce", []string{td(t, "text")}, "nosuchfunction", "sum"
	cfg.Broker, cfg.Output = broker.Config{URL: url}, filepath.Join(t.TempDir(), "out")
	_, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrNoWorker) || !errors.Is(err, job.ErrBadInput) {
		t.Fatalf("err = %v, want ErrNoWorker and ErrBadInput", err)
	}
	if !strings.Contains(err.Error(), `map "nosuchfunction"`) || !strings.Contains(err.Error(), "initials") {
		t.Errorf("error does not name the missing function and the worker's: %v", err)
	}
	if _, err := os.Stat(cfg.Output); !os.IsNotExist(err) {
		t.Errorf("output %s exists after a failed job", cfg.Output)
	}
}

// TestLocalWorkersNeedNATS: without an external broker no worker could
// join, so a job without local workers is refused before it starts.
func TestLocalWorkersNeedNATS(t *testing.T) {
	t.Parallel()
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command, cfg.LocalWorkers = "pipe", []string{td(t, "text")}, []string{"cat"}, -1
	_, err := runJob(t, cfg)
	var bad *errs.BadInputError
	if !errors.As(err, &bad) || bad.Setting != "Config.LocalWorkers" || !strings.Contains(err.Error(), "Config.Broker.URL") {
		t.Fatalf("err = %v, want bad input about Config.LocalWorkers naming Config.Broker.URL", err)
	}
}

// TestWaitingForWorkers: a job no worker takes says so in its log, with
// the number of queued tasks, until it is cancelled.
func TestWaitingForWorkers(t *testing.T) {
	defer job.SetWaitLogEvery(int64(200 * time.Millisecond))()
	url := natsServer(t)
	logs := &testbuf.Buffer{}
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command = "pipe", []string{td(t, "text")}, []string{"cat"}
	cfg.Broker, cfg.Output = broker.Config{URL: url}, filepath.Join(t.TempDir(), "out")
	cfg.Logger = zerolog.New(logs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := job.Run(ctx, cfg); done <- err }()
	deadline := time.After(jobTimeout)
	for !strings.Contains(logs.String(), "waiting for workers") {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("job ended (%v) without waiting for workers; log:\n%s", err, logs)
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("no waiting message within %s; log:\n%s", jobTimeout, logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled job returned %v", err)
	}
	if !strings.Contains(logs.String(), `"queued":`) {
		t.Errorf("waiting message does not count the queued tasks:\n%s", logs)
	}
}

func isLetter(r rune) bool { return unicode.IsLetter(r) }

// TestWorkersReconnect: workers stay joined through a restart of the NATS
// server (same address and store): a job submitted afterwards runs on them.
func TestWorkersReconnect(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	url, shutdown, err := startNATS(store)
	if err != nil {
		t.Fatal(err)
	}
	startCustomWorkers(t, url, 2)
	shutdown()
	port, err := strconv.Atoi(url[strings.LastIndex(url, ":")+1:])
	if err != nil {
		t.Fatal(err)
	}
	url2, shutdown2, err := startNATSOn(store, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shutdown2) // after the workers' cleanup: they drain first
	if url2 != url {
		t.Fatalf("restarted server at %s, want %s", url2, url)
	}
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Map, cfg.Reduce = "mapreduce", []string{td(t, "text")}, "initials", "sum"
	cfg.Broker, cfg.Output, cfg.ChunkSize = broker.Config{URL: url}, filepath.Join(t.TempDir(), "out"), 4<<10
	if _, err := runJob(t, cfg); err != nil {
		t.Fatal(err)
	}
	reg := mapper.NewRegistry()
	reg.RegisterMap("initials", initials)
	local := baseConfig(t)
	local.Kind, local.Inputs, local.Map, local.Reduce, local.Registry = "mapreduce", cfg.Inputs, "initials", "sum", reg
	local.Output = filepath.Join(t.TempDir(), "local")
	if _, err := runJob(t, local); err != nil {
		t.Fatal(err)
	}
	if got, want := readParts(t, cfg.Output, 1), readParts(t, local.Output, 1); !maps.Equal(got, want) {
		t.Errorf("output after the restart (%d keys) differs from the embedded run's (%d keys)", len(got), len(want))
	}
}

// TestSQLiteNeedsLocalWorkers refuses a SQLite migration whose batches
// would all run on workers elsewhere, which cannot open the file.
func TestSQLiteNeedsLocalWorkers(t *testing.T) {
	t.Parallel()
	cfg := baseConfig(t)
	cfg.Kind, cfg.Broker = "migrate", broker.Config{URL: "nats://127.0.0.1:1"}
	cfg.Migration = &job.Migration{DB: "sqlite:" + filepath.Join(t.TempDir(), "app.db"), Table: "t", Key: "id", SQL: migUpdate}
	_, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), "Config.LocalWorkers N") {
		t.Fatalf("err = %v, want bad input naming --local-workers", err)
	}
}
