package main_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/clitest"
	"github.com/jetmr/jetmr/internal/s3test"
)

// s3Files uploads files to bucket under prefix, each as the key
// prefix+its path relative to root, and returns the server.
func s3Files(t *testing.T, s *s3test.Server, bucket, prefix, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		s.Put(t, bucket, prefix+filepath.ToSlash(rel), data)
	}
}

// noSecret fails the test when the test server's secret key appears in
// any of texts.
func noSecret(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, s3test.SecretKey) {
			t.Fatalf("the secret access key was printed:\n%s", s)
		}
	}
}

// TestS3Input runs pipe and mapreduce jobs over objects of an S3 server
// and compares their outputs with the same jobs over the same bytes read
// locally: record options move range ends alike.
func TestS3Input(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s.Bucket(t, "inputs")
	root := td(t, "text")
	s3Files(t, s, "inputs", "text/", root, textFiles(t)...)
	s3Files(t, s, "inputs", "misc/", filepath.Dir(root), td(t, "crlf.txt"), td(t, "nonl.txt"), td(t, "longline.txt"))
	nul := []byte("one\x00two\x00three has more\x00four\x00")
	s.Put(t, "inputs", "nul/recs", nul)
	local := t.TempDir()
	if err := os.WriteFile(filepath.Join(local, "recs"), nul, 0o644); err != nil {
		t.Fatal(err)
	}
	// mark shows a line cut in two: each piece would get its own @.
	mark := []string{"sed", "s/^/@/"}
	tests := []struct {
		name   string
		inputs []string // s3 URLs
		local  []string // the same bytes, locally
		args   []string // after -i, before --
		argv   []string
	}{
		{"pipe prefix", []string{"s3://inputs/text/"}, []string{root}, []string{"--chunk-size", "1KiB"}, mark},
		{"pipe prefix without slash", []string{"s3://inputs/text"}, []string{root}, []string{"--chunk-size", "300"}, mark},
		{"pipe keys", []string{"s3://inputs/misc/crlf.txt", "s3://inputs/misc/nonl.txt", "s3://inputs/misc/longline.txt"},
			[]string{td(t, "crlf.txt"), td(t, "nonl.txt"), td(t, "longline.txt")}, []string{"--chunk-size", "1KiB"}, mark},
		{"pipe header", []string{"s3://inputs/text/"}, []string{root}, []string{"--chunk-size", "512", "--header", "1"}, []string{"sh", "-c", `read -r h; while IFS= read -r l; do echo "$h|$l"; done`}},
		{"pipe nul", []string{"s3://inputs/nul/recs"}, []string{filepath.Join(local, "recs")}, []string{"--chunk-size", "5", "-0"}, []string{"sh", "-c", `tr '\000' '\n' | sed s/^/@/`}},
		{"object transport", []string{"s3://inputs/text/"}, []string{root}, []string{"--chunk-size", "2KiB", "--transport", "object"}, mark},
		{"mapreduce", []string{"s3://inputs/text/", "s3://inputs/misc/"}, []string{root, td(t, "crlf.txt"), td(t, "longline.txt"), td(t, "nonl.txt")},
			[]string{"--chunk-size", "700", "--map", "wordcount", "--reduce", "sum", "--partitions", "2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kind := "pipe"
			if tt.argv == nil {
				kind = "mapreduce"
			}
			run := func(inputs []string) string {
				dir := t.TempDir()
				args := []string{kind, "--store", t.TempDir(), "-q", "-o", "out", "--log-level", "debug"}
				for _, in := range inputs {
					args = append(args, "-i", in)
				}
				args = append(args, tt.args...)
				if tt.argv != nil {
					args = append(append(args, "--"), tt.argv...)
				}
				r := jetmrEnv(t, dir, s.Env(), args...)
				if r.code != 0 {
					t.Fatalf("%v: exit status %d, want 0; stderr:\n%s", inputs, r.code, r.stderr)
				}
				noSecret(t, r.stdout, r.stderr)
				if kind == "pipe" {
					data, err := os.ReadFile(filepath.Join(dir, "out"))
					if err != nil {
						t.Fatal(err)
					}
					return string(data)
				}
				var all []string
				for _, part := range []string{"part-00000", "part-00001"} {
					data, err := os.ReadFile(filepath.Join(dir, "out", part))
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, string(data))
				}
				return strings.Join(all, "|")
			}
			got, want := run(tt.inputs), run(tt.local)
			if got != want {
				t.Errorf("output from s3 (%d bytes) differs from the output of the local files (%d bytes):\n%.300q\n%.300q", len(got), len(want), got, want)
			}
			if kind == "pipe" && tt.argv[0] == "sed" && tt.local[0] == root {
				if seq := sequential(t, tt.argv, textFiles(t)...); got != seq {
					t.Errorf("output (%d bytes) differs from the sequential run (%d bytes)", len(got), len(seq))
				}
			}
		})
	}
}

