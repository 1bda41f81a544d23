package main_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
