package job_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// copyFile copies a testdata file into dir, so that a test that might
// write over it never touches the repository.
func copyFile(t testing.TB, src, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadInput checks that every mistake in a job's configuration or inputs
// is reported as ErrBadInput, with a message naming what is wrong, before
// anything starts: no broker store is created and no output appears.
func TestBadInput(t *testing.T) {
	t.Parallel()
	type setup struct {
		dir string // a scratch folder; outputs go here
		cfg *job.Config
	}
	pipe := func(s setup, cmd ...string) {
		s.cfg.Kind = schema.KindPipe
		s.cfg.Inputs = []string{td(t, "crlf.txt")}
		s.cfg.Command = cmd
		s.cfg.Output = filepath.Join(s.dir, "out.txt")
	}
	mapreduce := func(s setup, m, r string) {
		s.cfg.Kind = schema.KindMapReduce
		s.cfg.Inputs = []string{td(t, "text")}
		s.cfg.Map, s.cfg.Reduce = m, r
		s.cfg.Output = filepath.Join(s.dir, "out")
	}
	tests := []struct {
		name  string
		setup func(s setup)
		want  []string // substrings of the message
	}{
		{"missing input", func(s setup) {
			pipe(s, "cat")
			s.cfg.Inputs = []string{filepath.Join(s.dir, "nope.txt")}
		}, []string{"nope.txt", "does not exist"}},
		{"missing input among good ones", func(s setup) {
			pipe(s, "cat")
			s.cfg.Inputs = []string{td(t, "crlf.txt"), filepath.Join(s.dir, "gone.log")}
		}, []string{"gone.log"}},
		{"missing mapreduce input", func(s setup) {
			mapreduce(s, "wordcount", "sum")
			s.cfg.Inputs = []string{filepath.Join(s.dir, "no-such-dir")}
		}, []string{"no-such-dir"}},
		{"no inputs", func(s setup) {
			pipe(s, "cat")
			s.cfg.Inputs = nil
		}, []string{"input"}},
		{"directory without files", func(s setup) {
			pipe(s, "cat")
			empty := filepath.Join(s.dir, "emptydir")
			if err := os.Mkdir(empty, 0o755); err != nil {
				t.Fatal(err)
			}
			s.cfg.Inputs = []string{empty}
		}, []string{"emptydir"}},
		{"unknown map", func(s setup) {
			mapreduce(s, "no-such-map-fn", "sum")
		}, []string{"--map", "no-such-map-fn"}},
		{"unknown reduce", func(s setup) {
			mapreduce(s, "wordcount", "no-such-reduce-fn")
		}, []string{"--reduce", "no-such-reduce-fn"}},
		{"bad grep regexp", func(s setup) {
			mapreduce(s, "grep:([a-z", "count")
		}, []string{"--map", "([a-z"}},
		{"missing map", func(s setup) {
			mapreduce(s, "", "sum")
		}, []string{"--map"}},
		{"missing reduce", func(s setup) {
			mapreduce(s, "wordcount", "")
		}, []string{"--reduce"}},
		{"map command path missing", func(s setup) {
			mapreduce(s, filepath.Join(s.dir, "mapper.sh"), "sum")
		}, []string{"--map", "mapper.sh"}},
		{"reduce command with unterminated quote", func(s setup) {
			mapreduce(s, "wordcount", "awk '{print")
		}, []string{"--reduce", "quote"}},
		{"command not on PATH", func(s setup) {
			pipe(s, "jetmr-no-such-command", "-x")
		}, []string{"jetmr-no-such-command", "not found"}},
		{"no command", func(s setup) {
			pipe(s)
		}, []string{"command"}},
		{"output is the input", func(s setup) {
			pipe(s, "cat")
			in := copyFile(t, td(t, "crlf.txt"), s.dir, "in.txt")
			s.cfg.Inputs, s.cfg.Output = []string{in}, in
		}, []string{"in.txt", "input"}},
		{"output is the input by another path", func(s setup) {
			pipe(s, "cat")
			in := copyFile(t, td(t, "crlf.txt"), s.dir, "in.txt")
			s.cfg.Inputs = []string{in}
			s.cfg.Output = filepath.Join(s.dir, "sub", "..", "in.txt")
		}, []string{"in.txt", "input"}},
		{"output is a hard link to the input", func(s setup) {
			pipe(s, "cat")
			in := copyFile(t, td(t, "crlf.txt"), s.dir, "in.txt")
			link := filepath.Join(s.dir, "link.txt")
			if err := os.Link(in, link); err != nil {
				t.Fatal(err)
			}
			s.cfg.Inputs, s.cfg.Output = []string{in}, link
		}, []string{"link.txt", "input"}},
		{"output is a file of an input directory", func(s setup) {
			pipe(s, "cat")
			sub := filepath.Join(s.dir, "in")
			os.Mkdir(sub, 0o755)
			copyFile(t, td(t, "crlf.txt"), sub, "a.txt")
			copyFile(t, td(t, "nonl.txt"), sub, "b.txt")
			s.cfg.Inputs, s.cfg.Output = []string{sub}, filepath.Join(sub, "b.txt")
		}, []string{"b.txt", "input"}},
		{"pipe output's folder missing", func(s setup) {
			pipe(s, "cat")
			s.cfg.Output = filepath.Join(s.dir, "missing", "out.txt")
		}, []string{"missing", "does not exist"}},
		{"pipe output is a directory", func(s setup) {
			pipe(s, "cat")
			s.cfg.Output = s.dir
		}, []string{"is a directory"}},
		{"mapreduce output's folder missing", func(s setup) {
			mapreduce(s, "wordcount", "sum")
			s.cfg.Output = filepath.Join(s.dir, "missing", "out")
		}, []string{"missing", "does not exist"}},
		{"pipe output exists", func(s setup) {
			pipe(s, "cat")
			if err := os.WriteFile(s.cfg.Output, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"out.txt", "already exists", "--force"}},
		{"each output exists", func(s setup) {
			s.cfg.Kind, s.cfg.Items, s.cfg.Command = schema.KindEach, []string{"a"}, []string{"echo", "{}"}
			s.cfg.Output = filepath.Join(s.dir, "items.txt")
			if err := os.WriteFile(s.cfg.Output, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"items.txt", "already exists", "--force"}},
		{"mapreduce output exists", func(s setup) {
			mapreduce(s, "wordcount", "sum")
			if err := os.Mkdir(s.cfg.Output, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(s.cfg.Output, "keep.txt"), []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"out", "already exists", "--force"}},
		{"mapreduce output exists as a file", func(s setup) {
			mapreduce(s, "wordcount", "sum")
			if err := os.WriteFile(s.cfg.Output, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"out", "already exists"}},
		{"mapreduce output inside an input", func(s setup) {
			mapreduce(s, "wordcount", "sum")
			sub := filepath.Join(s.dir, "in")
			os.Mkdir(sub, 0o755)
			copyFile(t, td(t, "crlf.txt"), sub, "a.txt")
			s.cfg.Inputs, s.cfg.Output = []string{sub}, filepath.Join(sub, "out")
		}, []string{"inside"}},
		{"mapreduce without output", func(s setup) {
			mapreduce(s, "wordcount", "sum")
			s.cfg.Output = ""
		}, []string{"output"}},
		{"negative partitions", func(s setup) {
			mapreduce(s, "wordcount", "sum")
			s.cfg.Partitions = -1
		}, []string{"Config.Partitions", "-1"}},
		{"too many partitions", func(s setup) {
			mapreduce(s, "wordcount", "sum")
			s.cfg.Partitions = 10001
		}, []string{"Config.Partitions", "10001"}},
		{"negative chunk size", func(s setup) {
			pipe(s, "cat")
			s.cfg.ChunkSize = -5
		}, []string{"Config.ChunkSize", "-5"}},
		{"negative timeout", func(s setup) {
			pipe(s, "cat")
			s.cfg.Timeout = -time.Second
		}, []string{"Config.Timeout"}},
		{"bad job ID", func(s setup) {
			pipe(s, "cat")
			s.cfg.ID = "no spaces allowed"
		}, []string{"no spaces allowed"}},
		{"unknown kind", func(s setup) {
			pipe(s, "cat")
			s.cfg.Kind = "shuffle"
		}, []string{"shuffle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			store := filepath.Join(t.TempDir(), "store")
			cfg := job.Config{Broker: broker.Config{StoreDir: store}}
			tt.setup(setup{dir: dir, cfg: &cfg})
			before := treeOf(t, dir)
			rep, err := runJob(t, cfg)
			if !errors.Is(err, job.ErrBadInput) {
				t.Fatalf("Run: error %v, want one matching job.ErrBadInput", err)
			}
			if rep != nil {
				t.Errorf("Run returned a report with a bad-input error: %+v", rep)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not mention %q", err, w)
				}
				// A message naming a setting says so in the error, for
				// callers to translate (the CLI to its flags).
				var bad *errs.BadInputError
				if strings.HasPrefix(w, "Config.") && (!errors.As(err, &bad) || bad.Setting != w) {
					t.Errorf("error %v does not name setting %s", err, w)
				}
			}
			if after := treeOf(t, dir); !slices.Equal(before, after) {
				t.Errorf("files changed although the job was rejected:\nbefore %q\nafter  %q", before, after)
			}
			if _, err := os.Stat(store); !os.IsNotExist(err) {
				t.Errorf("the broker store %s was created although the job was rejected (stat: %v)", store, err)
			}
		})
	}
}

// treeOf lists every path under dir with its size, to compare before and
// after a job.
func treeOf(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d %v", strings.TrimPrefix(p, dir), fi.Size(), fi.IsDir()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUnreachableNATS checks that a NATS URL nobody answers on fails fast
// with broker.ErrUnreachable and creates no output.
func TestUnreachableNATS(t *testing.T) {
	t.Parallel()
	for _, kind := range []schema.Kind{schema.KindPipe, schema.KindMapReduce} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := baseConfig(t)
			cfg.Kind, cfg.Inputs = kind, []string{td(t, "text")}
			cfg.Broker.URL = "nats://127.0.0.1:1"
			if kind == schema.KindPipe {
				cfg.Command, cfg.Output = []string{"cat"}, filepath.Join(dir, "out.txt")
			} else {
				cfg.Map, cfg.Reduce, cfg.Output = "wordcount", "sum", filepath.Join(dir, "out")
			}
			start := time.Now()
			rep, err := runJob(t, cfg)
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("Run took %s to give up, want under 10s", took)
			}
			if !errors.Is(err, broker.ErrUnreachable) {
				t.Fatalf("Run: error %v, want one matching broker.ErrUnreachable", err)
			}
			if errors.Is(err, job.ErrBadInput) || errors.Is(err, job.ErrTasksFailed) {
				t.Errorf("Run: error %v also matches ErrBadInput or ErrTasksFailed", err)
			}
			if !strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Errorf("message %q does not name the URL", err)
			}
			if rep != nil {
				t.Errorf("Run returned a report: %+v", rep)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("output folder holds %q, want nothing", names)
			}
		})
	}
}

