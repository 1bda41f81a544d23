package command

import (
	"fmt"
	"os/exec"
	"strings"
	"unicode"
)

// Check reports whether argv can be run: non-empty, and its program found
// on PATH (or at the path given). The error names the program and the fix.
func Check(argv []string) error {
	if len(argv) == 0 || argv[0] == "" {
		return fmt.Errorf("no command given: put the command after --")
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return fmt.Errorf("command %q not found: install it or give its full path (PATH is searched, no shell is used)", argv[0])
	}
	return nil
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
