package pipeline_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/pipeline"
	"github.com/jetmr/jetmr/schema"
)

func TestParseRefusesBadFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		file string
		line int
		want string
	}{
		{"cycle", `
stages:
  - name: a
    pipe: {input: [in.txt], output: a.out, command: [cat]}
    depends_on: [b]
  - name: b
    pipe: {input: [stage:a], output: b.out, command: [cat]}
`, 5, "cycle: a -> b -> a"},
		{"cycle of three", `
stages:
  - name: a
    pipe: {input: [in.txt], output: a.out, command: [cat]}
    depends_on: [c]
  - name: b
    pipe: {input: [in.txt], output: b.out, command: [cat]}
    depends_on: [a]
  - name: c
    pipe: {input: [in.txt], output: c.out, command: [cat]}
    depends_on: [b]
`, 5, "cycle: a -> b -> c -> a"},
		{"negative skip_bad_records", `
stages:
  - name: a
    pipe: {input: [in.txt], output: a.out, command: [cat], skip_bad_records: -1}
`, 4, "skip_bad_records: -1 is not valid: use 0 or more"},
		{"self dependency", `
stages:
  - name: a
    pipe: {input: [in.txt], output: a.out, command: [cat]}
    depends_on: [a]
`, 5, "stage a depends on itself"},
		{"unknown dependency", `
stages:
  - name: a
    pipe: {input: [in.txt], output: a.out, command: [cat]}
  - name: b
    pipe: {input: [in.txt], output: b.out, command: [cat]}
    depends_on: [a, nope]
`, 7, "stage b depends on nope, but there is no stage nope: the stages are a, b"},
		{"unknown stage input", `
stages:
  - name: a
    pipe:
      input: [stage:upper]
      command: [cat]
`, 5, "there is no stage upper"},
		{"stage input without a file", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat]}
  - name: b
    mapreduce:
      input: [stage:a]
      output: counts
      map: wordcount
      reduce: sum
`, 7, "reads stage:a, but stage a writes no file"},
		{"duplicate names", `
stages:
  - name: a
    pipe: {input: [in.txt], output: a.out, command: [cat]}
  - name: a
    pipe: {input: [in.txt], output: a2.out, command: [cat]}
`, 5, "two stages are named a (the first at line 3)"},
		{"missing field", `
stages:
  - name: counts
    mapreduce:
      input: [in.txt]
      output: counts
      map: wordcount
`, 4, "mapreduce of stage counts has no reduce: add reduce:"},
		{"missing name", `
stages:
  - pipe: {input: [in.txt], command: [cat]}
`, 3, "a stage has no name"},
		{"no kind", `
stages:
  - name: a
    depends_on: []
`, 3, "stage a has no kind: give one of pipe, mapreduce, each, migrate"},
		{"two kinds", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat]}
    mapreduce: {input: [in.txt], output: o, map: wordcount, reduce: sum}
`, 5, "stage a has two kinds, pipe and mapreduce: give one per stage"},
		{"unknown stage field", `
stages:
  - name: a
    needs: [b]
    pipe: {input: [in.txt], command: [cat]}
`, 4, `unknown field "needs" in a stage: use depends_on, each, mapreduce, migrate, name, pipe`},
		{"unknown kind field", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat], ouput: x}
`, 4, `unknown field "ouput" in pipe of stage a`},
		{"unknown top-level field", `
stage:
  - name: a
`, 2, `unknown field "stage" in the job file`},
		{"no stages", `
jobs: 4
`, 2, "no stages"},
		{"stages not a list", `
stages: {a: 1}
`, 2, "stages must be a list"},
		{"empty file", ``, 1, "the job file is empty"},
		{"bad yaml", `
stages:
  - name: a
   pipe: [
`, 2, "not valid YAML"},
		{"command as a string", `
stages:
  - name: a
    pipe: {input: [in.txt], command: tr a-z A-Z}
`, 4, "command: want a list"},
		{"command not found", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [no-such-command-jetmr]}
`, 4, `command "no-such-command-jetmr" not found`},
		{"negative header", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat], header: -1}
`, 4, "pipe of stage a: header -1 is not valid"},
		{"unknown format", `
stages:
  - name: a
    mapreduce: {input: [in.txt], output: out, map: wordcount, reduce: sum, format: tsv}
`, 4, `format "tsv" is not valid`},
		{"empty recend", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat], recend: ""}
`, 4, "recend is empty"},
		{"null with csv", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat], null: true, format: csv}
