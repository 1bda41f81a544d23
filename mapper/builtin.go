package mapper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// BuiltinMapNames lists the built-in map functions, for messages.
const BuiltinMapNames = "wordcount, lines, grep:REGEX"

// grepPrefix introduces the regular expression of the grep map function.
const grepPrefix = "grep:"

// ParseBuiltinMap returns the built-in map function called name: "wordcount",
// "lines" or "grep:REGEX". ok is false when name is none of them; err is set
// when it is a grep whose regular expression does not compile (or is empty).
func ParseBuiltinMap(name string) (fn MapFunc, ok bool, err error) {
	switch name {
	case "wordcount":
		return Wordcount, true, nil
	case "lines":
		return Lines, true, nil
	}
	expr, isGrep := strings.CutPrefix(name, grepPrefix)
	if !isGrep {
		return nil, false, nil
	}
	if expr == "" {
		return nil, true, errors.New("grep: empty regular expression (use grep:REGEX)")
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, true, fmt.Errorf("grep: bad regular expression %q: %w", expr, err)
	}
	return Grep(re), true, nil
}

// Lines is the built-in "lines" map function: it emits the key "lines" with
// the number of lines of the chunk as decimal text. A last line without a
// newline counts; an empty chunk emits 0.
func Lines(ctx context.Context, chunk []byte, emit Emitter) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := bytes.Count(chunk, []byte{'\n'})
	if len(chunk) > 0 && chunk[len(chunk)-1] != '\n' {
		n++
	}
	return emit.Emit([]byte("lines"), strconv.AppendInt(nil, int64(n), 10))
}

// grepCheckLines is how often, in lines, a grep checks its context.
const grepCheckLines = 4096

// Grep returns the built-in "grep:REGEX" map function: for each line of the
// chunk, without its "\n" or "\r\n", it emits every non-overlapping match of
// re (as [regexp.Regexp.FindAll] finds them) with the value "1".
func Grep(re *regexp.Regexp) MapFunc {
	return func(ctx context.Context, chunk []byte, emit Emitter) error {
		one := []byte("1")
		for n := 0; len(chunk) > 0; n++ {
			if n%grepCheckLines == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			line := chunk
			if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
				line, chunk = chunk[:i], chunk[i+1:]
				line = bytes.TrimSuffix(line, []byte{'\r'})
			} else {
				chunk = nil
			}
			for _, m := range re.FindAll(line, -1) {
				if err := emit.Emit(m, one); err != nil {
					return err
				}
			}
		}
		return nil
	}
}
