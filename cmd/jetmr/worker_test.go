package main_test

import (
	"encoding/json"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetmr/jetmr/internal/clitest"
)

// plainNATS starts a NATS server with JetStream on a random loopback port,
// without authentication, for the test's lifetime.
func plainNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

// workerProc is a running `jetmr worker`.
type workerProc struct{ *clitest.Proc }

// startWorker starts `jetmr worker --nats url` with args.
func startWorker(t *testing.T, url string, args ...string) *workerProc {
	t.Helper()
	return &workerProc{clitest.Start(t, bin, "", nil, append([]string{"worker", "--nats", url, "--log-format", "json"}, args...)...)}
}

// waitUp waits until the worker logs that it waits for jobs.
func (w *workerProc) waitUp(t *testing.T) {
	t.Helper()
	eventually(t, runTimeout, "worker start", func() (bool, string) {
		return strings.Contains(w.Stderr.String(), "worker waiting for jobs"), w.Stderr.String()
	})
}

// term sends SIGTERM and checks that the worker exits 0.
func (w *workerProc) term(t *testing.T) {
	t.Helper()
	w.Signal(syscall.SIGTERM)
	select {
	case <-w.Done():
	case <-time.After(runTimeout):
		t.Fatalf("worker did not drain within %s", runTimeout)
	}
	if w.Err() != nil {
		t.Errorf("worker after SIGTERM: %v; stderr:\n%s", w.Err(), w.Stderr)
	}
}

// TestWorkersUnderKills runs a job on worker processes only
// (--local-workers 0) while a random worker is SIGKILLed every ~0.5s and a
// new one started: the output equals the sequential run's. The workers'
// ack wait is short, so that a killed worker's tasks are redelivered in
// seconds rather than after the default 30s. Chunks of 8 KiB travel in
// their task messages; chunks of 600 KiB are fetched from the submitter,
// so workers die while fetching too.
func TestWorkersUnderKills(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, chunk string
		size        int
		argv        []string
		submit      []string // more flags of the submitter
	}{
		// 256 tasks of at least 50ms on 6 slots take over 2s: longer than
		// the first kill's delay, so at least one worker dies mid-job.
		{"inline", "8KiB", 2 << 20, []string{"sh", "-c", "sleep 0.05; tr a-z A-Z"}, nil},
		// 40 tasks of at least 400ms on 6 slots: over 2.6s. Workers
		// read the chunks on the submitter's direct path.
		{"fetched", "600KiB", 24 << 20, []string{"sh", "-c", "sleep 0.4; tr a-z A-Z"}, nil},
		// The same over NATS.
		{"fetched over NATS", "600KiB", 24 << 20, []string{"sh", "-c", "sleep 0.4; tr a-z A-Z"}, []string{"--data-listen", "off"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runUnderKills(t, tc.size, tc.chunk, tc.argv, tc.submit...)
		})
	}
}

func runUnderKills(t *testing.T, size int, chunk string, argv []string, submit ...string) {
	fetched := chunk == "600KiB"
	dir := t.TempDir()
	url := plainNATS(t)
	in := filepath.Join(dir, "in.txt")
	genText(t, in, size, 5)
	workerArgs := []string{"-j", "2", "--spill=" + filepath.Join(dir, "spill"), "--ack-wait", "2s"}
	var workers []*workerProc
	for range 3 {
		w := startWorker(t, url, workerArgs...)
		w.waitUp(t)
		workers = append(workers, w)
	}
	args := append([]string{"pipe", "--nats", url, "--store", filepath.Join(dir, "store"), "--log-level", "info", "--log-format", "json",
		"--local-workers", "0", "-i", in, "-o", filepath.Join(dir, "out.txt"), "--chunk-size", chunk}, submit...)
	sub := clitest.Start(t, bin, dir, nil, append(append(args, "--"), argv...)...)
	runKillingWorkers(t, sub, workers, 5, 10, func() *workerProc { return startWorker(t, url, workerArgs...) })
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sequential(t, argv, in); string(got) != want {
		t.Fatalf("output differs from the sequential run: %d bytes vs %d", len(got), len(want))
	}
	if fetched {
		checkServed(t, sub.Stderr.String(), !slices.Contains(submit, "off"))
	}
	for _, w := range workers {
		w.term(t)
	}
}

