package command_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	err := command.Run(context.Background(), []string{"sh", "-c", "cat; echo oops >&2; exit 4"}, strings.NewReader("in\n"), &out)
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
	err := command.Run(context.Background(), []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; echo END >&2; exit 1"}, nil, &bytes.Buffer{})
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
	err := command.Run(ctx, []string{"sh", "-c", "sleep 30 & sleep 30; wait"}, nil, &bytes.Buffer{})
	if err == nil {
		t.Fatal("a cancelled command reported success")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cancelling took %s: the process group was not killed", d)
	}
}