// TestJobIDTaken checks that a job ID already used in the store is refused
// as bad input, without touching the output.
func TestJobIDTaken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := baseConfig(t)
	cfg.ID, cfg.Kind, cfg.Inputs, cfg.Command = "taken-id", schema.KindPipe, []string{td(t, "crlf.txt")}, []string{"cat"}
	cfg.Output = filepath.Join(dir, "first.txt")
	if _, err := runJob(t, cfg); err != nil {
		t.Fatalf("first run: %v", err)
	}
	cfg.Output = filepath.Join(dir, "second.txt")
	_, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), "taken-id") {
		t.Fatalf("second run: error %v, want ErrBadInput naming taken-id", err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"first.txt"}) {
		t.Errorf("output folder holds %q, want only first.txt", names)
	}
	// Refused before anything was created for it: the finished job's
	// streams stay deleted.
	ctx := context.Background()
	b, err := broker.Open(ctx, cfg.Broker)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.JS.Stream(ctx, schema.TaskStream(cfg.ID)); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("the refused job's task stream: %v, want none created", err)
	}
}

// boomInput writes a file of numbered lines with one BOOM line in the
// middle, and returns its path, its content and the BOOM line's offset.
func boomInput(t testing.TB, dir string) (string, []byte, int) {
	var b bytes.Buffer
	boom := 0
	for i := range 2000 {
		if i == 1200 {
			boom = b.Len()
			b.WriteString("this line goes BOOM\n")
			continue
		}
		b.WriteString("line " + strconv.Itoa(i) + " is fine\n")
	}
	p := filepath.Join(dir, "boom.txt")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b.Bytes(), boom
}

