package job_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// stragglerScript writes a command that upper-cases its input (a pipe
// chunk) or its argument (an each item) after a short sleep, except that
// the first attempt that sees the line or item LAST sleeps for slow
// first, in a process whose ID it records in dir/pid: a slow machine, not
// slow data, so a second attempt of the same task is fast.
func stragglerScript(t *testing.T, dir, slow string) string {
	t.Helper()
	return writeScript(t, dir, "straggle.sh", fmt.Sprintf(`d=%q
f=$(mktemp "$d/chunk.XXXXXX") || exit 1
if [ $# -gt 0 ]; then echo "$1" > "$f"; else cat > "$f"; fi
if grep -qx LAST "$f" && mkdir "$d/lock" 2>/dev/null; then
	sleep %s &
	echo $! > "$d/pid.tmp" && mv "$d/pid.tmp" "$d/pid"
	wait $!
fi
sleep 0.05
tr a-z A-Z < "$f"
rm -f "$f"
`, dir, slow))
}

// stragglerInput writes lines of text ending with the line LAST.
func stragglerInput(t *testing.T, dir string, lines int) string {
	t.Helper()
	var b bytes.Buffer
	for i := range lines {
		fmt.Fprintf(&b, "line %d of the input\n", i)
	}
	b.WriteString("LAST\n")
	p := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// stragglerPID is the process ID the slow attempt recorded.
func stragglerPID(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatalf("the slow attempt never ran: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestBackupOvertakesStraggler runs a pipe job whose last task's first
// attempt would sleep for a minute, longer than the test allows: a backup
// attempt runs it again on the idle slot, its result is merged, the
// output is the sequential run's, and the slow attempt's sleep is killed.
func TestBackupOvertakesStraggler(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := stragglerInput(t, dir, 2000)
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Slots, cfg.ChunkSize = schema.KindPipe, []string{in}, 2, 4<<10
	cfg.Command = []string{stragglerScript(t, dir, "60")}
	cfg.Output = filepath.Join(dir, "out.txt")
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BackupsRun < 1 || rep.BackupsWon < 1 {
		t.Errorf("%d backups ran and %d won; want the straggler's backup to win", rep.BackupsRun, rep.BackupsWon)
	}
	if !strings.Contains(rep.Summary(), "finished first") {
		t.Errorf("the summary does not count the backups: %s", rep.Summary())
	}
	got, err := os.ReadFile(cfg.Output)
	if err != nil {
		t.Fatal(err)
	}
	if want := sequentialPipe(t, []string{"tr", "a-z", "A-Z"}, []string{in}); !bytes.Equal(got, want) {
		t.Fatalf("output differs from the sequential run: %s", firstDiff(got, want))
	}
	pid := stragglerPID(t, dir)
	waitFor(t, "the slow attempt's sleep to be killed", func() bool { return !alive(pid) })
}

// TestBackupsOnlyWhenAllowed runs a straggler slow enough for a backup
// under each speculation setting: a pipe job with backups turned off and
// an each job not declared idempotent run none, waiting for the slow
// attempt instead; an each job declared idempotent runs one.
func TestBackupsOnlyWhenAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		kind        schema.Kind
		spec        job.Speculation
		idempotent  bool
		slow        string
		wantBackups bool
	}{
		{name: "pipe off", kind: schema.KindPipe, spec: job.SpeculateOff, slow: "1.5"},
		{name: "each not idempotent", kind: schema.KindEach, slow: "1.5"},
		{name: "each idempotent, turned off", kind: schema.KindEach, spec: job.SpeculateOff, idempotent: true, slow: "1.5"},
		{name: "each idempotent", kind: schema.KindEach, idempotent: true, slow: "60", wantBackups: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := baseConfig(t)
			cfg.Kind, cfg.Slots, cfg.Speculative, cfg.Idempotent = tt.kind, 2, tt.spec, tt.idempotent
			cfg.Command = []string{stragglerScript(t, dir, tt.slow)}
			var out bytes.Buffer
			cfg.Stdout = &out
			if tt.kind == schema.KindEach {
				for i := range 30 {
					cfg.Items = append(cfg.Items, fmt.Sprintf("item%d", i))
				}
				cfg.Items, cfg.ChunkSize = append(cfg.Items, "LAST"), 1
			} else {
				cfg.Inputs, cfg.ChunkSize = []string{stragglerInput(t, dir, 2000)}, 4<<10
			}
			rep, err := runJob(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			stragglerPID(t, dir)
			if got := rep.BackupsRun > 0; got != tt.wantBackups {
				t.Errorf("%d backups ran; want some: %v", rep.BackupsRun, tt.wantBackups)
			}
			if !strings.Contains(out.String(), "LAST") {
				t.Errorf("the output lacks the slow task's: %q", out.String())
			}
		})
	}
}

// TestSpeculativeNeedsIdempotent refuses backups asked for an each or a
// migrate job not declared idempotent, before anything starts.
func TestSpeculativeNeedsIdempotent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind schema.Kind
		job  string
	}{{schema.KindEach, "an each job"}, {schema.KindMigrate, "a migrate job"}} {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.Kind, cfg.Items, cfg.Command, cfg.Speculative = tc.kind, []string{"a"}, []string{"true"}, job.SpeculateOn
			_, err := runJob(t, cfg)
			if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), "Config.Idempotent") || !strings.Contains(err.Error(), tc.job) {
				t.Fatalf("err = %v; want bad input naming Config.Idempotent and %q", err, tc.job)
			}
		})
	}
}

