package main_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// specialNodes are the files that are neither regular nor directories a
// test can make in dir: a named pipe always, a character device when the
// test runs as root. Each maker returns the node's path and its type's
// name in jetmr's messages.
var specialNodes = []struct {
	name string
	make func(t *testing.T, path string)
}{
	{"named pipe", func(t *testing.T, path string) {
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			t.Fatal(err)
		}
	}},
	{"socket", func(t *testing.T, path string) {
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Skipf("listening on a unix socket: %v", err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		t.Cleanup(func() { l.Close() })
	}},
	{"character device", func(t *testing.T, path string) {
		if os.Geteuid() != 0 {
			t.Skip("making a device needs root")
		}
		// A private node with the numbers of the null device, in the
		// test's own folder.
		if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Skipf("mknod: %v", err)
		}
	}},
}

// TestSpecialOutputRefused checks the one rule for an -o that is a
// device or named pipe: every command refuses it with exit 2 before
// anything starts, with or without --force, naming the path and the fix,
// and leaves the node as it was. Renaming the finished output over it
// would replace it with a regular file.
func TestSpecialOutputRefused(t *testing.T) {
	t.Parallel()
	in := td(t, "crlf.txt")
	commands := []struct {
		name string
		args []string // -o node is added
		fix  string
	}{
		{"pipe", []string{"pipe", "-q", "-i", in, "--", "cat"}, "> node"},
		{"each", []string{"each", "-q", "--", "echo", ":::", "a", "b"}, "> node"},
		{"mapreduce", []string{"mapreduce", "-q", "-i", in, "--map", "wordcount", "--reduce", "sum"}, "directory"},
	}
	for _, node := range specialNodes {
		for _, c := range commands {
			for _, force := range []bool{false, true} {
				name := node.name + "/" + c.name
				if force {
					name += "/force"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					path := filepath.Join(dir, "node")
					node.make(t, path)
					before, err := os.Lstat(path)
					if err != nil {
						t.Fatal(err)
					}
					store := filepath.Join(t.TempDir(), "store")
					args := []string{c.args[0], "--store", store, "-o", "node"}
					if force {
						args = append(args, "--force")
					}
					args = append(args, c.args[1:]...)
					r := jetmr(t, dir, args...)
					if r.code != 2 {
						t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
					}
					for _, w := range []string{"output node", node.name, c.fix} {
						if !strings.Contains(r.stderr, w) {
							t.Errorf("message does not name %q:\n%s", w, r.stderr)
						}
					}
					if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
						t.Errorf("message is %d lines, want one:\n%s", n+1, r.stderr)
					}
					after, err := os.Lstat(path)
					if err != nil {
						t.Fatal(err)
					}
					if after.Mode() != before.Mode() || !os.SameFile(before, after) {
						t.Errorf("the %s became %v", node.name, after.Mode())
					}
					if names := dirNames(t, dir); len(names) != 1 {
						t.Errorf("files written: %q", names)
					}
					if _, err := os.Stat(store); !os.IsNotExist(err) {
						t.Errorf("the store %s was created for a refused job", store)
					}
				})
			}
		}
	}
}

// TestSymlinkOutputFollowed checks that an -o that is a symbolic link
// publishes the output to the link's target and keeps the link, as sort
// -o does: refused when the target exists without --force, replaced with
// it, and created when the link dangles.
func TestSymlinkOutputFollowed(t *testing.T) {
	t.Parallel()
	in := td(t, "crlf.txt")
	want, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	commands := []struct {
		name string
		args []string
	}{
		{"pipe", []string{"pipe", "-q", "-i", in, "--", "cat"}},
		{"each", []string{"each", "-q", "--", "cat", "{}", ":::", in}},
	}
	for _, c := range commands {
		for _, tc := range []struct {
			name          string
			targetExists  bool
			force, refuse bool
		}{
			{"target exists", true, false, true},
			{"target exists, --force", true, true, false},
			{"dangling link", false, false, false},
		} {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				target := filepath.Join(dir, "sub", "target.txt")
				if err := os.Mkdir(filepath.Dir(target), 0o755); err != nil {
					t.Fatal(err)
				}
				if tc.targetExists {
					if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Symlink(filepath.Join("sub", "target.txt"), filepath.Join(dir, "link")); err != nil {
					t.Fatal(err)
				}
				args := []string{c.args[0], "--store", filepath.Join(t.TempDir(), "store"), "-o", "link"}
				if tc.force {
					args = append(args, "--force")
				}
				args = append(args, c.args[1:]...)
				r := jetmr(t, dir, args...)
				fi, err := os.Lstat(filepath.Join(dir, "link"))
				if err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Fatalf("the link is no longer a link (%v, %v)", fi.Mode(), err)
				}
				got, err := os.ReadFile(target)
				if err != nil {
					t.Fatal(err)
				}
				if tc.refuse {
					if r.code != 2 || !strings.Contains(r.stderr, "--force") {
						t.Fatalf("exit %d, want 2 naming --force; stderr:\n%s", r.code, r.stderr)
					}
					if string(got) != "old\n" {
						t.Errorf("the refused job changed the target to %q", got)
					}
					return
				}
				if r.code != 0 {
					t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
				}
				if string(got) != string(want) {
					t.Errorf("the target holds %q, want %q", got, want)
				}
			})
		}
	}
}

