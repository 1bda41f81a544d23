package main_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestResumeChecksCommandsInJobDir: a job whose commands are relative
// paths, resumed (--retry-failed after a failure) from another directory,
// has them checked where they run, in the directory of its first run:
// a resume from a directory without them runs the first directory's
// scripts, and so does one from a directory holding other scripts of
// those names; when the first directory lost them, the resume is refused
// with exit 2 naming that directory, and nothing runs (before, the check
// looked in the current directory, refusing the first resume and passing
// the last, whose tasks then failed). A relative --dir is checked there
// too.
func TestResumeChecksCommandsInJobDir(t *testing.T) {
	t.Parallel()
	// Each script fails until a file "ok" exists in the directory it runs
	// in; the first directory's print "A", the others "B".
	scripts := func(who string) map[string]string {
		return map[string]string{
			"run.sh":    "#!/bin/sh\n[ -e ok ] || exit 3\nsed 's/^/" + who + " /'\n",
			"item.sh":   "#!/bin/sh\n[ \"$1\" != b ] || [ -e ok ] || exit 3\necho \"" + who + " $1\"\n",
			"map.sh":    "#!/bin/sh\n[ -e ok ] || exit 3\nawk '{ print $1 \"\\t1\" }'\n",
			"reduce.sh": "#!/bin/sh\nsed 's/^/" + who + " /'\n",
			"sub/":      "",
			"sub/who":   who + "\n",
		}
	}
	kinds := []struct {
		name string
		args func(in, out string) []string
		read func(t *testing.T, out string) string
		want string
	}{
		{"each", func(_, out string) []string {
			return []string{"each", "-k", "--chunk-size", "1", "-o", out, "--", "./item.sh", ":::", "a", "b", "c"}
		}, fileText, "A a\nA b\nA c\n"},
		{"each --dir", func(_, out string) []string {
			return []string{"each", "-k", "--chunk-size", "1", "--dir", "sub", "-o", out, "--", "sh", "-c", `[ "$1" != b ] || [ -e ../ok ] || exit 3; echo "$(cat who) $1"`, "sh", ":::", "a", "b", "c"}
		}, fileText, "A a\nA b\nA c\n"},
		{"pipe", func(in, out string) []string { return []string{"pipe", "-i", in, "-o", out, "--", "./run.sh"} }, fileText, "A a\nA b\nA c\n"},
		{"mapreduce", func(in, out string) []string {
			return []string{"mapreduce", "-i", in, "-o", out, "--map", "./map.sh", "--reduce", "./reduce.sh"}
		}, func(t *testing.T, out string) string { return fileText(t, filepath.Join(out, "part-00000")) }, "A a\t1\nA b\t1\nA c\t1\n"},
	}
	cases := []struct {
		name   string
		second map[string]string // the scripts in the directory the resume starts in
		lost   bool              // the first directory lost its scripts
	}{
		{"none in the resume's directory", nil, false},
		{"others in the resume's directory", scripts("B"), false},
		{"the first directory lost them", scripts("B"), true},
	}
	for _, k := range kinds {
		for _, c := range cases {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				first, second, data, store := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
				writeTreeDirsFirst(t, first, scripts("A"))
				writeTreeDirsFirst(t, second, c.second)
				in, out := filepath.Join(data, "in.txt"), filepath.Join(data, "out")
				writeFile(t, in, "a\nb\nc\n")
				args := slices.Concat(k.args(in, out)[:1], []string{"--store", store, "--job", "rd", "--retries", "0"}, k.args(in, out)[1:])
				if r := jetmr(t, first, args...); r.code != 1 {
					t.Fatalf("first run exited %d, want 1 (tasks fail); stderr:\n%s", r.code, r.stderr)
				}
				writeTree(t, first, map[string]string{"ok": ""})
				if c.lost {
					for name := range scripts("A") {
						if err := os.RemoveAll(filepath.Join(first, name)); err != nil {
							t.Fatal(err)
						}
					}
				}
				resume := slices.Insert(slices.Clone(args), 1, "--resume", "--retry-failed")
				r := jetmr(t, second, resume...)
				if c.lost {
					if r.code != 2 || !strings.Contains(r.stderr, " in "+first+", the directory job rd was submitted from") {
						t.Fatalf("resume exited %d, want 2 naming %s; stderr:\n%s", r.code, first, r.stderr)
					}
					if _, err := os.Stat(out); !os.IsNotExist(err) {
						t.Errorf("the refused resume wrote %s (%v)", out, err)
					}
					return
				}
				if r.code != 0 {
					t.Fatalf("resume exited %d, want 0; stderr:\n%s", r.code, r.stderr)
				}
				if got := k.read(t, out); got != k.want {
					t.Errorf("resumed output %q, want %q (the first directory's scripts)", got, k.want)
				}
			})
		}
	}
}

// writeTreeDirsFirst is writeTree creating the directories before the
// files, which may lie in them.
func writeTreeDirsFirst(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	dirs := map[string]string{}
	for name := range files {
		if strings.HasSuffix(name, "/") {
			dirs[name] = ""
		}
	}
	writeTree(t, dir, dirs)
	writeTree(t, dir, files)
}
