package job_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/internal/s3test"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/schema"
)

// TestObjectStoreJobs runs jobs over objects of an S3 server with the
// library: chunks sized by --task-time and by size both give the
// sequential output, and each problem is the documented error. Not
// parallel: the AWS environment is the process's.
func TestObjectStoreJobs(t *testing.T) {
	s := s3test.Start(t)
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	s.Bucket(t, "jobs")
	big := generatedText(t, "big.txt", 3<<20, 1, false)
	data, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	s.Put(t, "jobs", "in/big.txt", data)
	argv := []string{"sed", "-E", `s/([a-z]+)/<\1>/g`}
	want := sequentialPipe(t, argv, []string{big})

	sized := []struct {
		name  string
		chunk int64
		task  time.Duration
	}{
		{"chunk size", 64 << 10, 0},
		{"task time", 256 << 10, time.Second},
	}
	for _, tt := range sized {
		var out bytes.Buffer
		cfg := baseConfig(t)
		cfg.Kind, cfg.Inputs, cfg.Command, cfg.Stdout = schema.KindPipe, []string{"s3://jobs/in/"}, argv, &out
		cfg.ChunkSize, cfg.TaskTime = tt.chunk, tt.task
		start := time.Now()
		rep, err := runJob(t, cfg)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		t.Logf("%s: %d tasks in %s", tt.name, rep.Tasks, time.Since(start))
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s: output differs from the sequential run: %s", tt.name, firstDiff(out.Bytes(), want))
		}
	}

	s.Put(t, "jobs", "out/taken.txt", []byte("x"))
	down := s3test.Start(t)
	down.Close()
	errCases := []struct {
		name   string
		config func(*job.Config)
		want   error
	}{
		{"endpoint down", func(c *job.Config) { c.S3.Endpoint = down.URL }, objstore.ErrUnavailable},
		{"output exists", func(c *job.Config) { c.Output = "s3://jobs/out/taken.txt" }, job.ErrOutputExists},
		{"output is a prefix", func(c *job.Config) { c.Output = "s3://jobs/out/" }, job.ErrBadInput},
		{"each to s3", func(c *job.Config) { c.Kind, c.Output = schema.KindEach, "s3://jobs/out/x" }, job.ErrBadInput},
		{"no objects", func(c *job.Config) { c.Inputs = []string{"s3://jobs/none/"} }, job.ErrBadInput},
	}
	for _, tt := range errCases {
		cfg := baseConfig(t)
		cfg.Kind, cfg.Inputs, cfg.Command, cfg.Stdout = schema.KindPipe, []string{"s3://jobs/in/"}, []string{"cat"}, &bytes.Buffer{}
		tt.config(&cfg)
		if _, err := runJob(t, cfg); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}