// failOnBoom passes lines through and fails on the first BOOM.
var failOnBoom = []string{"awk", `/BOOM/ { print "bad line " NR ": " $0 > "/dev/stderr"; exit 7 } { print }`}

// TestFailingCommand checks that tasks failing on every attempt fail the
// job with ErrTasksFailed, a report listing each dead letter with its exit
// status and stderr, and no output.
func TestFailingCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cmd      []string
		chunk    int64
		retries  int
		status   int
		stderr   string
		deadOnly bool // only the BOOM task fails
	}{
		{"exit 3 everywhere", []string{"sh", "-c", "cat >/dev/null; echo giving up >&2; exit 3"}, 16 << 10, -1, 3, "giving up", false},
		{"fails on one line", failOnBoom, 2 << 10, -1, 7, "bad line", true},
		{"fails on one line after retries", failOnBoom, 8 << 10, 1, 7, "this line goes BOOM", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in, _, boom := boomInput(t, t.TempDir())
			cfg := baseConfig(t)
			cfg.Kind, cfg.Inputs, cfg.Command, cfg.ChunkSize, cfg.Retries = schema.KindPipe, []string{in}, tt.cmd, tt.chunk, tt.retries
			cfg.Output = filepath.Join(dir, "out.txt")
			rep, err := runJob(t, cfg)
			if !errors.Is(err, job.ErrTasksFailed) {
				t.Fatalf("Run: error %v, want one matching job.ErrTasksFailed", err)
			}
			var tfe *job.TasksFailedError
			if !errors.As(err, &tfe) {
				t.Fatalf("Run: error %T is not a *job.TasksFailedError", err)
			}
			if rep == nil {
				t.Fatal("Run returned no report with ErrTasksFailed")
			}
			tasks, _ := countRanges(t, tt.chunk, in)
			wantDead := tasks
			if tt.deadOnly {
				wantDead = 1
			}
			if rep.Tasks != tasks || rep.Failed != wantDead || len(rep.DeadLetters) != wantDead || len(tfe.Dead) != wantDead {
				t.Fatalf("report: %d tasks, %d failed, %d dead letters (error: %d); want %d tasks, %d failed",
					rep.Tasks, rep.Failed, len(rep.DeadLetters), len(tfe.Dead), tasks, wantDead)
			}
			for _, d := range rep.DeadLetters {
				if d.Error.ExitStatus != tt.status || !strings.Contains(d.Error.StderrTail, tt.stderr) {
					t.Errorf("dead letter of task %d: exit status %d, stderr %q; want %d and %q",
						d.Index, d.Error.ExitStatus, d.Error.StderrTail, tt.status, tt.stderr)
				}
				if want := max(tt.retries, 0) + 1; d.Attempts != want {
					t.Errorf("dead letter of task %d: %d attempts, want %d", d.Index, d.Attempts, want)
				}
				if d.Path != in || d.Length <= 0 {
					t.Errorf("dead letter of task %d names %s bytes %d+%d, want a range of %s", d.Index, d.Path, d.Offset, d.Length, in)
				}
				if tt.deadOnly && (int64(boom) < d.Offset || int64(boom) >= d.Offset+d.Length) {
					t.Errorf("dead letter range %d+%d does not hold the BOOM line at %d", d.Offset, d.Length, boom)
				}
				if !strings.Contains(d.Error.Message, tt.cmd[0]) {
					t.Errorf("dead letter message %q does not name the command %s", d.Error.Message, tt.cmd[0])
				}
			}
			checkNoOutput(t, cfg.Output)
		})
	}
}

