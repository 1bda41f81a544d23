package main_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
	"github.com/jetmr/jetmr/internal/crashpoint"
)

// TestReduceOnWorkersKilled runs a word count whose 4 partitions the
// workers reduce (--reduce-on-workers) while the worker that holds a
// partition is SIGKILLed: in the middle of its merge, or once its part file
// is written but not yet announced. Another worker reduces the partition
// again from the results stream: the output equals the embedded run's,
// each part once, and no temporary file is left.
func TestReduceOnWorkersKilled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, point string }{
		{"mid-merge", "reduce.merged:3"},
		{"part written", "reduce.written:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const parts = "4"
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, 400<<10, 9)
			ref := filepath.Join(dir, "ref")
			if r := jetmr(t, dir, "mapreduce", "--store", filepath.Join(dir, "refstore"), "-i", in, "-o", ref,
				"--map", "wordcount", "--reduce", "sum", "--partitions", parts, "--chunk-size", "32KiB"); r.code != 0 {
				t.Fatalf("embedded run exited %d: %s", r.code, r.stderr)
			}
			want := clitest.ReadParts(t, ref, 4)

			url := plainNATS(t)
			workerArgs := []string{"-j", "2", "--spill=" + filepath.Join(dir, "spill"), "--ack-wait", "2s"}
			// The first worker alone runs the map tasks, takes a reduce task
			// and dies at the crash point.
			armed := &workerProc{clitest.Start(t, bin, "", []string{crashpoint.EnvVar + "=" + tc.point},
				append([]string{"worker", "--nats", url, "--log-format", "json"}, workerArgs...)...)}
			armed.waitUp(t)
			out := filepath.Join(dir, "out")
			sub := clitest.Start(t, bin, dir, nil, "mapreduce", "--nats", url, "--transport", "shared", "--reduce-on-workers",
				"--store", filepath.Join(dir, "store"), "-i", in, "-o", out,
				"--map", "wordcount", "--reduce", "sum", "--partitions", parts, "--chunk-size", "32KiB")
			select {
			case <-armed.Done():
			case <-sub.Done():
				t.Fatalf("the job ended (exit %d) before the worker holding a partition was killed: %s", sub.Code(), sub.Stderr)
			}
			if !armed.Killed(syscall.SIGKILL) {
				t.Fatalf("the armed worker exited %d, not by SIGKILL; stderr:\n%s", armed.Code(), armed.Stderr)
			}
			if !strings.Contains(armed.Stderr.String(), "reducing partition") {
				t.Fatalf("the armed worker died before it took a reduce task; stderr:\n%s", armed.Stderr)
			}
			second := startWorker(t, url, workerArgs...)
			if code := sub.Wait(t, 2*runTimeout); code != 0 {
				t.Fatalf("job exited %d; stderr:\n%s", code, sub.Stderr)
			}
			if got := clitest.ReadParts(t, out, 4); !maps.Equal(got, want) {
				t.Errorf("output (%d keys) differs from the embedded run's (%d keys)", len(got), len(want))
			}
			names := dirNames(t, dir)
			if i := slices.IndexFunc(names, func(n string) bool { return strings.HasPrefix(n, ".") }); i >= 0 {
				t.Errorf("left next to the output: %q (all: %q)", names[i], names)
			}
			second.term(t)
		})
	}
}

// TestReduceOnWorkersBadUsage: --reduce-on-workers without outside
// workers that share the output folder exits 2 naming the fix, and writes
// nothing.
func TestReduceOnWorkersBadUsage(t *testing.T) {
	t.Parallel()
	crlf := td(t, "crlf.txt")
	base := []string{"mapreduce", "-i", crlf, "-o", "out", "--map", "wordcount", "--reduce", "sum", "--reduce-on-workers"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"embedded server", nil, "add --nats URL"},
		{"object transport", []string{"--nats", "nats://127.0.0.1:1", "--transport", "object"}, "add --transport shared"},
		{"auto transport", []string{"--nats", "nats://127.0.0.1:1"}, "add --transport shared"},
		{"local workers", []string{"--nats", "nats://127.0.0.1:1", "--transport", "shared", "--local-workers", "2"}, "drop --local-workers"},
		{"s3 output", []string{"--nats", "nats://127.0.0.1:1", "--transport", "shared", "-o", "s3://bucket/out"}, "choose a local -o"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := jetmr(t, dir, append(append(slices.Clone(base), "--store", filepath.Join(dir, "store")), tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--reduce-on-workers") {
				t.Fatalf("exit %d, stderr %q; want 2 naming %q and --reduce-on-workers", r.code, r.stderr, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
				t.Errorf("output written by a refused job: %v", err)
			}
		})
	}
}

