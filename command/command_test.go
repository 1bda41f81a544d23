package command_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/schema"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"wc -l", []string{"wc", "-l"}},
		{"  awk  '{ print $1 }'  ", []string{"awk", "{ print $1 }"}},
		{`grep "a b" c\ d`, []string{"grep", "a b", "c d"}},
		{`echo "say \"hi\" \$HOME \n"`, []string{"echo", `say "hi" $HOME \n`}},
		{`x ''`, []string{"x", ""}},
		{`a'b'"c"`, []string{"abc"}},
		{"$(rm -rf /); *", []string{"$(rm", "-rf", "/);", "*"}},
		{"", nil},
	} {
		got, err := command.Split(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`echo "open`, `echo 'open`, `trailing\`} {
		if _, err := command.Split(bad); err == nil {
			t.Errorf("Split(%q): no error", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	if err := command.Check([]string{"sh", "-c", "true"}); err != nil {
		t.Errorf("sh: %v", err)
	}
	for _, argv := range [][]string{nil, {""}, {"no-such-command-jetmr"}} {
		if err := command.Check(argv); err == nil {
			t.Errorf("Check(%q): no error", argv)
		}
	}
}

// TestCheckNotExecutable checks that a program that exists but cannot be
// run is reported as such, with the fix, by path and on PATH, and that a
// missing one is reported as not found.
func TestCheckNotExecutable(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "mapper-jetmr-test.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	tests := []struct {
		name string
		argv []string
		want error
		says []string
	}{
		{"by path", []string{script}, command.ErrNotExecutable, []string{"not executable", "chmod +x " + script}},
		{"on PATH", []string{"mapper-jetmr-test.sh"}, command.ErrNotExecutable, []string{"chmod +x " + script}},
		{"a directory", []string{dir}, command.ErrNotExecutable, []string{"directory"}},
		{"missing", []string{filepath.Join(dir, "nope")}, command.ErrNotFound, []string{"not found"}},
	}
	for _, tt := range tests {
		err := command.Check(tt.argv)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Check = %v, want %v", tt.name, err, tt.want)
			continue
		}
		for _, s := range tt.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not say %q", tt.name, err, s)
			}
		}
	}
}

func TestRunFailureCarriesStatusAndStderr(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := command.Run(context.Background(), []string{"sh", "-c", "cat; echo oops >&2; exit 4"}, "", strings.NewReader("in\n"), &out)
	var te *schema.TaskError
	if !errors.As(err, &te) || te.ExitStatus != 4 || !strings.Contains(te.StderrTail, "oops") {
		t.Fatalf("got %v (%+v), want exit status 4 with stderr", err, te)
	}
	if out.String() != "in\n" {
		t.Errorf("stdout %q", out.String())
	}
}

func TestRunKeepsStderrTail(t *testing.T) {
	t.Parallel()
	err := command.Run(context.Background(), []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; echo END >&2; exit 1"}, "", nil, &bytes.Buffer{})
	var te *schema.TaskError
	if !errors.As(err, &te) || len(te.StderrTail) > 4096 || !strings.HasSuffix(te.StderrTail, "END\n") {
		t.Fatalf("stderr tail of %d bytes ending %q", len(te.StderrTail), te.StderrTail[max(0, len(te.StderrTail)-8):])
	}
}

func TestRunCancelKillsGroup(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := command.Run(ctx, []string{"sh", "-c", "sleep 30 & sleep 30; wait"}, "", nil, &bytes.Buffer{})
	if err == nil {
		t.Fatal("a cancelled command reported success")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cancelling took %s: the process group was not killed", d)
	}
}

// TestRunKillsBackgroundChild runs a command that leaves a child in the
// background holding its stdout: the attempt succeeds with the command's
// output at once (not after the wait for the pipe to close), and the child
// is killed with it.
func TestRunKillsBackgroundChild(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	for name, run := range map[string]func(ctx context.Context, argv []string, out *bytes.Buffer) error{
		"Run": func(ctx context.Context, argv []string, out *bytes.Buffer) error {
			return command.Run(ctx, argv, "", nil, out)
		},
		"RunCombined": func(ctx context.Context, argv []string, out *bytes.Buffer) error {
			return command.RunCombined(ctx, argv, "", out)
		},
	} {
		var out bytes.Buffer
		start := time.Now()
		err := run(context.Background(), []string{"sh", "-c", `sleep 60 & echo $! > "$0"; echo done`, pidFile}, &out)
		if err != nil {
			t.Fatalf("%s: a command that left a background child failed: %v", name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %s: it waited for the child's pipe", name, d)
		}
		if out.String() != "done\n" {
			t.Errorf("%s output %q, want %q", name, out.String(), "done\n")
		}
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for alive(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("%s: the background child %d still runs after the command ended", name, pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestQuoteReadsBack checks that sh reads a quoted command line back as
// the same words.
func TestQuoteReadsBack(t *testing.T) {
	t.Parallel()
	argv := []string{"printf", "%s\n", "plain", "with space", "it's", "", "$HOME", "`x`", "a;b", "*", "tab\there", "ünï", "--flag=v"}
	out, err := exec.Command("sh", "-c", command.Quote(argv)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), strings.Join(argv[2:], "\n")+"\n"; got != want {
		t.Errorf("sh read %q back as %q, want %q", command.Quote(argv), got, want)
	}
	if got := command.Quote([]string{"echo", "a b"}); got != "echo 'a b'" {
		t.Errorf("Quote = %q, want %q", got, "echo 'a b'")
	}
}