// checkNoOutput checks that a failed job published no output: the output
// path does not exist, and its folder holds at most jetmr's hidden
// temporary file, kept for a resume.
func checkNoOutput(t testing.TB, out string) {
	t.Helper()
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("output %s exists after a failed job (lstat: %v)", out, err)
	}
	for _, name := range dirNames(t, filepath.Dir(out)) {
		if !strings.HasPrefix(name, "."+filepath.Base(out)+".jetmr-") {
			t.Errorf("output folder holds %s after a failed job", name)
		}
	}
}

// TestFailingCommandToStdout checks that output to a stream stops at the
// last task before the one that failed.
func TestFailingCommandToStdout(t *testing.T) {
	t.Parallel()
	in, data, boom := boomInput(t, t.TempDir())
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command, cfg.ChunkSize, cfg.Retries = schema.KindPipe, []string{in}, failOnBoom, 2<<10, -1
	var out bytes.Buffer
	cfg.Stdout = &out
	rep, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrTasksFailed) {
		t.Fatalf("Run: error %v, want one matching job.ErrTasksFailed", err)
	}
	if rep == nil || len(rep.DeadLetters) != 1 {
		t.Fatalf("report %+v, want one dead letter", rep)
	}
	d := rep.DeadLetters[0]
	if int64(boom) < d.Offset || int64(boom) >= d.Offset+d.Length {
		t.Fatalf("dead letter range %d+%d does not hold the BOOM line at %d", d.Offset, d.Length, boom)
	}
	// awk '{print}' passes lines through: the output must be exactly the
	// input before the failed task.
	if want := data[:d.Offset]; !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("stream output is not the output of the tasks before the failure: %s", firstDiff(out.Bytes(), want))
	}
}

