package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// TestRedactArgs checks that hints never carry a secret of --nats or --db,
// in either flag form, and keep everything else.
func TestRedactArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		in, want []string
		flags    []string
	}{
		{"nats token", []string{"jetmr", "pipe", "--nats", "nats://s3cret@host:4222", "-i", "x"},
			[]string{"jetmr", "pipe", "--nats", "nats://host:4222", "-i", "x"}, []string{"--nats"}},
		{"nats user and password, inline, several URLs", []string{"jetmr", "pipe", "--nats=nats://u:s3cret@a:4222,nats://u:s3cret@b:4222"},
			[]string{"jetmr", "pipe", "--nats=nats://a:4222,nats://b:4222"}, []string{"--nats"}},
		{"db password", []string{"jetmr", "migrate", "--db", "postgres://app:s3cret@db/prod?sslmode=disable"},
			[]string{"jetmr", "migrate", "--db", "postgres://app@db/prod?sslmode=disable"}, []string{"--db"}},
		{"db key=value password", []string{"jetmr", "migrate", "--db", "host=db password=s3cret dbname=prod"},
			[]string{"jetmr", "migrate", "--db", "host=db  dbname=prod"}, []string{"--db"}},
		{"db password in the query", []string{"jetmr", "migrate", "--db", "postgres://app@db/prod?password=s3cret&sslpassword=k3y&sslmode=disable"},
			[]string{"jetmr", "migrate", "--db", "postgres://app@db/prod?&&sslmode=disable"}, []string{"--db"}},
		{"nothing secret", []string{"jetmr", "migrate", "--db", "sqlite:/tmp/x.db", "--nats", "nats://host:4222"},
			[]string{"jetmr", "migrate", "--db", "sqlite:/tmp/x.db", "--nats", "nats://host:4222"}, nil},
		{"the job's command is its own", []string{"jetmr", "pipe", "--", "mytool", "--db", "postgres://u:p@h/d"},
			[]string{"jetmr", "pipe", "--", "mytool", "--db", "postgres://u:p@h/d"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, flags := redactArgs(tc.in)
			if !slices.Equal(got, tc.want) || !slices.Equal(flags, tc.flags) {
				t.Errorf("redactArgs(%q) = %q, %q; want %q, %q", tc.in, got, flags, tc.want, tc.flags)
			}
		})
	}
}

// TestNextStepAfterInputChanged: jetmr status advises a job with a dead
// letter whose input changed to be dropped and run again, never resumed,
// whether or not the store can be named; other failed jobs are resumed
// with --retry-failed.
func TestNextStepAfterInputChanged(t *testing.T) {
	t.Parallel()
	changed := report.DeadLetter{Index: 3, Error: schema.TaskError{Message: "input x changed after it was split", Permanent: true, InputChanged: true}}
	failed := report.DeadLetter{Index: 1, Error: schema.TaskError{Message: "exit 1", ExitStatus: 1}}
	rec := schema.JobRecord{ID: "j", Kind: schema.KindPipe, Inputs: []string{"/in"}, Output: "/out"}
	tests := []struct {
		name   string
		failed []report.DeadLetter
		where  string
		want   string
		not    string
	}{
		{"changed", []report.DeadLetter{failed, changed}, " --store /s", "cannot be resumed: its input changed while it ran (its finished tasks read the earlier version): run the job's command again without --resume, once the job is dropped with:\n  jetmr discard j --store /s", "--retry-failed"},
		{"changed, store not printable", []report.DeadLetter{changed}, "-", "run the job's command again without --resume, once the job is dropped with jetmr discard", "--retry-failed"},
		{"failed", []report.DeadLetter{failed}, " --store /s", "--job j --resume --retry-failed added", "without --resume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := job.Status{Record: rec, ID: "j", State: schema.StateFailed, Failed: tt.failed, TasksFailed: uint64(len(tt.failed)), DeadLetters: uint64(len(tt.failed))}
			got := nextStep(st, tt.where)
			if !strings.Contains(got, tt.want) || strings.Contains(got, tt.not) {
				t.Errorf("nextStep = %q, want it to hold %q and not %q", got, tt.want, tt.not)
			}
		})
	}
}