`, 4, "null (NUL-terminated records) and format csv conflict"},
		{"header_once without header", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat], header_once: true}
`, 4, "header_once keeps one copy"},
		{"header_once on mapreduce", `
stages:
  - name: a
    mapreduce: {input: [in.txt], output: out, map: wordcount, reduce: sum, header: 1, header_once: true}
`, 4, "header_once"},
		{"key_fields 0", `
stages:
  - name: a
    mapreduce: {input: [in.txt], output: out, map: cat, reduce: cat, key_fields: 0}
`, 4, "key_fields 0 is not valid"},
		{"partition_fields above key_fields", `
stages:
  - name: a
    mapreduce: {input: [in.txt], output: out, map: cat, reduce: cat, key_fields: 2, partition_fields: 3}
`, 4, "partition_fields 3 is not valid: it counts the key's first fields that pick the partition: give 1 to 2"},
		{"more key_order orders than key_fields", `
stages:
  - name: a
    mapreduce: {input: [in.txt], output: out, map: cat, reduce: cat, key_fields: 2, key_order: "text,numeric,reverse"}
`, 4, "key_order \"text,numeric,reverse\" gives 3 orders for 2 key fields"},
		{"unknown key_order", `
stages:
  - name: a
    mapreduce: {input: [in.txt], output: out, map: cat, reduce: cat, key_order: upwards}
`, 4, `key_order: key order "upwards" is not valid`},
		{"bad chunk size", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat], chunk_size: lots}
`, 4, "chunk_size"},
		{"negative retries", `
stages:
  - name: a
    pipe:
      input: [in.txt]
      command: [cat]
      retries: -1
`, 7, "retries: -1 is not valid"},
		{"task_time on an each stage", `
stages:
  - name: lint
    each: {items: [a], command: [echo], task_time: 2s}
`, 4, `task_time sizes chunks of input files and key ranges, not items`},
		{"bad timeout", `
stages:
  - name: a
    pipe:
      input: [in.txt]
      command: [cat]
      timeout: soon
`, 7, `timeout: "soon" is not a duration`},
		{"bad partitions", `
stages:
  - name: a
    mapreduce:
      input: [in.txt]
      output: o
      map: wordcount
      reduce: sum
      partitions: 0
`, 9, "partitions 0 is not valid"},
		{"each with items and items_file", `
stages:
  - name: lint
    each: {items: [a], items_file: list.txt, command: [echo, "{}"]}
`, 4, "exactly one of items (a list) and items_file"},
		{"each without command", `
stages:
  - name: lint
    each: {items: [a]}
`, 4, "each of stage lint has no command"},
		{"migrate without sql", `
stages:
  - name: m
    migrate: {db: "sqlite:app.db", table: t, key: id}
`, 4, "migrate of stage m has no sql"},
		{"bad stage name", `
stages:
  - name: "a b"
    pipe: {input: [in.txt], command: [cat]}
`, 3, `stage name "a b" is not valid`},
		{"same output twice", `
stages:
  - name: a
    pipe: {input: [in.txt], output: out.txt, command: [cat]}
  - name: b
    pipe:
      input: [in.txt]
      output: ./out.txt
      command: [cat]
`, 8, "stages a and b both write ./out.txt"},
		{"two stdout stages at once", `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat]}
  - name: b
    pipe: {input: [in.txt], command: [cat]}
`, 5, "stages a and b both write to stdout and may run at the same time"},
		{"name after the kind", `
stages:
  - pipe:
      input: [in.txt]
    name: late
`, 3, "pipe of stage late has no command"},
		{"bad halt", `
stages:
  - name: a
    pipe:
      input: [in.txt]
      command: [cat]
      halt: sometimes
`, 7, `halt "sometimes" is not valid`},
		{"memfree above the machine's memory", `
stages:
  - name: a
    pipe:
      input: [in.txt]
      command: [cat]
      memfree: 1000TiB
`, 7, "pipe of stage a: memfree: 1000 TiB is more than the"},
		{"bad jobs", `
stages:
  - name: a
    pipe:
      input: [in.txt]
      command: [cat]
      jobs: many
`, 7, `pipe of stage a: jobs "many" is not valid`},
		{"bad top-level default", `
retries: 1
chunk_size: lots
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat]}
`, 3, "pipe of stage a: chunk_size"},
		{"field twice", `
stages:
  - name: a
    name: b
    pipe: {input: [in.txt], command: [cat]}