// TestFailingMapReduce checks failing map and reduce commands: the job
// fails and the output directory never appears.
func TestFailingMapReduce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		mapSpec     string
		reduceSpec  string
		tasksFailed bool
		want        string
	}{
		{"map command fails", `sh -c 'cat >/dev/null; echo map broke >&2; exit 4'`, "sum", true, "map broke"},
		{"map command emits a bad value for sum", `sh -c 'printf "k\tnot-a-number\n"'`, "sum", true, "not-a-number"},
		{"reduce command fails", "wordcount", `sh -c 'cat >/dev/null; echo reduce broke >&2; exit 5'`, false, "reduce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := baseConfig(t)
			cfg.Kind, cfg.Inputs, cfg.Output = schema.KindMapReduce, []string{td(t, "text")}, filepath.Join(dir, "out")
			cfg.Map, cfg.Reduce, cfg.Partitions, cfg.Retries, cfg.ChunkSize = tt.mapSpec, tt.reduceSpec, 2, -1, 4<<10
			rep, err := runJob(t, cfg)
			if err == nil {
				t.Fatal("Run succeeded, want an error")
			}
			if got := errors.Is(err, job.ErrTasksFailed); got != tt.tasksFailed {
				t.Errorf("Run: error %v; matches ErrTasksFailed: %v, want %v", err, got, tt.tasksFailed)
			}
			if errors.Is(err, job.ErrBadInput) {
				t.Errorf("Run: error %v matches ErrBadInput", err)
			}
			text := err.Error()
			if rep != nil {
				for _, d := range rep.DeadLetters {
					text += "\n" + d.Error.Message + "\n" + d.Error.StderrTail
				}
			}
			if !strings.Contains(text, tt.want) {
				t.Errorf("neither the error nor the dead letters mention %q:\n%s", tt.want, text)
			}
			checkNoOutput(t, cfg.Output)
		})
	}
}

// TestTimeout checks that a task exceeding Timeout is killed and becomes a
// dead letter saying so.
func TestTimeout(t *testing.T) {
	t.Parallel()
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command = schema.KindPipe, []string{td(t, "crlf.txt")}, []string{"sleep", "20"}
	cfg.Timeout, cfg.Retries = 300*time.Millisecond, -1
	var out bytes.Buffer
	cfg.Stdout = &out
	start := time.Now()
	rep, err := runJob(t, cfg)
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("Run took %s, want the task killed after 300ms", took)
	}
	if !errors.Is(err, job.ErrTasksFailed) || rep == nil || len(rep.DeadLetters) != 1 {
		t.Fatalf("Run: %v, report %+v; want ErrTasksFailed with one dead letter", err, rep)
	}
	if msg := rep.DeadLetters[0].Error.Message; !strings.Contains(msg, "timed out") {
		t.Errorf("dead letter message %q does not say the task timed out", msg)
	}
	if out.Len() != 0 {
		t.Errorf("output %q, want none", out.Bytes())
	}
}

