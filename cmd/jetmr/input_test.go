package main_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// TestResumeRefusesChangedInput crashes a pipe job half-way, changes its
// input, and resumes: every change, even one that keeps the size, is
// refused with exit 2 naming the file and what changed, and no output
// appears. Resuming would otherwise mix the two versions of the file.
func TestResumeRefusesChangedInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		want   string
	}{
		{"edited in place keeping its size", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("EDITED"), 100); err != nil {
				t.Fatal(err)
			}
		}, "modification time changed"},
		{"replaced by a copy", func(t *testing.T, path string) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tmp := path + ".new"
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}, "replaced by another file"},
		{"appended to", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("one more line\n"); err != nil {
				t.Fatal(err)
			}
		}, "size changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			genText(t, in, 512<<10, 41)
			env := []string{"XDG_STATE_HOME=" + t.TempDir()}
			args := []string{"pipe", "--store", filepath.Join(dir, "store"), "--job", "edit", "-i", in,
				"-o", "out.txt", "--chunk-size", "16KiB", "-j", "2", "--", "tr", "a-z", "A-Z"}
			_, stderr, wait := startJetmr(t, dir, append(env, "JETMR_CRASHPOINT=task.stored:4"), args...)
			if code := wait(); code != 128+int(syscall.SIGKILL) {
				t.Fatalf("jetmr exited %d instead of being killed at task.stored:4; stderr:\n%s", code, stderr)
			}
			tt.change(t, in)
			resume := append([]string{args[0], "--resume"}, args[1:]...)
			_, stderr, wait = startJetmr(t, dir, env, resume...)
			if code := wait(); code != 2 {
				t.Fatalf("resume after the input changed: exit %d, want 2; stderr:\n%s", code, stderr)
			}
			for _, w := range []string{in, tt.want, "without --resume"} {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "out.txt")); !os.IsNotExist(err) {
				t.Errorf("out.txt exists after a refused resume (stat: %v)", err)
			}
			// What the message says to do: remove the unfinished output, run
			// the job again without --resume under a new job ID; it reads
			// the file as it is now.
			tmp := filepath.Join(dir, ".out.txt.jetmr-edit.tmp")
			if !strings.Contains(stderr.String(), "remove its unfinished output "+tmp) {
				t.Errorf("stderr does not name the unfinished output %s:\n%s", tmp, stderr)
			}
			if err := os.Remove(tmp); err != nil {
				t.Fatal(err)
			}
			again := slices.Clone(args)
			again[slices.Index(again, "edit")] = "edit-again"
			_, stderr, wait = startJetmr(t, dir, env, again...)
			if code := wait(); code != 0 {
				t.Fatalf("running the job again: exit %d; stderr:\n%s", code, stderr)
			}
			checkPipeOutput(t, dir, []string{"tr", "a-z", "A-Z"}, in)
		})
	}
}

// writeGatedInput writes the line GATE, then numbered lines up to about
// size bytes: the first chunk holds the gate.
func writeGatedInput(t *testing.T, path string, size int) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("GATE\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%06d the quick brown fox jumps over the lazy dog\n", i)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInputChangedWhileRunning edits the input in place, keeping its
// size, after the splitter read it and before workers read the later
// chunks: the job fails (exit 1) saying the file changed, and publishes no
// output rather than one mixing two versions of the file. With --transport
// object the workers fetch chunks of 1 MiB from the submitter, and check
// them the same way.
func TestInputChangedWhileRunning(t *testing.T) {
	t.Parallel()
	pipe := func(g *gate) []string {
		return append([]string{"pipe", "-o", "out.txt"}, append([]string{"--"}, g.argv...)...)
	}
	tests := []struct {
		name  string
		args  func(g *gate) []string
		out   string
		size  int
		chunk string
		extra []string
	}{
		{"pipe", pipe, "out.txt", 256 << 10, "16KiB", nil},
		{"mapreduce", func(g *gate) []string {
			return []string{"mapreduce", "-o", "out", "--map", strings.Join(g.argv, " "), "--reduce", "count"}
		}, "out", 256 << 10, "16KiB", nil},
		{"pipe-fetched", pipe, "out.txt", 4 << 20, "1MiB", []string{"--transport", "object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			writeGatedInput(t, in, tt.size)
			g := newGate(t, "0")
			args := tt.args(g)
			args = slices.Concat([]string{args[0], "--store", filepath.Join(dir, "store"), "-i", in, "--chunk-size", tt.chunk, "-j", "1"}, tt.extra, args[1:])
			run := startWatched(t, dir, args...)
			eventually(t, 20*time.Second, "gated first task", func() (bool, string) { return g.started(), run.Stderr.String() })
			f, err := os.OpenFile(in, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteAt([]byte("CHANGED"), int64(tt.size)/2)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			g.release()
			if code := run.Wait(t, runTimeout); code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, run.Stderr.String())
			}
			for _, w := range []string{in, "changed after it was split"} {
				if !strings.Contains(run.Stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, run.Stderr.String())
				}
			}
			if _, err := os.Stat(filepath.Join(dir, tt.out)); !os.IsNotExist(err) {
				t.Errorf("output %s exists after the input changed (stat: %v)", tt.out, err)
			}
		})
	}
}

