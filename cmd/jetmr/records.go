package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/splitter"
)

// recordFlags are the flags that say how pipe and mapreduce inputs divide
// into records and what header each has.
type recordFlags struct {
	header     int
	headerOnce bool
	null       bool
	recend     string
	recstart   string
	format     string
}

// register adds the flags to cmd; headerOnce only for pipe, whose output
// is one stream.
func (r *recordFlags) register(cmd *cobra.Command, headerOnce bool) {
	fs := cmd.Flags()
	fs.IntVar(&r.header, "header", 0, "the first N lines (records) of each input are its header: every chunk's command reads them before the chunk")
	if headerOnce {
		fs.BoolVar(&r.headerOnce, "header-once", false, "with --header: keep the header the command prints only in the first chunk's output, as a sequential run would")
	}
	fs.BoolVarP(&r.null, "null", "0", false, "records end with a NUL byte, not a newline (as --recend '\\0')")
	fs.StringVar(&r.recend, "recend", "", `records end with this string (escapes \n \t \r \0 \\ \xHH); chunks are cut only after one (default "\n")`)
	fs.StringVar(&r.recstart, "recstart", "", "records start with this string: chunks are cut only where --recend is followed by it")
	fs.StringVar(&r.format, "format", splitter.FormatLines, "input format: lines (records end with --recend) or csv (a newline inside a quoted field does not end a record)")
}

// apply checks the flags and sets them on cfg.
func (r *recordFlags) apply(cmd *cobra.Command, cfg *job.Config) error {
	fs := cmd.Flags()
	var rec splitter.Records
	var err error
	if fs.Changed("recend") {
		if r.recend == "" {
			return usageErr("%s", `--recend is empty: give the string that ends each record, e.g. --recend '\n\n' for blank-line separated records, or drop it for lines`)
		}
		if rec.End, err = unescape("--recend", r.recend); err != nil {
			return err
		}
	}
	if rec.Start, err = unescape("--recstart", r.recstart); err != nil {
		return err
	}
	if r.null {
		if fs.Changed("recend") {
			return usageErr("%s", "-0 ends records with a NUL byte and --recend gives another end: give one of them")
		}
		if r.format == splitter.FormatCSV {
			return usageErr("%s", "-0 (NUL-terminated records) and --format csv conflict: CSV records end with newlines: drop one of them")
		}
		rec.End = "\x00"
	}
	rec.Header, rec.Format = r.header, r.format
	if err := rec.Validate(); err != nil {
		return err // bad input already
	}
	if r.headerOnce && r.header == 0 {
		return usageErr("%s", "--header-once keeps one copy of the header the command prints: give the number of header lines with --header N")
	}
	if rec.Format == splitter.FormatLines {
		rec.Format = "" // the default
	}
	cfg.Records, cfg.HeaderOnce = rec, r.headerOnce
	return nil
}

// unescape interprets the escapes \n \t \r \0 \\ and \xHH in the value of
// flag.
func unescape(flag, s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", usageErr("%s", fmt.Sprintf(`%s %q ends with a lone backslash: write \\ for a backslash`, flag, s))
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case '\\':
			b.WriteByte('\\')
		case 'x':
			if i+3 > len(s) {
				return "", usageErr("%s", fmt.Sprintf(`%s %q has a short \x escape: write two hex digits, as \x1e`, flag, s))
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", usageErr("%s", fmt.Sprintf(`%s %q has a bad \x escape: write two hex digits, as \x1e`, flag, s))
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			return "", usageErr("%s", fmt.Sprintf(`%s %q has an unknown escape \%c: use \n \t \r \0 \\ or \xHH`, flag, s, s[i]))
		}
	}
	return b.String(), nil
}
