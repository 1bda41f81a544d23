package errs

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrBadInput is matched by every error caused by the caller's
// configuration or inputs: a missing file, a flag out of range, a table
// that does not exist. Nothing was started and nothing was written.
var ErrBadInput = errors.New("bad input")

// BadInputError is bad input: what is wrong and how to fix it, for the
// user. It matches [ErrBadInput] and unwraps to Err.
type BadInputError struct {
	// Setting is the setting at fault as "Type.Field" (e.g.
	// "Config.ChunkSize"), or "" when the fault is in the inputs' content
	// rather than in one setting.
	Setting string
	// Msg says what is wrong and how to fix it; it may name settings as
	// Setting does.
	Msg string
	// Err is the cause, if any. It is not part of the message unless Msg
	// quotes it.
	Err error
}

func (e *BadInputError) Error() string { return e.Msg }

// Is reports whether target is ErrBadInput.
func (e *BadInputError) Is(target error) bool { return target == ErrBadInput }

// Unwrap returns the cause.
func (e *BadInputError) Unwrap() error { return e.Err }

// BadInput returns a *BadInputError about setting (possibly "") with a
// formatted message. A %w verb in format names the cause, as with
// fmt.Errorf; its text is part of the message.
func BadInput(setting, format string, args ...any) error {
	e := &BadInputError{Setting: setting}
	wrapped := fmt.Errorf(format, args...)
	e.Msg = wrapped.Error()
	switch u := wrapped.(type) {
	case interface{ Unwrap() error }:
		e.Err = u.Unwrap()
	case interface{ Unwrap() []error }:
		e.Err = errors.Join(u.Unwrap()...)
	}
	return e
}

// Translate rewrites the settings named in msg with names, e.g.
// {"Config.ChunkSize": "--chunk-size"}, longest names first so that one
// setting's name never clobbers a longer one that starts with it.
func Translate(msg string, names map[string]string) string {
	keys := slices.SortedFunc(maps.Keys(names), func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, names[k])
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}