// jetmrStdin runs the binary in dir with stdin as its standard input.
func jetmrStdin(t *testing.T, dir string, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Stdin = dir, stdin
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("jetmr %q did not finish within %s; stderr:\n%s", args, runTimeout, r.stderr)
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running jetmr: %v", err)
	}
	return r
}

// TestStdinInput pipes 20 MB of generated text through jetmr's standard
// input (-i -), alone and between two files, and compares the output with
// the command run sequentially over the same bytes.
func TestStdinInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.txt")
	genText(t, big, 20<<20, 51)
	tr := []string{"tr", "a-z", "A-Z"}
	a, b := td(t, "crlf.txt"), td(t, "nonl.txt")
	tests := []struct {
		name   string
		inputs []string
		want   []string // the files whose bytes, in order, make the input
	}{
		{"stdin alone", []string{"-i", "-"}, []string{big}},
		{"stdin between files", []string{"-i", a, "-i", "-", "-i", b}, []string{a, big, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(big)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			args := append([]string{"pipe", "--store", t.TempDir(), "-q", "-j", "2"}, tt.inputs...)
			r := jetmrStdin(t, t.TempDir(), f, append(append(args, "--"), tr...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			if want := sequential(t, tr, tt.want...); r.stdout != want {
				t.Errorf("output (%d bytes) differs from the sequential run (%d bytes)", len(r.stdout), len(want))
			}
		})
	}
	t.Run("mapreduce", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		in := td(t, "text/harbor.txt")
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r := jetmrStdin(t, dir, f, "mapreduce", "--store", t.TempDir(), "-i", "-", "-o", "counts", "--map", "wordcount", "--reduce", "sum", "--chunk-size", "1KiB")
		if r.code != 0 {
			t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
		}
		got, want := readCounts(t, filepath.Join(dir, "counts")), wordCount(t, in)
		if !maps.Equal(got, want) {
			t.Errorf("counts over stdin differ from the reference: %d words, want %d", len(got), len(want))
		}
	})
}

// TestStdinRefusals checks that what cannot work with standard input is
// refused before anything starts: a resume (stdin cannot be read again),
// "-" given twice, and --task-time.
func TestStdinRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"resume", []string{"pipe", "--job", "s", "--resume", "-i", "-", "-o", "out.txt", "--", "cat"}, []string{"standard input", "without --resume"}},
		{"twice", []string{"pipe", "-i", "-", "-i", "-", "--", "cat"}, []string{"standard input", "twice"}},
		{"task time", []string{"pipe", "-i", "-", "--task-time", "1s", "--", "cat"}, []string{"--task-time", "--chunk-size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			store := filepath.Join(t.TempDir(), "store")
			args := append([]string{tt.args[0], "--store", store}, tt.args[1:]...)
			r := jetmrStdin(t, dir, strings.NewReader("a\nb\n"), args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			if names := dirNames(t, dir); len(names) != 0 || r.stdout != "" {
				t.Errorf("a refused job wrote %q and stdout %q", names, r.stdout)
			}
			if _, err := os.Stat(store); !os.IsNotExist(err) {
				t.Errorf("the store %s was created for a refused job", store)
			}
		})
	}
}

