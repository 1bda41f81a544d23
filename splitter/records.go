package splitter

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrMalformed wraps, with [ErrBadInput], the errors of inputs whose
// content does not have the records a job expects: a CSV quoted field
// that never closes, a header longer than [MaxHeader], inputs with
// different headers where one is kept ([Records.SameHeader]). They are
// found as the input is split, after tasks may have started.
var ErrMalformed = errors.New("malformed input")

// Record formats, the values of [Records.Format].
const (
	// FormatLines is plain records, each ending with [Records.End]
	// (default: a newline).
	FormatLines = "lines"
	// FormatCSV is CSV (RFC 4180, read as Python's csv module reads it):
	// records end with a newline outside a quoted field, so a quoted field
	// may hold newlines; see csvState for which quotes open one.
	FormatCSV = "csv"
)

// MaxHeader bounds the header of an input (see [Records.Header]), which
// travels with every chunk of the input.
const MaxHeader = 64 << 10

// maxRecordMark bounds Records.End and Records.Start.
const maxRecordMark = 1 << 10

// Records says how an input divides into records, so that chunks are cut
// only between two records, and how many records at the start of each
// input are its header. The zero value is newline-terminated lines and no
// header.
type Records struct {
	// Header is the number of records at the start of each input that are
	// its header: they are no chunk's records, and every chunk of the
	// input carries them in [Chunk.Header].
	Header int
	// End is what a record ends with (GNU parallel's --recend); "" means
	// a newline.
	End string
	// Start is what a record begins with (GNU parallel's --recstart):
	// chunks are cut only where an End is followed by a Start. "" means
	// any record start.
	Start string
	// Format is FormatLines ("" too) or FormatCSV. A CSV record ends with
	// a newline outside a quoted field; End and Start must be empty.
	Format string
	// SameHeader requires every input to have the header of the first:
	// a chunk whose header differs is an error wrapping ErrBadInput. For
	// jobs that keep one header for all their inputs.
	SameHeader bool
}

// sameHeader wraps yield to check, when rec.SameHeader is set, that every
// chunk carries the header of the first; name names a chunk's input.
func (r Records) sameHeader(yield func(Chunk) error, name func(Chunk) string) func(Chunk) error {
	if !r.SameHeader || r.Header == 0 {
		return yield
	}
	var first []byte
	var firstName string
	return func(c Chunk) error {
		switch {
		case firstName == "":
			first, firstName = c.Header, name(c)
		case !bytes.Equal(c.Header, first):
			return differentHeader(name(c), firstName, c.Header, first)
		}
		return yield(c)
	}
}

// differentHeader refuses the input name whose header differs from that
// of firstName.
func differentHeader(name, firstName string, header, first []byte) error {
	return badInput(ErrMalformed, "%s has a different header than %s (%.80q, not %.80q): one header is kept for all inputs, so give inputs that share it, or run one job per header",
		name, firstName, header, first)
}

// Validate checks the options and returns an error wrapping [ErrBadInput]
// that names the option and its fix. The option names are those of the
// jetmr command line.
func (r Records) Validate() error {
	if r.Header < 0 {
		return badInput(nil, "--header %d is not valid: give the number of header lines at the start of each input, 0 (none) or more", r.Header)
	}
	switch r.Format {
	case "", FormatLines:
	case FormatCSV:
		if r.End != "" && r.End != "\n" || r.Start != "" {
			return badInput(nil, "--format csv ends records at newlines outside quoted fields, so it takes no --recend, --recstart or -0: drop them, or use --format lines")
		}
	default:
		return badInput(nil, "--format %q is not valid: use lines (records end with --recend, default a newline) or csv (quoted fields may hold newlines)", r.Format)
	}
	if len(r.End) > maxRecordMark || len(r.Start) > maxRecordMark {
		return badInput(nil, "--recend and --recstart are at most %d bytes: give a shorter record separator", maxRecordMark)
	}
	return nil
}

// IsZero reports whether r is the default: newline-terminated lines and no
// header.
func (r Records) IsZero() bool {
	return r.Header == 0 && (r.End == "" || r.End == "\n") && r.Start == "" && (r.Format == "" || r.Format == FormatLines)
}

func (r Records) csv() bool { return r.Format == FormatCSV }

// end returns the record end, a newline by default.
func (r Records) end() []byte {
	if r.End == "" || r.csv() {
		return []byte{'\n'}
	}
	return []byte(r.End)
}

// simple reports whether a record ends at each occurrence of one byte
// (outside quotes for CSV), with no Start to check.
func (r Records) simple() bool { return len(r.end()) == 1 && r.Start == "" }

// describe names the record kind in messages.
func (r Records) describe() string {
	switch {
	case r.csv():
		return "CSV record"
	case r.End == "" || r.End == "\n":
		return "line"
	case r.End == "\x00":
		return "NUL-terminated record"
	}
	return "record"
}

// unterminatedQuote is the error of a CSV input whose quoted field is
// never closed: the quote is at byte offset at, on the given 1-based line.
func unterminatedQuote(name string, at, line int64) error {
	return badInput(ErrMalformed, "%s is not valid CSV: the quoted field that opens at byte %d (line %d) is never closed: close the quote, or use --format lines if the input is not CSV",
		name, at, line)
}

// String describes the records for logs.
func (r Records) String() string {
	return fmt.Sprintf("format=%s end=%q start=%q header=%d", r.Format, r.End, r.Start, r.Header)
}
