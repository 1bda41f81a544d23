package main

import (
	"slices"
	"testing"
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