// compressGzip writes data to path as a gzip file of two members, as
// `cat a.gz b.gz` makes, which gzip -d reads as one stream.
func compressGzip(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	half := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	for _, part := range [][]byte{data[:half], data[half:]} {
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(part); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// compressZstd writes data to path as a zstd file.
func compressZstd(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gzipReference is `gzip -dc path | argv`, the reference a compressed
// input is checked against.
func gzipReference(t *testing.T, argv []string, path string) string {
	t.Helper()
	if _, err := exec.LookPath("gzip"); err != nil {
		t.Skip("gzip is not installed")
	}
	cmd := exec.Command("sh", append([]string{"-c", `f=$1; shift; gzip -dc "$f" | "$@"`, "sh", path}, argv...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gzip -dc %s | %q: %v", path, argv, err)
	}
	return string(out)
}

// TestCompressedInputs runs pipe and mapreduce over .gz and .zst inputs,
// alone and mixed with a plain file, and compares with the command run
// over the decompressed bytes (gzip -dc FILE | CMD for gzip).
func TestCompressedInputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.txt")
	genText(t, plain, 3<<20, 61)
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	gz, zst := filepath.Join(dir, "in.txt.gz"), filepath.Join(dir, "in.txt.zst")
	compressGzip(t, gz, data)
	compressZstd(t, zst, data)
	tr := []string{"tr", "a-z", "A-Z"}
	upper := sequential(t, tr, plain)
	if ref := gzipReference(t, tr, gz); ref != upper {
		t.Fatalf("the gzip fixture does not decompress to its text (%d vs %d bytes)", len(ref), len(upper))
	}
	if _, err := exec.LookPath("zstd"); err == nil {
		ref, err := exec.Command("sh", "-c", `zstd -dc "$1" | tr a-z A-Z`, "sh", zst).Output()
		if err != nil || string(ref) != upper {
			t.Fatalf("zstd -dc of the zstd fixture does not give its text (%d vs %d bytes, %v)", len(ref), len(upper), err)
		}
	}
	crlf := td(t, "crlf.txt")
	tests := []struct {
		name   string
		inputs []string
		want   string
	}{
		{"gzip", []string{"-i", gz}, upper},
		{"zstd", []string{"-i", zst}, upper},
		{"mixed with a plain file", []string{"-i", crlf, "-i", zst, "-i", gz}, sequential(t, tr, crlf) + upper + upper},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"pipe", "--store", t.TempDir(), "-q", "--chunk-size", "64KiB"}, tt.inputs...)
			r := jetmr(t, t.TempDir(), append(append(args, "--"), tr...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			if r.stdout != tt.want {
				t.Errorf("output (%d bytes) differs from the reference (%d bytes)", len(r.stdout), len(tt.want))
			}
		})
	}
	t.Run("mapreduce", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		r := jetmr(t, out, "mapreduce", "--store", t.TempDir(), "-i", gz, "-i", zst, "-o", "counts", "--map", "wordcount", "--reduce", "sum", "--partitions", "2")
		if r.code != 0 {
			t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
		}
		want := referenceCounts(t, plain)
		for w := range want {
			want[w] *= 2
		}
		if got := readCounts(t, filepath.Join(out, "counts")); !maps.Equal(got, want) {
			t.Errorf("counts over .gz and .zst differ from the reference: %d words, want %d", len(got), len(want))
		}
	})
	t.Run("resume", func(t *testing.T) {
		t.Parallel()
		// A compressed input is split again the same way on resume, so a
		// crashed job continues where it was.
		dir := t.TempDir()
		argv := []string{"sh", "-c", "sleep 0.02; tr a-z A-Z"}
		args := append([]string{"pipe", "--store", filepath.Join(dir, "store"), "--job", "gz", "-i", gz,
			"-o", "out.txt", "--chunk-size", "64KiB", "-j", "4", "--"}, argv...)
		crashThenResume(t, dir, "task.stored:20", args)
		got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != upper {
			t.Errorf("resumed output (%d bytes) differs from the reference (%d bytes)", len(got), len(upper))
		}
		assertNoTemporaries(t, dir)
	})
}

