package main_test

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// treeOf maps every file and folder under dir to its content ("/" for a
// folder, "-> target" for a link), to check that a refused command
// changed nothing.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			tree[rel] = "-> " + target
			return err
		case d.IsDir():
			tree[rel] = "/"
		default:
			b, err := os.ReadFile(path)
			tree[rel] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestOutputHoldingInputRefused checks the one rule for an output folder
// that holds an input, or the working directory, for every command whose
// output may be a folder: refused with exit 2 naming both, with or
// without --force, before anything is written. With --force the finished
// output replaces the folder whole, and the input (and every other file
// in it) would go with it while the job exits 0.
func TestOutputHoldingInputRefused(t *testing.T) {
	t.Parallel()
	const wc = "--map wordcount --reduce sum"
	for _, tc := range []struct {
		name string
		sub  string // the folder of dir the command runs in
		args string // OUT is an input outside dir
		want string
	}{
		{"input file", "", "mapreduce -i proj/data/in.txt -o proj --force " + wc, "input proj/data/in.txt is inside output proj"},
		{"input file, no --force", "", "mapreduce -i proj/data/in.txt -o proj " + wc, "input proj/data/in.txt is inside output proj"},
		{"input folder", "", "mapreduce -i proj/data -o proj --force " + wc, "input proj/data is inside output proj"},
		{"output through a link", "", "mapreduce -i proj/data/in.txt -o plink --force " + wc, "input proj/data/in.txt is inside output plink"},
		{"input through a link", "", "mapreduce -i inlink -o proj --force " + wc, "input inlink is inside output proj"},
		{"input folder is the output", "", "mapreduce -i proj -o proj --force " + wc, "output proj is inside input directory proj"},
		{"output is the working directory", "proj", "mapreduce -i OUT -o . --force " + wc, "output . is the working directory"},
		{"output holds the working directory", "proj/data", "mapreduce -i OUT -o .. --force " + wc, "output .. holds the working directory"},
		{"pipeline stage", "", "pipeline --force p.yaml", "p.yaml:4: stage a: input proj/data/in.txt is inside output proj"},
		{"pipeline stage, no --force", "", "pipeline p.yaml", "p.yaml:4: stage a: input proj/data/in.txt is inside output proj"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "proj", "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "proj", "data", "in.txt"), "a b\nc a\n")
			writeFile(t, filepath.Join(dir, "proj", "README"), "notes\n")
			for link, target := range map[string]string{"plink": "proj", "inlink": "proj/data/in.txt"} {
				if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
			}
			writeFile(t, filepath.Join(dir, "p.yaml"), "stages:\n  - name: a\n    mapreduce:\n      output: proj\n      input: [proj/data/in.txt]\n      map: wordcount\n      reduce: sum\n")
			outside := filepath.Join(t.TempDir(), "words.txt")
			writeFile(t, outside, "x y x\n")
			before := treeOf(t, dir)
			args := append([]string{"--store", filepath.Join(t.TempDir(), "store")}, strings.Fields(strings.ReplaceAll(tc.args, "OUT", outside))...)
			args[0], args[1], args[2] = args[2], args[0], args[1] // the command first
			r := jetmr(t, filepath.Join(dir, tc.sub), args...)
			if r.code != 2 {
				t.Fatalf("jetmr %q: exit %d, want 2; stderr:\n%s", args, r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "add --force") {
				t.Errorf("message does not say %q (or offers --force):\n%s", tc.want, r.stderr)
			}
			if after := treeOf(t, dir); !maps.Equal(before, after) {
				t.Errorf("files changed by a refused command:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// forceCase is a job started with --force over an output that exists,
// stopped (interrupted, or with dead letters), then continued with the
// command jetmr printed. Its command waits (or fails) until the file "go"
// exists in its folder.
type forceCase struct {
	name   string
	output string // the output, which exists before the first run
	args   func(store string) []string
	stop   syscall.Signal // 0: the job fails for good instead
	// bare resumes with the printed command less --force: the job
	// recorded that it replaces its output.
	bare bool
}

// TestForceResumeReplacesOutput checks that a job started with --force
// over an existing output can be continued with the command jetmr prints
// when it is interrupted or its tasks fail: the old output stays as it
// was until the job completes, then the new one replaces it whole.
func TestForceResumeReplacesOutput(t *testing.T) {
	t.Parallel()
	mapArgs := func(script string) func(store string) []string {
		return func(store string) []string {
			return []string{"mapreduce", "--store", store, "-i", "in.txt", "-o", "out", "--force", "--retries", "0",
				"--map", "sh -c '" + script + "' marker go", "--reduce", "count"}
		}
	}
	pipelineArgs := func(script string) func(store string) []string {
		return func(store string) []string {
			return []string{"pipeline", "--store", store, "--force", "p-" + scriptName(script) + ".yaml"}
		}
	}
	for _, tc := range []forceCase{
		{"mapreduce interrupted", "out", mapArgs(waitThenCat), syscall.SIGINT, false},
		{"mapreduce failed", "out", mapArgs(failThenCat), 0, false},
		{"mapreduce interrupted, resumed without --force", "out", mapArgs(waitThenCat), syscall.SIGINT, true},
		{"pipe interrupted, resumed without --force", "out.txt", func(store string) []string {
			return []string{"pipe", "--store", store, "-i", "in.txt", "-o", "out.txt", "--force", "--retries", "0", "--", "sh", "-c", waitThenCat, "marker", "go"}
		}, syscall.SIGINT, true},
		{"pipeline interrupted", "out", pipelineArgs(waitThenCat), syscall.SIGTERM, false},
		{"pipeline failed", "out", pipelineArgs(failThenCat), 0, false},
		{"pipe interrupted", "out.txt", func(store string) []string {
			return []string{"pipe", "--store", store, "-i", "in.txt", "-o", "out.txt", "--force", "--retries", "0", "--", "sh", "-c", waitThenCat, "marker", "go"}
		}, syscall.SIGINT, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "in.txt"), strings.Repeat("some words here\n", 100))
			for _, script := range []string{waitThenCat, failThenCat} {
				writeFile(t, filepath.Join(dir, "p-"+scriptName(script)+".yaml"), "stages:\n  - name: a\n    mapreduce:\n      input: [in.txt]\n      output: out\n      retries: 0\n"+
					"      map: \"sh -c '"+strings.ReplaceAll(script, `"`, `\"`)+"' marker go\"\n      reduce: count\n")
			}
			if tc.output == "out" {
				if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "out", "part-00000"), "old\n")
				writeFile(t, filepath.Join(dir, "out", "README"), "notes\n")
			} else {
				writeFile(t, filepath.Join(dir, tc.output), "old\n")
			}
			old := treeOf(t, filepath.Join(dir, tc.output))
			args := tc.args(t.TempDir())
			intro := "continue it with:"
			var stderr string
			if tc.stop != 0 {
				p := startProc(t, dir, args...)
				waitForFile(t, p, filepath.Join(dir, "marker"))
				p.Cmd.Process.Signal(tc.stop)
				if code := p.Wait(t, runTimeout); code != 130 {
					t.Fatalf("jetmr %q: exit %d on %s, want 130; stderr:\n%s", args, code, tc.stop, p.Stderr)
				}
				stderr = p.Stderr.String()
			} else {
				r := jetmr(t, dir, args...)
				if r.code != 1 {
					t.Fatalf("jetmr %q: exit %d, want 1; stderr:\n%s", args, r.code, r.stderr)
				}
				stderr, intro = r.stderr, "run the failed tasks again, once fixed, with:"
			}
			if now := treeOf(t, filepath.Join(dir, tc.output)); !maps.Equal(old, now) {
				t.Errorf("the old output changed before the job completed: %q, was %q", now, old)
			}
			line := hintAfter(stderr, intro)
			if line == "" {
				t.Fatalf("no hint after %q:\n%s", intro, stderr)
			}
			if !strings.Contains(line, " --force") {
				t.Errorf("the printed command %q leaves out --force", line)
			}
			if tc.bare {
				line = strings.Replace(line, " --force", "", 1)
			}
			writeFile(t, filepath.Join(dir, "go"), "")
			r := runHint(t, dir, line)
			if r.code != 0 {
				t.Fatalf("%q: exit %d; stderr:\n%s", line, r.code, r.stderr)
			}
			want := map[string]string{".": strings.Repeat("some words here\n", 100)}
			if tc.output == "out" {
				want = map[string]string{".": "/", "part-00000": "some words here\t100\n"}
			}
			if got := treeOf(t, filepath.Join(dir, tc.output)); !maps.Equal(got, want) {
				t.Errorf("output after the hint: %q, want %q", got, want)
			}
		})
	}
}

// scriptName names a test command script for a file name.
func scriptName(script string) string {
	if script == waitThenCat {
		return "wait"
	}
	return "fail"
}

// TestResumeRefusesOutputThatAppeared checks the one rule for an output
// that appears while a job started without --force is stopped: the
// resume the printed command runs is refused with exit 2, naming the
// output and the fixes, and leaves the file as it was; moving the file
// away, or adding --force, lets the same command finish the job.
func TestResumeRefusesOutputThatAppeared(t *testing.T) {
	t.Parallel()
	for _, tc := range hintCases(waitThenCat, waitThenEcho) {
		if tc.name == "pipe to stdout" || strings.Contains(tc.name, "halted") {
			continue // nothing to resume; halting needs a failure
		}
		for _, fix := range []string{"move", "force"} {
			t.Run(tc.name+" "+fix, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				in := filepath.Join(dir, "in.txt")
				writeFile(t, in, strings.Repeat("some words here\n", 100))
				args := tc.args(dir, t.TempDir(), in)
				p := startProc(t, dir, args...)
				waitForFile(t, p, filepath.Join(dir, "marker"))
				p.Cmd.Process.Signal(syscall.SIGINT)
				if code := p.Wait(t, runTimeout); code != 130 {
					t.Fatalf("jetmr %q: exit %d on SIGINT, want 130; stderr:\n%s", args, code, p.Stderr)
				}
				line := hintAfter(p.Stderr.String(), "continue it with:")
				if line == "" {
					t.Fatalf("no resume command printed:\n%s", p.Stderr)
				}
				out := filepath.Join(dir, "out.txt")
				what := "output " + out
				if tc.name == "mapreduce" {
					out = filepath.Join(dir, "out")
					what = "output directory " + out
					if err := os.Mkdir(out, 0o755); err != nil {
						t.Fatal(err)
					}
					out = filepath.Join(out, "precious")
				}
				writeFile(t, out, "precious\n")
				writeFile(t, filepath.Join(dir, "go"), "")
				r := runHint(t, dir, line)
				if r.code != 2 {
					t.Fatalf("printed hint %q with %s there: exit %d, want 2; stderr:\n%s", line, out, r.code, r.stderr)
				}
				for _, w := range []string{what + " exists, and was not there when job", "move it away", "resume with --force"} {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("message does not say %q:\n%s", w, r.stderr)
					}
				}
				if b, err := os.ReadFile(out); err != nil || string(b) != "precious\n" {
					t.Fatalf("%s after the refused resume: %q, %v", out, b, err)
				}
				if fix == "move" {
					if tc.name == "mapreduce" {
						out = filepath.Dir(out)
					}
					if err := os.Rename(out, filepath.Join(t.TempDir(), "kept")); err != nil {
						t.Fatal(err)
					}
				} else {
					line = strings.Replace(line, " --resume", " --resume --force", 1) // before the command's "--"
				}
				r = runHint(t, dir, line)
				if r.code != 0 {
					t.Fatalf("%q: exit %d; stderr:\n%s", line, r.code, r.stderr)
				}
				tc.check(t, dir, r, in)
				if tc.name == "mapreduce" {
					if names := dirNames(t, filepath.Join(dir, "out")); strings.Contains(strings.Join(names, " "), "precious") {
						t.Errorf("output folder holds %q, want the part files alone", names)
					}
				}
			})
		}
	}
}

