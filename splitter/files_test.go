package splitter_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/splitter"
)

func TestResolveInputsNestedDirectoryOrder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	outside := writeFile(t, root, "outside.txt", []byte("outside\n"))
	dir := filepath.Join(root, "in")
	for name, data := range map[string]string{
		"b.txt": "bb\n", "a/z.txt": "z\n", "a/.hidden": "h\n", "A.txt": "A\n",
		"a.txt": "", "c/d/e.txt": "eee\n",
	} {
		writeFile(t, dir, name, []byte(data))
	}
	mustSymlink(t, outside, filepath.Join(dir, "link.txt"))
	mustSymlink(t, filepath.Join(dir, "b.txt"), filepath.Join(dir, "same-as-b.txt"))
	mustSymlink(t, filepath.Join(dir, "c"), filepath.Join(dir, "dirlink"))
	mustSymlink(t, filepath.Join(dir, "gone"), filepath.Join(dir, "broken"))
	mustMkfifo(t, filepath.Join(dir, "fifo"))

	got, err := splitter.ResolveInputs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []pathSize{
		{filepath.Join(dir, "A.txt"), 2},
		{filepath.Join(dir, "a/.hidden"), 2},
		{filepath.Join(dir, "a/z.txt"), 2},
		{filepath.Join(dir, "a.txt"), 0},
		{filepath.Join(dir, "b.txt"), 3},
		{filepath.Join(dir, "c/d/e.txt"), 4},
		{filepath.Join(dir, "link.txt"), 8},
	}
	if !reflect.DeepEqual(pathSizes(got), want) {
		t.Errorf("ResolveInputs(dir) =\n%v\nwant\n%v", got, want)
	}
}

func TestResolveInputsOrderAndDuplicates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeFile(t, dir, "d/a", []byte("a\n"))
	b := writeFile(t, dir, "d/b", []byte("bb\n"))
	c := writeFile(t, dir, "c", []byte("ccc\n"))
	linkDir := filepath.Join(dir, "linkdir")
	mustSymlink(t, filepath.Join(dir, "d"), linkDir)
	unclean := dir + "/d/./../d//b"

	tests := []struct {
		name  string
		paths []string
		want  []pathSize
	}{
		{"file then directory", []string{c, filepath.Join(dir, "d")},
			[]pathSize{{c, 4}, {a, 2}, {b, 3}}},
		{"unclean path is cleaned", []string{unclean}, []pathSize{{b, 3}}},
		{"symlinked directory keeps the link's path", []string{linkDir},
			[]pathSize{{filepath.Join(linkDir, "a"), 2}, {filepath.Join(linkDir, "b"), 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := splitter.ResolveInputs(tt.paths)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pathSizes(got), tt.want) {
				t.Errorf("ResolveInputs(%q) = %v, want %v", tt.paths, got, tt.want)
			}
		})
	}
}

// TestResolveInputsRefusesDuplicates checks that two paths reaching one
// file are refused naming them: a job would read the file once, where a
// command over the same paths reads it twice.
func TestResolveInputsRefusesDuplicates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeFile(t, dir, "d/a", []byte("a\n"))
	c := writeFile(t, dir, "c", []byte("ccc\n"))
	d := filepath.Join(dir, "d")
	linkDir := filepath.Join(dir, "linkdir")
	mustSymlink(t, d, linkDir)
	linkC := filepath.Join(dir, "link-c")
	mustSymlink(t, c, linkC)
	for _, tt := range []struct {
		name  string
		paths []string
		want  []string
	}{
		{"path given twice", []string{c, a, c}, []string{c, "given twice"}},
		{"directory given twice", []string{d, d}, []string{d, "given twice"}},
		{"directory then a file in it", []string{d, a}, []string{a, d}},
		{"file then its directory", []string{a, d}, []string{a, d}},
		{"directory and its link", []string{d, linkDir}, []string{d, linkDir}},
		{"file and a link to it", []string{c, linkC}, []string{c, linkC, "same file"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := splitter.ResolveInputs(tt.paths)
			if !errors.Is(err, splitter.ErrDuplicateInput) || !errors.Is(err, splitter.ErrBadInput) {
				t.Fatalf("ResolveInputs(%q) = %v, want ErrDuplicateInput and ErrBadInput", tt.paths, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not name %q", err, w)
				}
			}
		})
	}
}