// TestCorruptCompressedInput checks a compressed input that does not
// decompress: found at its start, exit 2 before anything starts; found
// after tasks started (a truncated file), exit 1 naming the file, and no
// output published.
func TestCorruptCompressedInput(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	plain := filepath.Join(src, "plain.txt")
	genText(t, plain, 2<<20, 71)
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(src, "good.gz")
	compressGzip(t, good, data)
	gzData, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(src, "truncated.gz")
	if err := os.WriteFile(truncated, gzData[:len(gzData)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	notGzip := filepath.Join(src, "text.gz")
	if err := os.WriteFile(notGzip, data[:4096], 0o644); err != nil {
		t.Fatal(err)
	}
	notZstd := filepath.Join(src, "text.zst")
	if err := os.WriteFile(notZstd, data[:4096], 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(src, "empty.gz")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		code int
		want []string
	}{
		{"not gzip", notGzip, 2, []string{notGzip, "not a valid gzip file"}},
		{"not zstd", notZstd, 2, []string{notZstd, "not a valid zstd file"}},
		{"empty", empty, 2, []string{empty, "not a valid gzip file"}},
		{"truncated", truncated, 1, []string{truncated, "corrupt"}},
	}
	for _, tt := range tests {
		for _, kind := range []string{"pipe", "mapreduce"} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				args := []string{"pipe", "--store", filepath.Join(dir, "store"), "-i", tt.in, "-o", "out", "--chunk-size", "64KiB", "--", "cat"}
				if kind == "mapreduce" {
					args = []string{"mapreduce", "--store", filepath.Join(dir, "store"), "-i", tt.in, "-o", "out", "--map", "wordcount", "--reduce", "sum"}
				}
				r := jetmr(t, dir, args...)
				if r.code != tt.code {
					t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
				}
				for _, w := range tt.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
					}
				}
				if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
					t.Errorf("output exists after a corrupt input (stat: %v)", err)
				}
				if tt.code == 2 {
					if _, err := os.Stat(filepath.Join(dir, "store")); !os.IsNotExist(err) {
						t.Errorf("the store was created for a refused job")
					}
				}
			})
		}
	}
}

// TestCompressedRetryFailed fails the chunk of a .gz input that holds a
// POISON line, then runs it again with --resume --retry-failed and a
// command that digests it: the output equals the command run over the
// decompressed file, with no chunk dropped or repeated.
func TestCompressedRetryFailed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	for i := 1; i <= 60000; i++ {
		if i == 41234 {
			b.WriteString("POISON here\n")
			continue
		}
		fmt.Fprintf(&b, "line %d is fine\n", i)
	}
	in := filepath.Join(dir, "in.txt.gz")
	compressGzip(t, in, []byte(b.String()))
	store := t.TempDir()
	bad := `/POISON/ { exit 3 } { print toupper($0) }`
	res := jetmr(t, dir, "pipe", "--store", store, "--job", "poison", "-i", in, "-o", "out.txt", "--chunk-size", "64KiB", "--retries", "0", "--", "awk", bad)
	if res.code != 1 || strings.Count(res.stderr, "dead letter: task") != 1 {
		t.Fatalf("exit %d, want 1 with one dead letter; stderr:\n%s", res.code, res.stderr)
	}
	good := `{ print toupper($0) }`
	res = jetmr(t, dir, "pipe", "--store", store, "--job", "poison", "-i", in, "-o", "out.txt", "--resume", "--retry-failed", "--", "awk", good)
	if res.code != 0 {
		t.Fatalf("retry-failed: exit %d; stderr:\n%s", res.code, res.stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := gzipReference(t, []string{"awk", good}, in); string(got) != want {
		t.Fatalf("output after --retry-failed (%d bytes) differs from gzip -dc | awk (%d bytes)", len(got), len(want))
	}
}