// TestS3InputWorkers runs jobs whose tasks only `jetmr worker` processes
// run, over NATS: the workers read their ranges from the S3 server (no
// file holds the input anywhere), one of them SIGKILLed again and again
// while it reads them (each ranged GET is slowed down); the output equals
// the sequential run's.
func TestS3InputWorkers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 1<<20, 11)
	s := s3test.Start(t)
	s.Bucket(t, "data")
	s3Files(t, s, "data", "logs/", dir, in)
	if err := os.Remove(in); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(t.TempDir(), "in.txt")
	genText(t, ref, 1<<20, 11) // the same bytes, for the reference only
	url := plainNATS(t)
	workerArgs := []string{"worker", "--nats", url, "--log-format", "json", "-j", "2", "--spill=" + filepath.Join(dir, "spill"), "--ack-wait", "2s"}
	var workers []*clitest.Proc
	for range 2 {
		w := clitest.Start(t, bin, "", s.Env(), workerArgs...)
		(&workerProc{w}).waitUp(t)
		workers = append(workers, w)
	}
	// Each task spends most of its time reading its range: a kill most
	// likely lands in a ranged GET.
	s.Slow(40 * time.Millisecond)
	argv := []string{"tr", "a-z", "A-Z"}
	sub := clitest.Start(t, bin, dir, s.Env(), append([]string{"pipe", "--nats", url, "--store", filepath.Join(dir, "store"),
		"--local-workers", "0", "-i", "s3://data/logs/", "-o", filepath.Join(dir, "out.txt"), "--chunk-size", "8KiB", "--"}, argv...)...)
	runKillingWorkers(t, sub, workers, 3, 6, func() *clitest.Proc { return clitest.Start(t, bin, "", s.Env(), workerArgs...) })
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sequential(t, argv, ref); string(got) != want {
		t.Fatalf("output differs from the sequential run: %d bytes vs %d", len(got), len(want))
	}
	// A word count on the workers equals the embedded one over the file.
	s.Slow(0)
	mr := []string{"mapreduce", "-q", "--map", "wordcount", "--reduce", "sum", "--partitions", "2", "--chunk-size", "64KiB"}
	r := jetmrEnv(t, dir, s.Env(), append(mr, "--nats", url, "--store", filepath.Join(dir, "store2"), "--local-workers", "0",
		"-i", "s3://data/logs/in.txt", "-o", "counts-s3")...)
	if r.code != 0 {
		t.Fatalf("mapreduce on workers: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if r := jetmr(t, dir, append(mr, "--store", filepath.Join(dir, "store3"), "-i", ref, "-o", "counts-local")...); r.code != 0 {
		t.Fatalf("local mapreduce: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, part := range []string{"part-00000", "part-00001"} {
		a, errA := os.ReadFile(filepath.Join(dir, "counts-s3", part))
		b, errB := os.ReadFile(filepath.Join(dir, "counts-local", part))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s of the workers' word count differs from the local one (%v, %v)", part, errA, errB)
		}
	}
	for _, w := range workers {
		noSecret(t, w.Stderr.String(), w.Stdout.String())
		(&workerProc{w}).term(t)
	}
	noSecret(t, sub.Stderr.String(), sub.Stdout.String())
}

