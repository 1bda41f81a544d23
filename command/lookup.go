package command

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"
)

// Sentinel errors of [Check].
var (
	// ErrNotFound means no file of the program's name exists at the path
	// given or in a directory of PATH.
	ErrNotFound = errors.New("command not found")
	// ErrNotExecutable means the program's file exists but cannot be run:
	// it lacks execute permission, or it is a directory.
	ErrNotExecutable = errors.New("command not executable")
)

// Check reports whether argv can be run: non-empty, and its program found
// on PATH (or at the path given) and executable. The error wraps
// [ErrNotFound] or [ErrNotExecutable] and names the program and the fix.
func Check(argv []string) error {
	if len(argv) == 0 || argv[0] == "" {
		return fmt.Errorf("no command given: put the command after --")
	}
	name := argv[0]
	if _, err := exec.LookPath(name); err == nil {
		return nil
	}
	if path, ok := findFile(name); ok {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return &lookupError{ErrNotExecutable, fmt.Sprintf("command %s is a directory, not a program: give the program's path", path)}
		}
		return &lookupError{ErrNotExecutable, fmt.Sprintf("command %s is not executable: chmod +x %s", path, path)}
	}
	return &lookupError{ErrNotFound, fmt.Sprintf("command %q not found: install it or give its full path (PATH is searched, no shell is used)", name)}
}

// lookupError is a failure of Check: its message is written for the
// user, and it matches its sentinel.
type lookupError struct {
	kind error
	msg  string
}

func (e *lookupError) Error() string { return e.msg }
func (e *lookupError) Unwrap() error { return e.kind }

// findFile finds the file a program name refers to, executable or not:
// the path itself when it holds a slash, else the first file of that name
// in a directory of PATH.
func findFile(name string) (string, bool) {
	exists := func(p string) bool {
		_, err := os.Stat(p)
		return err == nil || !errors.Is(err, fs.ErrNotExist)
	}
	if strings.ContainsRune(name, '/') {
		return name, exists(name)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			continue // exec.LookPath does not search the current directory either
		}
		if p := filepath.Join(dir, name); exists(p) {
			return p, true
		}
	}
	return "", false
}

// Split splits a command line given as one string into argv, the way a
// POSIX shell splits words: blanks separate words; single quotes keep text
// literally; double quotes keep text but let backslash escape ", \, $ and
// `; a backslash outside quotes escapes the next character. Nothing is
// expanded or executed.
func Split(line string) ([]string, error) {
	var (
		args    []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range line {
		switch {
		case escaped:
			if quote == '"' && !strings.ContainsRune("\"\\$`", r) {
				cur.WriteRune('\\')
			}
			cur.WriteRune(r)
			escaped, inWord = false, true
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case unicode.IsSpace(r):
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if escaped || quote != 0 {
		return nil, fmt.Errorf("command %q has an unterminated quote or a trailing backslash", line)
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}