// TestRetryRecovers checks that tasks failing once succeed on retry and
// the output is complete.
func TestRetryRecovers(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	in := td(t, "text")
	// Fail the first attempt of each chunk (named by its checksum), then
	// pass the chunk through.
	script := writeScript(t, t.TempDir(), "flaky", `tmp=$(mktemp) || exit 90
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
mark="`+marks+`/$(cksum < "$tmp" | tr ' ' '-')"
if [ -e "$mark" ]; then cat "$tmp"; exit 0; fi
: > "$mark"
echo "transient failure" >&2
exit 1
`)
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Command, cfg.ChunkSize, cfg.Retries = schema.KindPipe, []string{in}, []string{script}, 4<<10, 2
	cfg.Output = filepath.Join(t.TempDir(), "out.txt")
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, err := os.ReadFile(cfg.Output)
	if err != nil {
		t.Fatal(err)
	}
	if want := sequentialPipe(t, []string{"cat"}, inputFiles(t, in)); !bytes.Equal(got, want) {
		t.Fatalf("output differs: %s", firstDiff(got, want))
	}
	tasks, _ := countRanges(t, 4<<10, in)
	if rep.Failed != 0 || rep.Tasks != tasks {
		t.Errorf("report: %d tasks, %d failed; want %d, 0", rep.Tasks, rep.Failed, tasks)
	}
	if marked := dirNames(t, marks); len(marked) != tasks {
		t.Errorf("%d chunks failed once, want all %d", len(marked), tasks)
	}
}

// TestCancel checks that cancelling a running job stops it promptly: Run
// returns context.Canceled, the running command is killed and no output
// is published.
func TestCancel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(t.TempDir(), "started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(t)
	// One task, so that one command writes to the FIFO.
	cfg.Kind, cfg.Inputs = schema.KindPipe, []string{td(t, "crlf.txt")}
	cfg.Command = []string{"sh", "-c", `echo $$ > "$0"; exec sleep 30`, fifo}
	cfg.Output = filepath.Join(dir, "out.txt")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		_, err := job.Run(ctx, cfg)
		done <- result{err}
	}()
	// Wait for the command to start: it writes its PID into the FIFO.
	pidCh := make(chan string, 1)
	go func() {
		data, err := os.ReadFile(fifo) // blocks until the command opens it
		if err != nil {
			pidCh <- ""
			return
		}
		pidCh <- strings.TrimSpace(string(data))
	}()
	var pid int
	select {
	case s := <-pidCh:
		var err error
		if pid, err = strconv.Atoi(s); err != nil {
			t.Fatalf("the command wrote %q, want its PID", s)
		}
	case r := <-done:
		// Unblock the reader, then fail.
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		<-pidCh
		t.Fatalf("Run returned %v before the command started", r.err)
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not start within 20s")
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("Run: error %v, want context.Canceled", r.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of the cancellation")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the command (pid %d) still exists after Run returned: kill 0: %v", pid, err)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if _, err := os.Stat(cfg.Output); !os.IsNotExist(err) {
		t.Errorf("output %s exists after a cancelled job (stat: %v)", cfg.Output, err)
	}
}

// TestTasksFailedHalted checks that the message of a job that halted says
// so, and for a migration what its run committed.
func TestTasksFailedHalted(t *testing.T) {
	t.Parallel()
	dead := []report.DeadLetter{{Index: 1}}
	for _, c := range []struct {
		err  job.TasksFailedError
		want string
	}{
		{job.TasksFailedError{Job: "m", Kind: schema.KindMigrate, Dead: dead},
			"job m: 1 batch(es) failed; the other batches committed"},
		{job.TasksFailedError{Job: "m", Kind: schema.KindMigrate, Dead: dead, Halted: "now", Counted: true, Committed: 3, CommittedRows: 300},
			"job m: 1 batch(es) failed and --halt now stopped the job: 3 batch(es) had committed (300 rows) when it stopped, no other batch had; a resume with --retry-failed runs the failed batches and those that did not run"},
		{job.TasksFailedError{Job: "m", Kind: schema.KindMigrate, Dead: dead, Halted: "soon"},
			"job m: 1 batch(es) failed and --halt soon stopped the job: the batches that had not started did not run; a resume with --retry-failed runs them and the failed ones"},
		{job.TasksFailedError{Job: "p", Kind: schema.KindPipe, Dead: dead, Halted: "now"},
			"job p: 1 task(s) failed on every attempt and --halt now stopped the job; no output was published"},
		{job.TasksFailedError{Job: "p", Kind: schema.KindPipe, Dead: dead},
			"job p: 1 task(s) failed on every attempt; no output was published"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}