// TestS3ChangedObject writes an input object again while a job reads it:
// the job fails, naming the object and both ETags, and writes no output;
// a resume after the change is refused, naming the ETags too.
func TestS3ChangedObject(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := s3test.Start(t)
	s.Bucket(t, "inputs")
	s.Put(t, "inputs", "big.txt", []byte(strings.Repeat("a line of text\n", 2000)))
	store := t.TempDir()
	// The first task waits for "go"; the test writes the object again
	// before it creates it, so every later range is of the new version.
	script := "touch started; while [ ! -e go ]; do sleep 0.02; done; cat"
	sub := clitest.Start(t, bin, dir, s.Env(), "pipe", "--store", store, "--job", "chg", "-j", "1",
		"-i", "s3://inputs/big.txt", "-o", "out.txt", "--chunk-size", "4KiB", "--", "sh", "-c", script)
	eventually(t, runTimeout, "the first task", func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil, sub.Stderr.String()
	})
	s.Put(t, "inputs", "big.txt", []byte(strings.Repeat("another line\n", 2000)))
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := sub.Wait(t, runTimeout); code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, sub.Stderr)
	}
	stderr := sub.Stderr.String()
	// No retry: another attempt would read the new version too.
	for _, want := range []string{"s3://inputs/big.txt", "was written again while the job read it", "listed with ETag", "and now has ETag \"", "after 1 attempt(s)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
		t.Error("out.txt was written by a failed job")
	}
	r := jetmrEnv(t, dir, s.Env(), "pipe", "--store", store, "--job", "chg", "--resume", "--retry-failed",
		"-i", "s3://inputs/big.txt", "-o", "out.txt", "--chunk-size", "4KiB", "--", "cat")
	if r.code != 2 || !strings.Contains(r.stderr, "its ETag changed from") {
		t.Fatalf("resume after the change: exit %d, want 2 naming the ETag change; stderr:\n%s", r.code, r.stderr)
	}
	noSecret(t, stderr, r.stderr, r.stdout)
}

// TestS3Errors checks the exit status and message of each problem with
// s3:// inputs, and that no message holds the secret key.
func TestS3Errors(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s.Bucket(t, "inputs")
	s.Bucket(t, "locked")
	s.Deny("locked")
	s.Put(t, "inputs", "a.txt", []byte("x\n"))
	s.Put(t, "inputs", "z.gz", []byte("not really\n"))
	closed := closedPort(t)
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want []string
	}{
		{"unreachable", nil, []string{"-i", "s3://inputs/a.txt", "--s3-endpoint", closed}, 3, []string{closed, "cannot be reached", "connection refused"}},
		{"denied", nil, []string{"-i", "s3://locked/a.txt"}, 3, []string{s.URL, "AccessDenied", "s3://locked/a.txt"}},
		{"wrong key", []string{"AWS_ACCESS_KEY_ID=AKIAWRONG"}, []string{"-i", "s3://inputs/a.txt"}, 3, []string{s.URL, "AccessDenied", "AWS_ACCESS_KEY_ID"}},
		{"no bucket", nil, []string{"-i", "s3://nosuch/a.txt"}, 2, []string{`bucket "nosuch" does not exist`, s.URL}},
		{"no objects", nil, []string{"-i", "s3://inputs/nothing/"}, 2, []string{"no objects at s3://inputs/nothing/"}},
		{"no bucket in URL", nil, []string{"-i", "s3:///a.txt"}, 2, []string{`"s3:///a.txt" is not an object URL`}},
		{"bad bucket name", nil, []string{"-i", "s3://a_b/k"}, 2, []string{`"s3://a_b/k" does not name a bucket`}},
		{"bad endpoint", nil, []string{"-i", "s3://inputs/a.txt", "--s3-endpoint", "ftp://x"}, 2, []string{`--s3-endpoint "ftp://x"`}},
		{"mixed", nil, []string{"-i", "s3://inputs/a.txt", "-i", td(t, "nonl.txt")}, 2, []string{"either files or objects"}},
		{"csv", nil, []string{"-i", "s3://inputs/a.txt", "--format", "csv"}, 2, []string{"--format csv", "s3://"}},
		{"compressed", nil, []string{"-i", "s3://inputs/z.gz"}, 2, []string{"s3://inputs/z.gz is compressed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"pipe", "--store", t.TempDir(), "-o", "out", "--report", "report.json", "--log-level", "debug"}, tt.args...)
			start := time.Now()
			r := jetmrEnv(t, dir, append(s.Env(), tt.env...), append(args, "--", "cat")...)
			if r.code != tt.code {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("took %s: retries are not bounded", took)
			}
			report, _ := os.ReadFile(filepath.Join(dir, "report.json"))
			noSecret(t, r.stdout, r.stderr, string(report))
			if names := dirNames(t, dir); len(names) > 1 || len(names) == 1 && names[0] != "report.json" {
				t.Errorf("working directory holds %q, want no output", names)
			}
		})
	}
}