// TestOutputInsideInputRefused checks the one rule for an output inside an
// input directory, for every command that reads files: refused with exit 2
// naming both, before anything is written. The output, or the file it is
// staged in while the job runs, would be read as input by the next run.
func TestOutputInsideInputRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"pipe", []string{"pipe", "-i", "sd", "-o", "sd/out", "--", "cat"}},
		{"pipe, deeper", []string{"pipe", "-i", "sd", "-o", "sd/sub/out", "--", "cat"}},
		{"pipe, through a link", []string{"pipe", "-i", "link", "-o", "sd/out", "--", "cat"}},
		{"mapreduce", []string{"mapreduce", "-i", "sd", "-o", "sd/counts", "--map", "wordcount", "--reduce", "sum"}},
		{"pipeline stage", []string{"pipeline", "job.yaml", "job.yaml:3", "stage a: output sd/out is inside input directory sd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "sd", "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "sd", "a"), []byte("one\ntwo\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("sd", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			store := filepath.Join(t.TempDir(), "store")
			var want, args []string
			if tc.args[0] == "pipeline" {
				writeFile(t, filepath.Join(dir, "job.yaml"), "stages:\n  - name: a\n    pipe: {input: [sd], output: sd/out, command: [cat]}\n")
				want, args = tc.args[2:], []string{"pipeline", "--store", store, "job.yaml"}
			} else {
				want = []string{tc.args[4], "inside input directory " + tc.args[2], "outside the inputs"}
				args = append([]string{tc.args[0], "--store", store}, tc.args[1:]...)
			}
			r := jetmr(t, dir, args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("message does not name %q:\n%s", w, r.stderr)
				}
			}
			if names := dirNames(t, filepath.Join(dir, "sd")); !slices.Equal(names, []string{"a", "sub"}) {
				t.Errorf("files written in the input directory: %q", names)
			}
		})
	}
}

// TestPipelineSpecialOutputRefused checks that a pipeline refuses a stage
// whose output is a named pipe, with or without --force, before any stage
// runs, naming the file's line, and leaves the pipe as it was.
func TestPipelineSpecialOutputRefused(t *testing.T) {
	t.Parallel()
	in := td(t, "crlf.txt")
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force=%v", force), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := syscall.Mkfifo(filepath.Join(dir, "node"), 0o644); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "job.yaml"), "stages:\n  - name: a\n    pipe: {input: ["+in+"], output: node, command: [cat]}\n")
			args := []string{"pipeline", "--store", filepath.Join(t.TempDir(), "store")}
			if force {
				args = append(args, "--force")
			}
			r := jetmr(t, dir, append(args, "job.yaml")...)
			if r.code != 2 || !strings.Contains(r.stderr, "job.yaml:3") || !strings.Contains(r.stderr, "output node is a named pipe") || strings.Contains(r.stderr, "started") {
				t.Fatalf("exit %d, want 2 naming job.yaml:3 and the named pipe, no stage started; stderr:\n%s", r.code, r.stderr)
			}
			if fi, err := os.Lstat(filepath.Join(dir, "node")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("the named pipe became %v (%v)", fi.Mode(), err)
			}
		})
	}
}
