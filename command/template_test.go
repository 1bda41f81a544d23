package command_test

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/command"
)

func TestTemplateExpand(t *testing.T) {
	t.Parallel()
	cases := []struct {
		argv []string
		item string
		want []string
	}{
		{[]string{"echo", "{}"}, "a b.txt", []string{"echo", "a b.txt"}},
		{[]string{"echo"}, "x", []string{"echo", "x"}}, // no placeholder: appended
		{[]string{"cp", "{}", "{.}.bak"}, "dir/f.tar.gz", []string{"cp", "dir/f.tar.gz", "dir/f.tar.bak"}},
		{[]string{"echo", "{/}", "{//}", "{/.}", "{#}"}, "a/b/c.go", []string{"echo", "c.go", "a/b", "c", "7"}},
		{[]string{"echo", "{//}", "{.}"}, "plain", []string{"echo", ".", "plain"}},
		{[]string{"echo", "{.}"}, ".bashrc", []string{"echo", ".bashrc"}},
		{[]string{"echo", "{.}"}, "a.d/file", []string{"echo", "a.d/file"}},
		{[]string{"echo", "--out={}.log"}, "$(x)", []string{"echo", "--out=$(x).log"}},
		{[]string{"awk", "{print}", "${HOME}", "{a,b}"}, "i", []string{"awk", "{print}", "${HOME}", "{a,b}", "i"}},
		{[]string{"echo", "{}{}"}, "ab", []string{"echo", "abab"}},
	}
	for _, tc := range cases {
		tpl, err := command.ParseTemplate(tc.argv)
		if err != nil {
			t.Fatalf("%q: %v", tc.argv, err)
		}
		if got := tpl.Expand(tc.item, 6); !slices.Equal(got, tc.want) {
			t.Errorf("%q with %q: %q, want %q", tc.argv, tc.item, got, tc.want)
		}
	}
}

func TestTemplateBadPlaceholder(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"{..}", "{#.}", "{%}", "x{///}y", "{./}"} {
		_, err := command.ParseTemplate([]string{"echo", arg})
		if err == nil || !strings.Contains(err.Error(), "unknown placeholder") {
			t.Errorf("%q: err %v, want unknown placeholder", arg, err)
		}
	}
}

// TestShellScript runs the generated script with hostile items: each
// arrives as one parameter and nothing in it runs.
func TestShellScript(t *testing.T) {
	t.Parallel()
	tpl, err := command.ParseTemplate([]string{"printf '<%s>'", "{}", "{#}"})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range []string{"a b", "$(echo pwned)", "`echo pwned`", "x; echo pwned", "*", "'q'"} {
		argv := command.ShellArgv(tpl.ShellScript(true), item, 0)
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := "<" + item + "><1>"; string(out) != want {
			t.Errorf("item %q: %q, want %q", item, out, want)
		}
	}
	if s := mustParse(t, "wc", "-l").ShellScript(true); s != `wc -l "$1"` {
		t.Errorf("script without placeholders: %q", s)
	}
}

func mustParse(t *testing.T, argv ...string) command.Template {
	tpl, err := command.ParseTemplate(argv)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestRunCombined checks that stdout and stderr reach one writer in the
// order written, and that a failure's tail holds them.
func TestRunCombined(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := command.RunCombined(context.Background(), []string{"sh", "-c", "echo 1; echo 2 >&2; echo 3; exit 4"}, t.TempDir(), &out)
	if out.String() != "1\n2\n3\n" {
		t.Errorf("output %q", out.String())
	}
	if err == nil || !strings.Contains(err.Error(), "status 4") {
		t.Errorf("err %v, want exit status 4", err)
	}
}