// TestFileInsideOutputFolderRefused checks that a file a mapreduce job
// writes besides its output (--joblog, --trace, --report, --rejects) is
// refused with exit 2 inside the output folder, before anything is
// written: the finished output replaces the folder whole, and the file
// would go with it while the job exits 0.
func TestFileInsideOutputFolderRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, want string }{
		{"--joblog", "--joblog proj/f is inside output proj"},
		{"--trace", "--trace proj/f is inside output proj"},
		{"--report", "--report proj/f is inside output proj"},
		{"--rejects", "--rejects proj/f is inside output proj"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "proj"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "proj", "part-00000"), "old\n")
			writeFile(t, filepath.Join(dir, "in.txt"), "a b\nc a\n")
			before := treeOf(t, dir)
			args := []string{"mapreduce", "--store", filepath.Join(t.TempDir(), "store"), "-i", "in.txt", "-o", "proj", "--force",
				"--map", "wordcount", "--reduce", "sum", tc.flag, "proj/f"}
			if tc.flag == "--rejects" {
				args = append(args, "--skip-bad-records", "1")
			}
			r := jetmr(t, dir, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("jetmr %q: exit %d, want 2 saying %q; stderr:\n%s", args, r.code, tc.want, r.stderr)
			}
			if after := treeOf(t, dir); !maps.Equal(before, after) {
				t.Errorf("files changed by a refused command:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}