// TestNoBackupOfFailedTask fails the first task for good (no retries)
// while the last one straggles long enough for backups: the straggler
// gets one, the failed task none (its command ran once), and the job
// reports the failure.
func TestNoBackupOfFailedTask(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b bytes.Buffer
	b.WriteString("FAIL\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "line %d of the input\n", i)
	}
	b.WriteString("LAST\n")
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	script := writeScript(t, dir, "fail.sh", fmt.Sprintf(`d=%q
f=$(mktemp "$d/chunk.XXXXXX") || exit 1
cat > "$f"
if grep -qx FAIL "$f"; then wc -c < "$f" >> "$d/failed"; rm -f "$f"; exit 1; fi
if grep -qx LAST "$f" && mkdir "$d/lock" 2>/dev/null; then sleep 3; fi
sleep 0.05
tr a-z A-Z < "$f"
rm -f "$f"
`, dir))
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Slots, cfg.ChunkSize, cfg.Retries = schema.KindPipe, []string{in}, 3, 4<<10, -1
	cfg.Command, cfg.Output = []string{script}, filepath.Join(dir, "out.txt")
	rep, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrTasksFailed) {
		t.Fatalf("err = %v, want the failed task", err)
	}
	if rep.BackupsRun < 1 {
		t.Errorf("no backup ran: the straggler should have had one")
	}
	runs, err := os.ReadFile(filepath.Join(dir, "failed"))
	if err != nil {
		t.Fatal(err)
	}
	// The runs over parts of the chunk that bisect it after its one
	// attempt are smaller than the chunk.
	if len(rep.DeadLetters) != 1 {
		t.Fatalf("%d dead letters, want 1", len(rep.DeadLetters))
	}
	n := 0
	for _, f := range strings.Fields(string(runs)) {
		if f == strconv.FormatInt(rep.DeadLetters[0].Length, 10) {
			n++
		}
	}
	// A bisection that takes longer than the backup threshold leaves the
	// task unmerged and without a running attempt: the job may back it up
	// (the backup's failure is dropped), which BackupsRun then counts.
	if n != 1 && (n != 2 || rep.BackupsRun < 2) {
		t.Errorf("the failing task's command ran %d times over its whole chunk (%d backups); want once (no retries, no backup)", n, rep.BackupsRun)
	}
}

// TestBackupInMapReduce backs up a straggling map task of a mapreduce job
// with two partitions: the output is that of the same job without the
// straggler, each task's pairs counted once.
func TestBackupInMapReduce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := stragglerInput(t, dir, 2000)
	run := func(name string) (map[string]string, int) {
		cfg := baseConfig(t)
		cfg.Kind, cfg.Inputs, cfg.Slots, cfg.ChunkSize = schema.KindMapReduce, []string{in}, 2, 4<<10
		cfg.Map, cfg.Reduce, cfg.Partitions = stragglerScript(t, dir, "60"), "count", 2
		cfg.Output = filepath.Join(dir, name)
		rep, err := runJob(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return readParts(t, cfg.Output, 2), rep.BackupsWon
	}
	if err := os.Mkdir(filepath.Join(dir, "lock"), 0o755); err != nil {
		t.Fatal(err)
	}
	want, _ := run("clean") // the lock is taken: nothing straggles
	if err := os.Remove(filepath.Join(dir, "lock")); err != nil {
		t.Fatal(err)
	}
	got, won := run("straggled")
	if won < 1 {
		t.Errorf("no backup won; want the straggler's")
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key %q: %q, want %q", k, got[k], v)
		}
	}
	waitFor(t, "the slow attempt's sleep to be killed", func() bool { return !alive(stragglerPID(t, dir)) })
}

// TestSpeculationByKind checks which jobs run backup attempts: pipe and
// mapreduce by default, each and migrate only when declared idempotent,
// none when turned off.
func TestSpeculationByKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind       schema.Kind
		spec       job.Speculation
		idempotent bool
		want       bool
	}{
		{schema.KindPipe, job.SpeculateAuto, false, true},
		{schema.KindMapReduce, job.SpeculateAuto, false, true},
		{schema.KindEach, job.SpeculateAuto, false, false},
		{schema.KindMigrate, job.SpeculateAuto, false, false},
		{schema.KindEach, job.SpeculateAuto, true, true},
		{schema.KindMigrate, job.SpeculateAuto, true, true},
		{schema.KindMigrate, job.SpeculateOn, true, true},
		{schema.KindPipe, job.SpeculateOff, false, false},
		{schema.KindMapReduce, job.SpeculateOff, true, false},
		{schema.KindMigrate, job.SpeculateOff, true, false},
	}
	for _, tt := range tests {
		cfg := job.Config{Kind: tt.kind, Speculative: tt.spec, Idempotent: tt.idempotent}
		if got := job.Speculates(cfg); got != tt.want {
			t.Errorf("%s, speculation %d, idempotent %v: backups %v, want %v", tt.kind, tt.spec, tt.idempotent, got, tt.want)
		}
	}
}
