package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
	"github.com/jetmr/jetmr/internal/s3test"
)

// TestS3OutputForceReplacesPrefix writes a mapreduce job's output under a
// prefix with 3 partitions, then again with --force and 2: the prefix
// holds the new part files only, as a local output folder would.
func TestS3OutputForceReplacesPrefix(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s.Bucket(t, "results")
	s.Put(t, "results", "countsx", []byte("not under the prefix\n"))
	root := td(t, "text")
	for _, parts := range []string{"3", "2"} {
		args := []string{"mapreduce", "--store", t.TempDir(), "-q", "-i", root, "--map", "wordcount", "--reduce", "sum",
			"--partitions", parts, "-o", "s3://results/counts/", "--force"}
		if r := jetmrEnv(t, t.TempDir(), s.Env(), args...); r.code != 0 {
			t.Fatalf("mapreduce --partitions %s: exit %d; stderr:\n%s", parts, r.code, r.stderr)
		}
	}
	if keys := s.Keys(t, "results", "counts/"); !slices.Equal(keys, []string{"counts/part-00000", "counts/part-00001"}) {
		t.Fatalf("keys under counts/ after --force: %q, want the new run's 2 part files", keys)
	}
	if _, ok := s.Get(t, "results", "countsx"); !ok {
		t.Fatal("--force deleted an object outside the prefix")
	}
}

// TestS3OutputNoBucket gives pipe an output in a missing bucket and on an
// unreachable endpoint: refused at start (exit 2 and 3), nothing run.
func TestS3OutputNoBucket(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	closed := closedPort(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no bucket", nil, 2, `bucket "nobucket" does not exist`},
		{"unreachable", []string{"--s3-endpoint", closed}, 3, "cannot be reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"pipe", "--store", t.TempDir(), "-i", td(t, "nonl.txt"), "-o", "s3://nobucket/x.txt"}, tt.args...)
			r := jetmrEnv(t, dir, s.Env(), append(args, "--", "sh", "-c", "touch ran; cat")...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want %d naming %q; stderr:\n%s", r.code, tt.code, tt.want, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
				t.Error("the job ran")
			}
		})
	}
}

// TestS3OutputUploadFails takes the S3 server down while a pipe job runs:
// the job ends with exit 3, is not done in jetmr status, and --resume
// uploads the staged output once the server is back.
func TestS3OutputUploadFails(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s.Bucket(t, "results")
	dir, store := t.TempDir(), t.TempDir()
	in := td(t, "nonl.txt")
	script := "touch started; while [ ! -e go ]; do sleep 0.02; done; cat"
	sub := clitest.Start(t, bin, dir, s.Env(), "pipe", "--store", store, "--job", "up", "-i", in,
		"-o", "s3://results/out.txt", "--", "sh", "-c", script)
	eventually(t, runTimeout, "the task", func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil, sub.Stderr.String()
	})
	s.Down(true)
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := sub.Wait(t, runTimeout); code != 3 {
		t.Fatalf("upload to a server that is down: exit %d, want 3; stderr:\n%s", code, sub.Stderr)
	}
	line := hintAfter(sub.Stderr.String(), "upload it with:")
	if !strings.Contains(line, "--job up --resume") {
		t.Fatalf("stderr does not say how to upload the output:\n%s", sub.Stderr)
	}
	s.Down(false)
	if _, ok := s.Get(t, "results", "out.txt"); ok {
		t.Fatal("the object exists after the failed upload")
	}
	st := jetmr(t, dir, "status", "--store", store, "up")
	if st.code != 0 || regexp.MustCompile(`state:\s+done`).MatchString(st.stdout) {
		t.Fatalf("status of a job whose upload failed: exit %d, want it not done:\n%s%s", st.code, st.stdout, st.stderr)
	}
	r := runHintEnv(t, dir, s.Env(), line)
	if r.code != 0 {
		t.Fatalf("printed command %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "uploaded to s3://results/out.txt") {
		t.Errorf("resume does not say it uploaded the output:\n%s", r.stderr)
	}
	want, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Get(t, "results", "out.txt"); !ok || !bytes.Equal(got, want) {
		t.Fatalf("after the resume the object holds %q (exists %v), want %q", got, ok, want)
	}
	if names := dirNames(t, filepath.Join(store, "s3-output")); len(names) != 0 {
		t.Errorf("staging folders left behind: %q", names)
	}
}

// TestS3ChangedObjectNoIfMatch writes an input object again while a job
// reads it from a server that ignores If-Match: the ETag of each ranged
// answer still shows the change, and the job fails as with If-Match.
func TestS3ChangedObjectNoIfMatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := s3test.Start(t)
	s.IgnoreIfMatch()
	s.Bucket(t, "inputs")
	s.Put(t, "inputs", "big.txt", []byte(strings.Repeat("a line of text\n", 2000)))
	script := "touch started; while [ ! -e go ]; do sleep 0.02; done; cat"
	sub := clitest.Start(t, bin, dir, s.Env(), "pipe", "--store", t.TempDir(), "--job", "chg", "-j", "1",
		"-i", "s3://inputs/big.txt", "-o", "out.txt", "--chunk-size", "4KiB", "--", "sh", "-c", script)
	eventually(t, runTimeout, "the first task", func() (bool, string) {
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil, sub.Stderr.String()
	})
	// The same size, so that nothing but the ETag shows the change.
	s.Put(t, "inputs", "big.txt", []byte(strings.Repeat("other line txt\n", 2000)))
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := sub.Wait(t, runTimeout); code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, sub.Stderr)
	}
	for _, want := range []string{"s3://inputs/big.txt", "was written again while the job read it", "and now has ETag \""} {
		if !strings.Contains(sub.Stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, sub.Stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
		t.Error("out.txt was written by a failed job")
	}
}