`, 4, `field "name" appears twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := pipeline.Parse("job.yaml", []byte(tc.file))
			if err == nil {
				t.Fatal("parsed without error")
			}
			var perr *pipeline.Error
			if !errors.As(err, &perr) || !errors.Is(err, pipeline.ErrInvalid) || !errors.Is(err, job.ErrBadInput) {
				t.Fatalf("error %v (%T) is not a *pipeline.Error matching ErrInvalid and job.ErrBadInput", err, err)
			}
			if perr.File != "job.yaml" || perr.Line != tc.line {
				t.Errorf("error at %s:%d, want job.yaml:%d: %v", perr.File, perr.Line, tc.line, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "job.yaml:") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestParseStages(t *testing.T) {
	t.Parallel()
	f, err := pipeline.Parse("job.yaml", []byte(`
jobs: 6
retries: 1
timeout: 30s
stages:
  - name: upper
    pipe: {input: in.txt, output: up.txt, command: [tr, a-z, A-Z], retries: 0, header: 2, header_once: true, recend: "\n\n", recstart: ">"}
  - name: counts
    mapreduce: {input: [stage:upper, more.txt], output: counts, map: wordcount, reduce: sum, partitions: 3, chunk_size: 64KiB, task_time: 2s, format: csv, header: 1}
  - name: lint
    each: {items: [./a, ./b], command: [gofmt, -l, "{}"], dir: "{}", keep_order: true, join: [cat]}
    depends_on: counts
  - name: backfill
    migrate: {db: "sqlite:app.db", table: users, key: id, sql: "UPDATE users SET n = 1", chunk_size: 500}
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Jobs != "6" || len(f.Stages) != 4 {
		t.Fatalf("jobs %q, %d stages", f.Jobs, len(f.Stages))
	}
	up, counts, lint, mig := f.Stages[0], f.Stages[1], f.Stages[2], f.Stages[3]
	if up.Kind != schema.KindPipe || !slicesEqual(up.Pipe.Input, []string{"in.txt"}) || *up.Pipe.Retries != 0 || up.Pipe.Timeout.String() != "30s" ||
		up.Pipe.Header != 2 || !up.Pipe.HeaderOnce || up.Pipe.RecEnd != "\n\n" || up.Pipe.RecStart != ">" ||
		counts.MapReduce.Header != 1 || counts.MapReduce.Format != "csv" {
		t.Errorf("upper: %+v", up.Pipe)
	}
	if counts.Kind != schema.KindMapReduce || counts.MapReduce.Partitions != 3 || *counts.MapReduce.Retries != 1 ||
		!slicesEqual(counts.DependsOn, []string{"upper"}) || counts.MapReduce.ChunkSize != "64KiB" || counts.MapReduce.TaskTime != 2*time.Second {
		t.Errorf("counts: %+v, depends on %v", counts.MapReduce, counts.DependsOn)
	}
	if lint.Kind != schema.KindEach || !lint.Each.KeepOrder || lint.Each.Dir != "{}" || !slicesEqual(lint.DependsOn, []string{"counts"}) ||
		!slicesEqual(lint.Each.Join, []string{"cat"}) {
		t.Errorf("lint: %+v, depends on %v", lint.Each, lint.DependsOn)
	}
	if mig.Kind != schema.KindMigrate || mig.Migrate.Table != "users" || mig.Migrate.ChunkSize != "500" {
		t.Errorf("backfill: %+v", mig.Migrate)
	}
}

func TestParseAllowsOrderedStdoutStages(t *testing.T) {
	t.Parallel()
	mustParse(t, `
stages:
  - name: a
    pipe: {input: [in.txt], command: [cat]}
  - name: b
    pipe: {input: [in.txt], output: b.txt, command: [cat]}
    depends_on: [a]
  - name: c
    pipe: {input: [stage:b], command: [cat]}
`)
}

// TestExampleValidates keeps the README's example file valid.
func TestExampleValidates(t *testing.T) {
	t.Parallel()
	f, err := pipeline.Load("../examples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Stages) != 4 {
		t.Fatalf("%d stages, want 4", len(f.Stages))
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestParseNamesEveryProblem checks that a job file with several problems
// is refused with all of them, each with its line.
func TestParseNamesEveryProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"two bad stages", `
stages:
  - name: a
    pipe: {input: [x], command: [cat], colour: red}
  - name: b
    pipe: {input: [x]}
`, []string{`job.yaml:4: unknown field "colour"`, "job.yaml:5: stages a and b both write to stdout", "job.yaml:6: pipe of stage b has no command"}},
		{"two unknown dependencies", `
stages:
  - name: a
    pipe: {input: [x], command: [cat]}
    depends_on: [nope]
  - name: b
    pipe: {input: ["stage:gone"], command: [cat]}
`, []string{"job.yaml:5: stage a depends on nope", "job.yaml:7: stage b depends on gone"}},
		{"unknown dependency, cycle and shared output", `
stages:
  - name: a
    pipe: {input: [x], output: o.txt, command: [cat]}
  - name: b
    pipe: {input: [x], output: o.txt, command: [cat]}
  - name: c1
    pipe: {input: ["stage:c2"], output: c1.txt, command: [cat]}
  - name: c2
    pipe: {input: ["stage:c1"], output: c2.txt, command: [cat]}
  - name: d
    pipe: {input: [x], output: d.txt, command: [cat]}
    depends_on: [ghost]
`, []string{"job.yaml:6: stages a and b both write o.txt", "job.yaml:7: the stages depend on each other in a cycle", "job.yaml:13: stage d depends on ghost"}},
		{"duplicate names and shared output", `
stages:
  - name: a
    pipe: {input: [x], output: o.txt, command: [cat]}
  - name: a
    pipe: {input: [x], output: p.txt, command: [cat]}
  - name: c
    pipe: {input: [x], output: o.txt, command: [cat]}
`, []string{"job.yaml:5: two stages are named a", "job.yaml:8: stages a and c both write o.txt"}},
		{"every option of a stage", `
stages:
  - name: a
    pipe:
      input: [x]
      command: [cat]
      retries: -1
      timeout: banana
      jobs: -3
      chunk_size: lots
`, []string{"job.yaml:7: retries: -1 is not valid", `job.yaml:8: timeout: "banana" is not a duration`,
			`job.yaml:9: pipe of stage a: jobs "-3" is not valid`, "job.yaml:10: pipe of stage a: chunk_size"}},
		{"options, fields and stages together", `
jobs: none
retries: -1
stages:
  - name: a
    pipe: {input: [x], command: [cat], timeout: banana}
  - name: b
    each: {items: [x], command: [echo]}
  - name: c
    pipe: {input: ["stage:b"], output: c.txt, command: [cat], partitions: 2}
  - name: d
    mapreduce: {input: [x], output: d, map: wordcount, reduce: sum, key_fields: 0, partitions: 0}
`, []string{`job.yaml:2: jobs "none" is not valid`, "job.yaml:3: retries: -1 is not valid", `job.yaml:6: timeout: "banana"`,
			`job.yaml:10: unknown field "partitions" in pipe of stage c`, "job.yaml:10: stage c reads stage:b, but stage b writes no file",
			"job.yaml:12: mapreduce of stage d: partitions 0 is not valid", "job.yaml:12: mapreduce of stage d: key_fields 0 is not valid"}},
		// A problem's consequences are not named as problems of their own.
		{"a stage with a problem read by another", `
stages:
  - name: a
    mapreduce: {input: [x], map: wordcount, reduce: sum}
  - name: b
    pipe: {input: ["stage:a", "stage:c"], output: b.txt, command: [cat]}
  - name: c
    depends_on: [a]
  - name: d
    pipe: {input: [x], output: [d.txt], command: [cat]}
  - name: e
    pipe: {input: [x], command: [cat]}
`, []string{"job.yaml:4: mapreduce of stage a has no output", "job.yaml:7: stage c has no kind",
			"job.yaml:10: output: want a single value"}},
		{"a name that is no format", `
stages:
  - name: "a%d"
    pipe: {input: [x], command: [cat], chunk_size: lots}
`, []string{`job.yaml:3: stage name "a%d" is not valid`, "job.yaml:4: pipe of stage a%d: chunk_size: "}},
		{"no name, then the stage's own problems", `
stages:
  - pipe: {input: [x], command: [cat], retries: many}
`, []string{"job.yaml:3: a stage has no name", `job.yaml:3: retries: "many" is not a whole number`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipeline.Parse("job.yaml", []byte(tc.text))
			if !errors.Is(err, pipeline.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			lines := strings.Split(err.Error(), "\n")
			for i, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				} else if i < len(lines) && !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d is %q, want %q (in file order):\n%v", i+1, lines[i], w, err)
				}
			}
			if len(lines) != len(tc.want) {
				t.Errorf("%d problems named, want %d:\n%v", len(lines), len(tc.want), err)
			}
		})
	}
}