// TestStatus lists a finished job and the live workers, shows one job, and
// refuses an unknown job (exit 2) and an unreachable server (exit 3).
func TestStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := plainNATS(t)
	w := startWorker(t, url, "-j", "2")
	w.waitUp(t)
	r := jetmr(t, dir, "mapreduce", "--nats", url, "--job", "counted", "-i", td(t, "text"), "-o", "counts",
		"--map", "wordcount", "--reduce", "sum", "-q")
	if r.code != 0 {
		t.Fatalf("job exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	r = jetmr(t, dir, "status", "--nats", url)
	if r.code != 0 {
		t.Fatalf("status exit %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"counted", "mapreduce", "done", "WORKER", "s ago"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = jetmr(t, dir, "status", "counted", "--nats", url)
	if r.code != 0 || !strings.Contains(r.stdout, "state:") || !strings.Contains(r.stdout, "dead letters:  0") {
		t.Errorf("status of one job: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = jetmr(t, dir, "status", "nosuchjob", "--nats", url)
	if r.code != 2 || !strings.Contains(r.stderr, "unknown job nosuchjob") {
		t.Errorf("unknown job: exit %d, want 2 naming it; stderr:\n%s", r.code, r.stderr)
	}
	r = jetmr(t, dir, "status", "--nats", "nats://127.0.0.1:1")
	if r.code != 3 || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Errorf("unreachable: exit %d, want 3 naming the URL; stderr:\n%s", r.code, r.stderr)
	}
	w.term(t)
}

// TestWorkerUsage: a worker needs --nats; --local-workers 0 needs --nats.
func TestWorkerUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := jetmr(t, dir, "worker")
	if r.code != 2 || !strings.Contains(r.stderr, "--nats") {
		t.Errorf("worker without --nats: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	r = jetmr(t, dir, "worker", "--nats", "nats://127.0.0.1:1", "--drain-timeout", "0s")
	if r.code != 2 || !strings.Contains(r.stderr, "--drain-timeout 0s is not valid") {
		t.Errorf("worker --drain-timeout 0s: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	r = jetmr(t, dir, "pipe", "--store", t.TempDir(), "--local-workers", "0", "-i", td(t, "crlf.txt"), "--", "cat")
	if r.code != 2 || !strings.Contains(r.stderr, "--nats") {
		t.Errorf("--local-workers 0 without --nats: exit %d; stderr:\n%s", r.code, r.stderr)
	}
}

// TestWorkerDrains: SIGTERM while a task runs lets the task finish, the
// worker exits 0, and another worker completes the job.
func TestWorkerDrains(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := plainNATS(t)
	marks := filepath.Join(dir, "marks")
	if err := os.Mkdir(marks, 0o755); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat(strings.Repeat("y", 1000)+"\n", 4)), 0o644); err != nil {
		t.Fatal(err)
	}
	first := startWorker(t, url, "-j", "1")
	first.waitUp(t)
	argv := []string{"sh", "-c", "touch " + marks + "/$$; sleep 1; cat"}
	report := filepath.Join(dir, "run.json")
	sub := clitest.Start(t, bin, dir, nil, append([]string{"pipe", "--nats", url, "--store", t.TempDir(),
		"-i", in, "-o", "out.txt", "--chunk-size", "1KiB", "--report", report, "-q", "--"}, argv...)...)
	eventually(t, runTimeout, "a task to start", func() (bool, string) {
		names, _ := os.ReadDir(marks)
		return len(names) > 0, sub.Stderr.String()
	})
	first.term(t)
	if !strings.Contains(first.Stderr.String(), "draining") {
		t.Errorf("the worker did not log its drain:\n%s", first.Stderr)
	}
	startWorker(t, url, "-j", "2").waitUp(t)
	if code := sub.Wait(t, runTimeout); code != 0 {
		t.Fatalf("job exited %d; stderr:\n%s", code, sub.Stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sequential(t, argv, in); string(got) != want {
		t.Fatalf("output differs from the sequential run")
	}
	if workers := readReport(t, report)["workers"].([]any); len(workers) != 2 {
		t.Errorf("%d workers in the report, want 2: the drained one finished its task", len(workers))
	}
}

// runKillingWorkers waits for the job sub while it SIGKILLs one of workers
// at random every 300 to 700 ms, at most max times, replacing each by
// restart() in place. It fails the test when the job exits non-zero or
// ends before any kill (the test would prove nothing), and logs the kills.
func runKillingWorkers[W interface {
	Signal(syscall.Signal)
	Done() <-chan struct{}
}](t *testing.T, sub *clitest.Proc, workers []W, seed uint64, max int, restart func() W) {
	t.Helper()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	kills := 0
	wg.Go(func() {
		r := rand.New(rand.NewPCG(seed, seed+1))
		for kills < max {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(300+r.IntN(400)) * time.Millisecond):
			}
			i := r.IntN(len(workers))
			workers[i].Signal(syscall.SIGKILL)
			<-workers[i].Done()
			workers[i] = restart()
			kills++
		}
	})
	code := sub.Wait(t, 4*runTimeout)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("job exited %d; stderr:\n%s", code, sub.Stderr)
	}
	t.Logf("%d workers killed", kills)
	if kills == 0 {
		t.Fatal("the job ended before any worker was killed: the test proved nothing")
	}
}

// checkServed checks the submitter's log (JSON, level info) of the chunks
// it served: on the direct path alone when direct, else over NATS alone.
func checkServed(t *testing.T, stderr string, direct bool) {
	t.Helper()
	for line := range strings.Lines(stderr) {
		var rec struct {
			Msg         string `json:"message"`
			DirectBytes int64  `json:"direct_bytes"`
			NATSBytes   int64  `json:"nats_bytes"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "served the chunks workers fetched" {
			continue
		}
		if direct && (rec.DirectBytes == 0 || rec.NATSBytes != 0) || !direct && (rec.DirectBytes != 0 || rec.NATSBytes == 0) {
			t.Errorf("served %d bytes on the direct path and %d over NATS; want them on the direct path: %t", rec.DirectBytes, rec.NATSBytes, direct)
		}
		return
	}
	t.Errorf("the submitter did not log the chunks it served; stderr:\n%s", stderr)
}

// TestDataListenInUse: a --data-listen address already in use leaves the
// direct path out, with a warning: the workers fetch every chunk over
// NATS, and the output is whole.
func TestDataListenInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := plainNATS(t)
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 3<<20, 6)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	w := startWorker(t, url, "-j", "2", "--spill="+filepath.Join(dir, "spill"))
	w.waitUp(t)
	argv := []string{"tr", "a-z", "A-Z"}
	r := jetmr(t, dir, append([]string{"pipe", "--nats", url, "--local-workers", "0", "--transport", "object", "--data-listen", taken.Addr().String(),
		"--chunk-size", "600KiB", "--log-level", "info", "--log-format", "json", "-i", in, "-o", "out.txt", "--"}, argv...)...)
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "serving chunks over NATS only") || !strings.Contains(r.stderr, taken.Addr().String()) {
		t.Errorf("no warning naming the address in use; stderr:\n%s", r.stderr)
	}
	checkServed(t, r.stderr, false)
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sequential(t, argv, in); string(got) != want {
		t.Fatalf("output differs from the sequential run: %d bytes vs %d", len(got), len(want))
	}
	w.term(t)
}

// TestPipelineWorkerFlags: jetmr pipeline takes --data-listen as the job
// commands do: its stages' chunks reach the workers on the direct path at
// the address given, or over NATS alone with off; a bad address or
// transport, or no worker to run the tasks, is refused before any stage
// runs, with exit status 2.
func TestPipelineWorkerFlags(t *testing.T) {
	t.Parallel()
	url := plainNATS(t)
	base := t.TempDir()
	in := filepath.Join(base, "in.txt")
	genText(t, in, 3<<20, 7)
	argv := []string{"tr", "a-z", "A-Z"}
	want := sequential(t, argv, in)
	w := startWorker(t, url, "-j", "2", "--spill="+filepath.Join(base, "spill"))
	w.waitUp(t)
	for _, c := range []struct {
		listen string
		direct bool
	}{{"127.0.0.1:0", true}, {"off", false}} {
		t.Run(c.listen, func(t *testing.T) {
			dir := t.TempDir()
			writeJobFile(t, dir, `
stages:
  - name: upper
    pipe: {input: [`+in+`], output: out.txt, command: [tr, a-z, A-Z], chunk_size: 600KiB}
`)
			r := jetmr(t, dir, "pipeline", "--nats", url, "--local-workers", "0", "--transport", "object", "--data-listen", c.listen,
				"--log-level", "info", "--log-format", "json", "job.yaml")
			if r.code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			checkServed(t, r.stderr, c.direct)
			if got, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(got) != want {
				t.Fatalf("the output differs from the sequential run (%v)", err)
			}
		})
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"bad address", []string{"--data-listen", "7422"}, []string{"--data-listen", "HOST:PORT"}},
		{"bad transport", []string{"--transport", "bogus"}, []string{"--transport", "bogus", "auto, shared or object"}},
		{"no workers", []string{"--local-workers", "0"}, []string{"--local-workers 0 needs --nats"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeJobFile(t, dir, `
stages:
  - name: upper
    pipe: {input: [`+in+`], output: out.txt, command: [cat]}
`)
			args := []string{"pipeline", "--nats", url, "--local-workers", "0"}
			if c.name == "no workers" {
				args = []string{"pipeline", "--store", filepath.Join(t.TempDir(), "store")} // the embedded server
			}
			r := jetmr(t, dir, slices.Concat(args, c.args, []string{"job.yaml"})...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "started") {
				t.Errorf("a stage started:\n%s", r.stderr)
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"job.yaml"}) {
				t.Errorf("the directory holds %q, want only job.yaml", names)
			}
		})
	}
	w.term(t)
}