// closedPort returns the URL of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	s := s3test.Start(t)
	url := s.URL
	s.Close()
	return url
}

// TestS3Output writes a pipe job's output and a mapreduce job's part
// files to the S3 server: they equal the local outputs of the same jobs,
// exist only once the job completed, and an existing output is refused
// (exit 2, nothing run) unless --force.
func TestS3Output(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s.Bucket(t, "results")
	root := td(t, "text")
	mark := []string{"sed", "s/^/@/"}
	want := sequential(t, mark, textFiles(t)...)
	store := t.TempDir()
	pipe := func(id string, extra []string, argv ...string) result {
		args := []string{"pipe", "--store", store, "-q", "--job", id, "-i", root, "-o", "s3://results/out/upper.txt", "--chunk-size", "1KiB", "--retries", "0"}
		return jetmrEnv(t, t.TempDir(), s.Env(), append(append(append(args, extra...), "--"), argv...)...)
	}
	// A failed job publishes nothing, and keeps its staged output for
	// --resume until discarded.
	for _, id := range []string{"fail1", "fail2"} {
		if r := pipe(id, nil, "sh", "-c", "exit 3"); r.code != 1 {
			t.Fatalf("failing job: exit %d, want 1; stderr:\n%s", r.code, r.stderr)
		}
	}
	if _, ok := s.Get(t, "results", "out/upper.txt"); ok {
		t.Fatal("a failed job published its output")
	}
	if staged := dirNames(t, filepath.Join(store, "s3-output")); !slices.Equal(staged, []string{"fail1", "fail2"}) {
		t.Fatalf("staging folders after failed jobs: %q", staged)
	}
	if r := jetmr(t, t.TempDir(), "discard", "fail1", "--store", store); r.code != 0 {
		t.Fatalf("discard: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if r := pipe("fail2", []string{"--resume", "--retry-failed"}, mark...); r.code != 0 {
		t.Fatalf("resume: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if got, _ := s.Get(t, "results", "out/upper.txt"); string(got) != want {
		t.Fatalf("object holds %d bytes, want the sequential run's %d", len(got), len(want))
	}
	r := pipe("again", nil, "cat")
	if r.code != 2 || !strings.Contains(r.stderr, "s3://results/out/upper.txt already exists") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("existing output: exit %d, want 2 naming it and --force; stderr:\n%s", r.code, r.stderr)
	}
	if r := pipe("forced", []string{"--force"}, "tr", "a-z", "A-Z"); r.code != 0 {
		t.Fatalf("--force: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if got, _ := s.Get(t, "results", "out/upper.txt"); string(got) != sequential(t, []string{"tr", "a-z", "A-Z"}, textFiles(t)...) {
		t.Fatal("--force did not replace the object with the new output")
	}

	// mapreduce: part files under the prefix, as the local run writes them.
	dir := t.TempDir()
	args := []string{"mapreduce", "--store", t.TempDir(), "-q", "-i", root, "--map", "wordcount", "--reduce", "sum", "--partitions", "2", "--chunk-size", "2KiB"}
	if r := jetmrEnv(t, dir, s.Env(), append(args, "-o", "local")...); r.code != 0 {
		t.Fatalf("local mapreduce: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if r := jetmrEnv(t, dir, s.Env(), append(args, "-o", "s3://results/counts")...); r.code != 0 {
		t.Fatalf("mapreduce to s3: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if keys := s.Keys(t, "results", "counts/"); !slices.Equal(keys, []string{"counts/part-00000", "counts/part-00001"}) {
		t.Fatalf("keys under counts/: %q", keys)
	}
	for _, part := range []string{"part-00000", "part-00001"} {
		local, err := os.ReadFile(filepath.Join(dir, "local", part))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(t, "results", "counts/"+part); !bytes.Equal(got, local) {
			t.Errorf("%s differs from the local run's", part)
		}
	}
	r = jetmrEnv(t, dir, s.Env(), append(args, "-o", "s3://results/counts/")...)
	if r.code != 2 || !strings.Contains(r.stderr, "prefix s3://results/counts/") {
		t.Fatalf("existing prefix: exit %d, want 2; stderr:\n%s", r.code, r.stderr)
	}
	noSecret(t, r.stdout, r.stderr)
	if names := dirNames(t, filepath.Join(store, "s3-output")); len(names) != 0 {
		t.Errorf("staging folders left behind: %q", names)
	}
}

// TestS3CrashResume SIGKILLs a pipe job that reads an object and writes
// an object at random moments and resumes it until it completes: the
// uploaded output equals the sequential run's. Not parallel: the AWS
// environment is set in this process, which the jobs inherit.
func TestS3CrashResume(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 3<<20, 21)
	s := s3test.Start(t)
	s.Bucket(t, "crash")
	s3Files(t, s, "crash", "", dir, in)
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	argv := []string{"sh", "-c", "sleep 0.01; tr a-z A-Z"}
	args := append([]string{"pipe", "--store", filepath.Join(dir, "store"), "--job", "crash", "-i", "s3://crash/in.txt",
		"-o", "s3://crash/out.txt", "--force", "--chunk-size", "32KiB", "-j", "4", "--"}, argv...)
	r := rand.New(rand.NewPCG(21, 99))
	// --force: a job that completed before its first kill runs again
	// from scratch over its own output.
	n := runUntilDone(t, dir, r, syscall.SIGKILL, 2*time.Second, args, "in.txt")
	t.Logf("%d runs killed", n)
	// The run that completed uploaded the output after its last read: the
	// object is not one that a run before the kills left.
	log := strings.Split(s.Requests(), "\n")
	lastPut, lastGet := -1, -1
	for i, req := range log {
		switch {
		case strings.HasPrefix(req, "PUT /crash/out.txt"):
			lastPut = i
		case strings.HasPrefix(req, "GET /crash/in.txt"):
			lastGet = i
		}
	}
	if lastPut < lastGet {
		t.Fatalf("no upload after the last read of the input (requests %d and %d)", lastPut, lastGet)
	}
	got, ok := s.Get(t, "crash", "out.txt")
	if !ok {
		t.Fatal("no output object after the job completed")
	}
	if want := sequential(t, argv, in); string(got) != want {
		t.Fatalf("output differs from the sequential run: %d bytes vs %d", len(got), len(want))
	}
}
