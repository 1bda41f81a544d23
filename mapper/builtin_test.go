package mapper

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "0"},
		{"\n", "1"},
		{"a", "1"},
		{"a\n", "1"},
		{"a\nb", "2"},
		{"a\r\nb\r\n", "2"},
		{"\n\n\n", "3"},
	}
	for _, tt := range tests {
		var l pairList
		if err := Lines(context.Background(), []byte(tt.in), &l); err != nil {
			t.Fatal(err)
		}
		if want := [][2]string{{"lines", tt.want}}; fmt.Sprint(l.pairs) != fmt.Sprint(want) {
			t.Errorf("Lines(%q) emitted %v, want %v", tt.in, l.pairs, want)
		}
	}
}

func TestGrep(t *testing.T) {
	tests := []struct {
		re, in string
		want   []string
	}{
		{`err\w*`, "error one\nno match\nerrors: err, erring\n", []string{"error", "errors", "err", "erring"}},
		{`o`, "foo\nbar\nzoo", []string{"o", "o", "o", "o"}},
		{`b.$`, "ab\r\nxbz\r\nb", []string{"bz"}},  // $ matches before the stripped "\r\n"
		{`(?m)^a`, "a\na\nba", []string{"a", "a"}}, // one line at a time
		{`x`, "", nil}, // no lines
		{`line\r`, "line\r\nline\r", []string{"line\r"}}, // only the last line keeps its lone "\r"
		{`\d+`, "1 22\n333\n\n4444", []string{"1", "22", "333", "4444"}},
	}
	for _, tt := range tests {
		var l pairList
		if err := Grep(regexp.MustCompile(tt.re))(context.Background(), []byte(tt.in), &l); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range l.pairs {
			if p[1] != "1" {
				t.Errorf("grep %q emitted value %q", tt.re, p[1])
			}
			got = append(got, p[0])
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("grep %q on %q emitted %q, want %q", tt.re, tt.in, got, tt.want)
		}
	}
}

func TestGrepContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Grep(regexp.MustCompile("a"))(ctx, []byte("a\n"), &pairList{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestParseBuiltinMap(t *testing.T) {
	for _, name := range []string{"wordcount", "lines", "grep:a+b", "grep:[[:alpha:]]+"} {
		fn, ok, err := ParseBuiltinMap(name)
		if fn == nil || !ok || err != nil {
			t.Errorf("ParseBuiltinMap(%q) = %v, %v, %v", name, fn != nil, ok, err)
		}
	}
	for _, name := range []string{"", "WordCount", "sum", "grep", "cat"} {
		fn, ok, err := ParseBuiltinMap(name)
		if fn != nil || ok || err != nil {
			t.Errorf("ParseBuiltinMap(%q) = %v, %v, %v; want not found", name, fn != nil, ok, err)
		}
	}
	for _, name := range []string{"grep:a(b", "grep:"} {
		fn, ok, err := ParseBuiltinMap(name)
		if fn != nil || !ok || err == nil {
			t.Errorf("ParseBuiltinMap(%q) = %v, %v, %v; want an error", name, fn != nil, ok, err)
		}
	}
	_, _, err := ParseBuiltinMap("grep:a(b")
	var syntaxErr *syntax.Error
	if !strings.Contains(err.Error(), `"a(b"`) || !errors.As(err, &syntaxErr) || !strings.Contains(err.Error(), "missing closing )") {
		t.Errorf("error %q should name the regex and the regexp error", err)
	}
	fn, _, _ := ParseBuiltinMap("grep:o+")
	var l pairList
	if err := fn(context.Background(), []byte("foo"), &l); err != nil || fmt.Sprint(l.pairs) != "[[oo 1]]" {
		t.Errorf("grep:o+ on foo emitted %v, %v", l.pairs, err)
	}
	for _, name := range strings.Split(BuiltinMapNames, ", ") {
		if _, ok, _ := ParseBuiltinMap(strings.Replace(name, "REGEX", "x", 1)); !ok {
			t.Errorf("BuiltinMapNames lists %q, which ParseBuiltinMap does not know", name)
		}
	}
}