// TestResolveInputsSkipsStaging checks that a directory walk skips the
// hidden files and folders jetmr stages outputs in, and nothing else.
func TestResolveInputsSkipsStaging(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeFile(t, dir, "a", []byte("a\n"))
	hidden := writeFile(t, dir, ".hidden.tmp", []byte("h\n"))
	writeFile(t, dir, ".out.jetmr-job1.tmp", []byte("staged\n"))
	writeFile(t, dir, ".out.jetmr-job1.old", []byte("old\n"))
	writeFile(t, dir, ".counts.jetmr-job2.tmp-parts/part-00000", []byte("part\n"))
	writeFile(t, dir, ".counts.jetmr-job3.tmp/part-00000", []byte("part\n"))
	got, err := splitter.ResolveInputs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []pathSize{{hidden, 2}, {a, 2}}
	if !reflect.DeepEqual(pathSizes(got), want) {
		t.Errorf("ResolveInputs(dir) = %v, want %v", pathSizes(got), want)
	}
}

func TestResolveInputsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.log")
	empty := filepath.Join(dir, "empty")
	mustMkdir(t, empty)
	onlyDirs := filepath.Join(dir, "only-dirs")
	mustMkdir(t, filepath.Join(onlyDirs, "sub", "subsub"))
	fifo := filepath.Join(dir, "fifo")
	mustMkfifo(t, fifo)
	fifoDir := filepath.Join(dir, "fifo-dir")
	mustMkdir(t, fifoDir)
	mustMkfifo(t, filepath.Join(fifoDir, "fifo"))
	broken := filepath.Join(dir, "broken")
	mustSymlink(t, missing, broken)
	good := writeFile(t, dir, "good", []byte("x\n"))

	tests := []struct {
		name     string
		paths    []string
		contains []string
	}{
		{"no paths", nil, []string{"no inputs given"}},
		{"empty path", []string{""}, []string{"empty"}},
		{"missing path", []string{good, missing}, []string{`"` + missing + `" does not exist: check the path`}},
		{"broken symlink", []string{broken}, []string{broken, "does not exist"}},
		{"empty directory", []string{empty}, []string{empty, "contains no regular files"}},
		{"directory of directories", []string{onlyDirs}, []string{onlyDirs, "contains no regular files"}},
		{"directory of a fifo", []string{fifoDir}, []string{fifoDir, "contains no regular files"}},
		{"fifo", []string{fifo}, []string{fifo, "named pipe", "pass a file or directory"}},
		{"device", []string{os.DevNull}, []string{os.DevNull, "device"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkBadInput(t, tt.paths, tt.contains...)
		})
	}
}

func TestResolveInputsUnreadable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("running as root, which can read any file, so no file is unreadable")
	}
	dir := t.TempDir()
	p := writeFile(t, dir, "secret/locked.log", []byte("x\n"))
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	checkBadInput(t, []string{p}, p, "cannot be read", "permission denied")
	checkBadInput(t, []string{filepath.Dir(p)}, p, "cannot be read")
}

// checkBadInput checks that resolving paths fails with an ErrBadInput error
// whose message contains each of the given strings.
func checkBadInput(t *testing.T, paths []string, contains ...string) {
	t.Helper()
	got, err := splitter.ResolveInputs(paths)
	if err == nil {
		t.Fatalf("ResolveInputs(%q) = %v, want an error", paths, got)
	}
	if !errors.Is(err, splitter.ErrBadInput) {
		t.Errorf("ResolveInputs(%q) error %q does not wrap ErrBadInput", paths, err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("ResolveInputs(%q) error %q does not contain %q", paths, err, s)
		}
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustMkfifo(t *testing.T, p string) {
	t.Helper()
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}
