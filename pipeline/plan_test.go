package pipeline_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/pipeline"
	"github.com/jetmr/jetmr/schema"
)

// writeFile writes size bytes of lines to dir/name and returns its path.
func writeFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	line := "the quick brown fox jumps over the lazy dog\n"
	data := bytes.Repeat([]byte(line), size/len(line)+1)[:size]
	data[len(data)-1] = '\n'
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustParse(t *testing.T, text string) *pipeline.File {
	t.Helper()
	f, err := pipeline.Parse("job.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPlanEstimatesAndCriticalPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := writeFile(t, dir, "small.txt", 1<<20)
	big := writeFile(t, dir, "big.txt", 8<<20)
	f := mustParse(t, `
stages:
  - name: a
    pipe: {input: [`+small+`], output: `+dir+`/a.out, command: [cat]}
  - name: b
    pipe: {input: [stage:a], output: `+dir+`/b.out, command: [cat]}
  - name: c
    mapreduce: {input: [`+big+`], output: `+dir+`/c, map: wordcount, reduce: sum}
    depends_on: [a]
  - name: d
    pipe: {input: [stage:b, `+dir+`/c], output: `+dir+`/d.out, command: [cat]}
    depends_on: [c]
`)
	tp := pipeline.Throughput{schema.KindPipe: 1 << 20, schema.KindMapReduce: 1 << 20} // a MiB a second
	p, err := pipeline.NewPlan(f, tp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		level int
		est   time.Duration
	}{
		"a": {0, time.Second}, "b": {1, time.Second}, "c": {1, 8 * time.Second},
		"d": {2, 9 * time.Second}, // b's output (1 MiB) and c's (8 MiB)
	}
	for _, s := range p.Stages {
		w := want[s.Name]
		if s.Level != w.level || s.Estimate != w.est+pipeline.StageOverhead {
			t.Errorf("stage %s: level %d, estimate %s; want %d, %s", s.Name, s.Level, s.Estimate, w.level, w.est+pipeline.StageOverhead)
		}
	}
	if got := strings.Join(p.CriticalPath, " -> "); got != "a -> c -> d" {
		t.Errorf("critical path %s, want a -> c -> d", got)
	}
	if p.Critical != 18*time.Second+3*pipeline.StageOverhead {
		t.Errorf("critical path estimate %s", p.Critical)
	}

	// Mapreduce turns out 100 times faster: the pipe chain becomes critical.
	tp[schema.KindMapReduce] = 100 << 20
	p.Estimate(tp)
	if got := strings.Join(p.CriticalPath, " -> "); got != "a -> b -> d" {
		t.Errorf("critical path after re-estimating %s, want a -> b -> d", got)
	}

	var out bytes.Buffer
	if err := p.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"4 stages in 3 levels", "critical path (*): a -> b -> d", "b *", "c, b"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("plan text lacks %q:\n%s", s, out.String())
		}
	}
}

func TestPlanRefusesMissingInputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, dir, "in.txt", 100)
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := mustParse(t, `
stages:
  - name: a
    pipe: {input: [`+in+`], output: `+dir+`/out/a.txt, command: [cat]}
  - name: b
    pipe: {input: [`+dir+`/out/a.txt], output: `+dir+`/b.txt, command: [cat]}
    depends_on: [a]
  - name: c
    pipe:
      input: [`+dir+`/missing.txt]
      command: [cat]
`)
	_, err := pipeline.NewPlan(f, nil)
	var perr *pipeline.Error
	if !errors.As(err, &perr) || perr.Line != 10 || !strings.Contains(err.Error(), "stage c: input "+dir+"/missing.txt does not exist") {
		t.Fatalf("NewPlan: %v, want the missing input of stage c at line 10", err)
	}

	f = mustParse(t, `
stages:
  - name: a
    pipe:
      input: [`+in+`]
      output: `+dir+`/nofolder/a.txt
      command: [cat]
`)
	_, err = pipeline.NewPlan(f, nil)
	if !errors.As(err, &perr) || perr.Line != 6 || !strings.Contains(err.Error(), "the folder of output "+dir+"/nofolder/a.txt ("+dir+"/nofolder) does not exist") {
		t.Fatalf("NewPlan: %v, want the missing output folder of stage a at line 6", err)
	}
}
