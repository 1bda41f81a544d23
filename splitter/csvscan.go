package splitter

import "bytes"

// csvState follows the quotes of a CSV input as Python's csv module reads
// it: a double quote opens a quoted field only at the start of a field
// (the start of a record, or just after a separator); anywhere else in
// an unquoted field it is a plain character, as in `5" tall`. In a quoted
// field a doubled quote ("") is one quote, and a single quote closes the
// field: what follows it up to the next separator is still part of the
// field. A record ends with a newline outside a quoted field.
//
// Fields may be separated by commas, semicolons, tabs or vertical bars:
// the splitter only needs to know where records end, and following all
// four keeps quoted fields whole in the CSV dialects people use without a
// setting for the separator.
//
// The zero value is at the start of a record. scan carries the state over
// consecutive pieces of an input, so a file is followed window by window.
type csvState struct {
	at   csvAt
	open int64 // the offset of the quote that opened the quoted field
}

// csvAt is where a [csvState] is.
type csvAt uint8

const (
	csvFieldStart csvAt = iota // at the start of a field or record
	csvBare                    // in an unquoted field
	csvQuoted                  // in a quoted field
	csvQuote                   // just after a quote in a quoted field
)

// csvSeparator marks the bytes that end an unquoted field.
var csvSeparator = [256]bool{',': true, ';': true, '\t': true, '|': true, '\n': true}

// quoted reports whether a quoted field is open.
func (s *csvState) quoted() bool { return s.at == csvQuoted }

// scan follows the bytes of b, which start at offset off of the input.
// Outside quoted fields it looks only at quotes: one opens a quoted field
// when the byte before it ends a field (or, at the start of b, when the
// state is at a field's start).
func (s *csvState) scan(b []byte, off int64) {
	for i := 0; i < len(b); {
		switch s.at {
		case csvQuoted:
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return
			}
			i += j + 1
			s.at = csvQuote
		case csvQuote:
			if b[i] == '"' {
				s.at = csvQuoted // a doubled quote: the field goes on
				i++
				continue
			}
			s.at = csvBare // the field is closed; b[i] is read as unquoted
		default:
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				if csvSeparator[b[len(b)-1]] {
					s.at = csvFieldStart
				} else {
					s.at = csvBare
				}
				return
			}
			k := i + j
			if k > i && csvSeparator[b[k-1]] || k == i && s.at == csvFieldStart {
				s.at, s.open = csvQuoted, off+int64(k)
			} else {
				s.at = csvBare
			}
			i = k + 1
		}
	}
}