// TestReduceOnWorkersResumeAndDiscard stops a job while a partition's
// part file is written but not announced (its worker was killed): the
// stopped job keeps the parts folder; the resume the job prints, run with a
// new worker, completes the output as the embedded run writes it, and
// discarding a second such job removes its parts folder.
func TestReduceOnWorkersResumeAndDiscard(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 200<<10, 4)
	ref := filepath.Join(dir, "ref")
	if r := jetmr(t, dir, "mapreduce", "--store", filepath.Join(dir, "refstore"), "-i", in, "-o", ref,
		"--map", "wordcount", "--reduce", "sum", "--partitions", "3", "--chunk-size", "32KiB"); r.code != 0 {
		t.Fatalf("embedded run exited %d: %s", r.code, r.stderr)
	}
	want := clitest.ReadParts(t, ref, 3)
	url := plainNATS(t)
	workerArgs := []string{"-j", "2", "--spill=" + filepath.Join(dir, "spill"), "--ack-wait", "2s"}
	stopped := func(id, out string) (hint string) {
		t.Helper()
		armed := &workerProc{clitest.Start(t, bin, "", []string{crashpoint.EnvVar + "=reduce.written:1"},
			append([]string{"worker", "--nats", url, "--log-format", "json"}, workerArgs...)...)}
		armed.waitUp(t)
		sub := clitest.Start(t, bin, dir, nil, "mapreduce", "--nats", url, "--transport", "shared", "--reduce-on-workers", "--job", id,
			"-i", in, "-o", out, "--map", "wordcount", "--reduce", "sum", "--partitions", "3", "--chunk-size", "32KiB")
		<-armed.Done()
		if !armed.Killed(syscall.SIGKILL) {
			t.Fatalf("the armed worker exited %d, not by SIGKILL; stderr:\n%s", armed.Code(), armed.Stderr)
		}
		sub.Signal(syscall.SIGINT)
		if code := sub.Wait(t, runTimeout); code == 0 {
			t.Fatalf("the interrupted job exited 0; stderr:\n%s", sub.Stderr)
		}
		parts := dirNames(t, filepath.Join(dir, "."+filepath.Base(out)+".jetmr-"+id+".tmp-parts"))
		if len(parts) != 1 || !strings.HasPrefix(parts[0], ".part-") {
			t.Fatalf("the stopped job's parts folder holds %q, want the one part written", parts)
		}
		hint = hintAfter(sub.Stderr.String(), "continue it with:")
		if !strings.Contains(hint, "--resume") || !strings.Contains(hint, "--reduce-on-workers") {
			t.Fatalf("the stopped job prints no resume with --reduce-on-workers; stderr:\n%s", sub.Stderr)
		}
		return hint
	}

	out := filepath.Join(dir, "out")
	hint := stopped("rw-resume", out)
	second := startWorker(t, url, workerArgs...)
	second.waitUp(t)
	if r := runHint(t, dir, hint); r.code != 0 {
		t.Fatalf("the printed resume %q exited %d: %s", hint, r.code, r.stderr)
	}
	if got := clitest.ReadParts(t, out, 3); !maps.Equal(got, want) {
		t.Errorf("resumed output (%d keys) differs from the embedded run's (%d keys)", len(got), len(want))
	}
	second.term(t)

	out2 := filepath.Join(dir, "out2")
	stopped("rw-discard", out2)
	if r := jetmr(t, dir, "discard", "rw-discard", "--nats", url); r.code != 0 {
		t.Fatalf("discard exited %d: %s", r.code, r.stderr)
	}
	names := dirNames(t, dir)
	if i := slices.IndexFunc(names, func(n string) bool { return strings.HasPrefix(n, ".") }); i >= 0 {
		t.Errorf("left after the resume and the discard: %q (all: %q)", names[i], names)
	}
}

// TestReduceOnWorkersFailedReducerHint: a reducer command that fails on a
// worker fails the job with a command to run the reduce again; once the
// reducer is fixed, that command completes the job with the embedded
// run's output.
func TestReduceOnWorkersFailedReducerHint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	genText(t, in, 100<<10, 5)
	reduce := filepath.Join(dir, "reduce.sh")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(reduce, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sum := `awk -F '\t' 'NR > 1 && $1 != k { print k "\t" s; s = 0 } { k = $1; s += $2 } END { if (NR) print k "\t" s }'`
	write(sum)
	ref := filepath.Join(dir, "ref")
	if r := jetmr(t, dir, "mapreduce", "--store", filepath.Join(dir, "refstore"), "-i", in, "-o", ref,
		"--map", "wordcount", "--reduce", reduce, "--partitions", "2"); r.code != 0 {
		t.Fatalf("embedded run exited %d: %s", r.code, r.stderr)
	}
	want := clitest.ReadParts(t, ref, 2)
	url := plainNATS(t)
	w := startWorker(t, url, "-j", "2", "--spill="+filepath.Join(dir, "spill"))
	w.waitUp(t)
	defer w.term(t)
	write("echo reducer broke >&2; exit 3")
	out := filepath.Join(dir, "out")
	r := jetmr(t, dir, "mapreduce", "--nats", url, "--local-workers", "0", "--transport", "shared", "--reduce-on-workers",
		"-i", in, "-o", out, "--map", "wordcount", "--reduce", reduce, "--partitions", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "status 3") {
		t.Fatalf("exit %d, want 1 naming the reducer's exit; stderr:\n%s", r.code, r.stderr)
	}
	hint := hintAfter(r.stderr, "run the reduce again, once the reducer is fixed (in its script, or a new --reduce), with:")
	if hint == "" {
		t.Fatalf("no command to run the reduce again; stderr:\n%s", r.stderr)
	}
	write(sum)
	if r := runHint(t, dir, hint); r.code != 0 {
		t.Fatalf("the printed command %q exited %d: %s", hint, r.code, r.stderr)
	}
	if got := clitest.ReadParts(t, out, 2); !maps.Equal(got, want) {
		t.Errorf("output (%d keys) differs from the embedded run's (%d keys)", len(got), len(want))
	}
}
