package main_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// jFlag finds a -j in advice that is not jetmr worker's.
var jFlag = regexp.MustCompile(`(^|[^r]) -j\b|\(-j\)`)

// TestAdviceNamesWhatSetsTheSlots: a job too small for its slots is told
// to run on fewer, naming what sets them: the job's -j with the embedded
// server, --local-workers for the tasks it runs itself with --nats, and
// jetmr worker -j when jetmr worker processes ran its tasks (the job's own
// -j does not set their slots).
func TestAdviceNamesWhatSetsTheSlots(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		worker bool   // a jetmr worker -j 4 runs the tasks
		want   string // what the advice names
		noJob  bool   // the advice names no -j of the job
	}{
		{"embedded", []string{"-j", "4"}, false, "try -j ", false},
		{"local workers with --nats", []string{"--local-workers", "4"}, false, "try --local-workers ", true},
		{"jetmr worker", []string{"--local-workers", "0", "-j", "4"}, true, "(jetmr worker -j)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.name != "embedded" {
				srv := startServer(t)
				stopServer(t, srv)
				args = append(args, "--nats", srv.url)
				if tt.worker {
					w := startWorker(t, srv.url, "-j", "4")
					w.waitUp(t)
					t.Cleanup(func() { w.term(t) })
				}
			}
			dir := t.TempDir()
			writeInput(t, filepath.Join(dir, "in.txt"), 40, false) // 2 tasks of 1 KiB
			args = append([]string{"pipe", "--store", t.TempDir(), "-i", "in.txt", "-o", "out.txt", "--chunk-size", "1KiB"}, args...)
			r := jetmr(t, dir, append(args, "--", "cat")...)
			if r.code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			var advice []string
			for _, l := range strings.Split(r.stderr, "\n") {
				if a, ok := strings.CutPrefix(l, "jetmr: advice: "); ok {
					advice = append(advice, a)
				}
			}
			all := strings.Join(advice, "\n")
			if !strings.Contains(all, tt.want) {
				t.Errorf("advice does not say %q; stderr:\n%s", tt.want, r.stderr)
			}
			if tt.noJob && jFlag.MatchString(all) {
				t.Errorf("advice names the job's -j, which does not set these slots:\n%s", all)
			}
		})
	}
}
