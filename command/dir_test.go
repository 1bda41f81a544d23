package command_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/command"
)

// noReports is a command.Reporter that drops what it gets.
type noReports struct{}

func (noReports) Counter(string, string, int64) {}
func (noReports) Status(string)                 {}

// TestRunInDir runs a relative program (./prog) with a relative file
// argument in dir, through every runner that takes one: both resolve in
// dir, not in the test's directory.
func TestRunInDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prog"), []byte("#!/bin/sh\ncat \"$1\"\npwd\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("in dir\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := []string{"./prog", "data.txt"}
	want := "in dir\n" + dir + "\n"
	for name, run := range map[string]func(out *bytes.Buffer) error{
		"Run": func(out *bytes.Buffer) error {
			return command.Run(context.Background(), argv, dir, strings.NewReader(""), out)
		},
		"RunReporting": func(out *bytes.Buffer) error {
			return command.RunReporting(context.Background(), argv, dir, strings.NewReader(""), out, noReports{})
		},
		"RunCombined": func(out *bytes.Buffer) error { return command.RunCombined(context.Background(), argv, dir, out) },
	} {
		var out bytes.Buffer
		if err := run(&out); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if out.String() != want {
			t.Errorf("%s printed %q, want %q", name, out.String(), want)
		}
	}
}