// TestS3OutputRejects skips bad records of a pipe job that writes to S3:
// the rejected records are uploaded next to the output as KEY.rejected,
// the warning names that URL, an existing one is refused unless --force,
// and --rejects s3://... is refused (exit 2).
func TestS3OutputRejects(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s.Bucket(t, "results")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writePoison(t, in, filepath.Join(dir, "clean.txt"), 3000, 40, 2500)
	pipe := func(out string, extra ...string) result {
		args := append([]string{"pipe", "--store", t.TempDir(), "-i", in, "-o", out, "--chunk-size", "4KiB",
			"--skip-bad-records", "5", "--retries", "0"}, extra...)
		return jetmrEnv(t, t.TempDir(), s.Env(), append(args, "--", "awk", poisonScript)...)
	}
	r := pipe("s3://results/out.txt")
	if r.code != 0 || !strings.Contains(r.stderr, "they are in s3://results/out.txt.rejected") {
		t.Fatalf("exit %d, want 0 naming s3://results/out.txt.rejected; stderr:\n%s", r.code, r.stderr)
	}
	data, ok := s.Get(t, "results", "out.txt.rejected")
	if !ok {
		t.Fatal("no rejects object next to the output")
	}
	if lines := strings.Split(strings.TrimSpace(string(data)), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[0], `"record":"BAD 40\n"`) || !strings.Contains(lines[1], `"record":"BAD 2500\n"`) {
		t.Fatalf("rejects object:\n%s", data)
	}

	s.Put(t, "results", "other.txt.rejected", []byte("old\n"))
	r = pipe("s3://results/other.txt")
	if r.code != 2 || !strings.Contains(r.stderr, "s3://results/other.txt.rejected already exists") {
		t.Fatalf("existing rejects object: exit %d, want 2 naming it; stderr:\n%s", r.code, r.stderr)
	}
	if _, ok := s.Get(t, "results", "other.txt"); ok {
		t.Fatal("the job ran with its rejects object in the way")
	}
	if r = pipe("s3://results/other.txt", "--force"); r.code != 0 {
		t.Fatalf("--force: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if data, _ := s.Get(t, "results", "other.txt.rejected"); !strings.Contains(string(data), "BAD 40") {
		t.Fatalf("--force did not replace the rejects object:\n%s", data)
	}

	// mapreduce: PREFIX.rejected, next to the prefix as DIR.rejected is
	// next to a local output folder.
	r = jetmrEnv(t, t.TempDir(), s.Env(), "mapreduce", "--store", t.TempDir(), "-i", in, "-o", "s3://results/counts/",
		"--chunk-size", "4KiB", "--skip-bad-records", "5", "--retries", "0", "--map", "awk '"+poisonMap+"'", "--reduce", "sum")
	if r.code != 0 || !strings.Contains(r.stderr, "they are in s3://results/counts.rejected") {
		t.Fatalf("mapreduce: exit %d, want 0 naming s3://results/counts.rejected; stderr:\n%s", r.code, r.stderr)
	}
	if data, _ := s.Get(t, "results", "counts.rejected"); !strings.Contains(string(data), "BAD 2500") {
		t.Fatalf("mapreduce rejects object:\n%s", data)
	}

	r = pipe("s3://results/third.txt", "--rejects", "s3://results/r.jsonl")
	if r.code != 2 || !strings.Contains(r.stderr, "--rejects s3://results/r.jsonl") {
		t.Fatalf("--rejects s3://: exit %d, want 2 naming it; stderr:\n%s", r.code, r.stderr)
	}
	if keys := s.Keys(t, "results", "third"); len(keys) != 0 {
		t.Fatalf("a refused job wrote %q", keys)
	}
}

// TestS3RejectOffsets skips bad records of an object read in ranges that
// do not start on a line: each rejected record's offset is its byte
// offset in the object, as grep -b gives it.
func TestS3RejectOffsets(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	s.Bucket(t, "inputs")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	offsets := writePoison(t, in, filepath.Join(dir, "clean.txt"), 3000, 40, 1700, 2500)
	s3Files(t, s, "inputs", "", dir, in)
	r := jetmrEnv(t, dir, s.Env(), "pipe", "--store", t.TempDir(), "-i", "s3://inputs/in.txt", "-o", "out.txt",
		"--chunk-size", "4KiB", "--skip-bad-records", "5", "--retries", "0", "--", "awk", poisonScript)
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "out.txt.rejected"))
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Offset int64  `json:"offset"`
			Record string `json:"record"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("rejects line %q: %v", line, err)
		}
		got = append(got, rec.Offset)
	}
	if !slices.Equal(got, offsets) {
		t.Fatalf("rejected records at offsets %v, want %v:\n%s", got, offsets, data)
	}
}
