package job

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jetmr/jetmr/report"
)

// rejectLine is one line of a rejects file (JSON Lines): a record a job
// left out of its output, where it was and how it failed.
type rejectLine struct {
	Path   string `json:"path,omitempty"`
	Line   int    `json:"line,omitempty"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	// Record is the record's bytes when they are UTF-8, RecordBase64
	// otherwise.
	Record       string `json:"record,omitempty"`
	RecordBase64 string `json:"record_base64,omitempty"`
	Task         uint64 `json:"task"`
	Exit         int    `json:"exit_status,omitempty"`
	Signal       string `json:"signal,omitempty"`
	Error        string `json:"error"`
	Stderr       string `json:"stderr_tail,omitempty"`
}

// itemLine is one line of the rejects file of an each job: an item whose
// command failed on every attempt, with its number in the item list
// ({#}) and how its last attempt failed (the tail of its output).
// keyLine is one of a migrate job: a key whose rows the SQL fails on,
// with the database's error.
type (
	itemLine struct {
		Item   string `json:"item"`
		Seq    uint64 `json:"seq"`
		Task   uint64 `json:"task"`
		Exit   int    `json:"exit_status,omitempty"`
		Signal string `json:"signal,omitempty"`
		Error  string `json:"error"`
		Output string `json:"output_tail,omitempty"`
	}
	keyLine struct {
		Key   string `json:"key"`
		Task  uint64 `json:"task"`
		Error string `json:"error"`
	}
)

// rowOrItemLine is the line of a skipped each item or migrate key.
func rowOrItemLine(r report.BadRecord) any {
	if r.Key != "" {
		return keyLine{Key: r.Key, Task: r.Task, Error: r.Error.Message}
	}
	return itemLine{Item: r.Item, Seq: r.Seq, Task: r.Task, Exit: r.Error.ExitStatus, Signal: r.Error.Signal,
		Error: r.Error.Message, Output: strings.ToValidUTF8(r.Error.StderrTail, "\uFFFD")}
}

// maxRejectRecord bounds the bytes of one record a rejects file repeats.
const maxRejectRecord = 1 << 20

// writeRejects writes the records a job skipped to path, as JSON Lines,
// under a temporary name renamed into place once complete: like the
// output, the file appears whole when the job completes, or not at all.
func writeRejects(path string, recs []report.BadRecord) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing the rejected records: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if r.Key != "" || r.Seq > 0 {
			if err := enc.Encode(rowOrItemLine(r)); err != nil {
				tmp.Close()
				return fmt.Errorf("writing the rejected records to %s: %w", path, err)
			}
			continue
		}
		line := rejectLine{Path: r.Path, Line: r.Line, Offset: r.Offset, Length: r.Length, Task: r.Task,
			Exit: r.Error.ExitStatus, Signal: r.Error.Signal, Error: r.Error.Message, Stderr: r.Error.StderrTail}
		data := readRecord(r)
		if utf8.Valid(data) {
			line.Record = string(data)
		} else {
			line.RecordBase64 = base64.StdEncoding.EncodeToString(data)
		}
		if err := enc.Encode(line); err != nil {
			tmp.Close()
			return fmt.Errorf("writing the rejected records to %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the rejected records to %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the rejected records to %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the rejected records to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("publishing the rejected records as %s: %w", path, err)
	}
	return nil
}

// readRecord returns a skipped record's bytes: those its result carried,
// else read from its input (up to maxRejectRecord), else its preview
// when the input cannot be read (a chunk of standard input, gone with the
// job's spill files).
func readRecord(r report.BadRecord) []byte {
	if r.Data != nil {
		return r.Data
	}
	if r.Line > 0 {
		if f, err := os.Open(r.Path); err == nil {
			defer f.Close()
			buf := make([]byte, min(r.Length, maxRejectRecord))
			if _, err := io.ReadFull(io.NewSectionReader(f, r.Offset, r.Length), buf); err == nil {
				return buf
			}
		}
	}
	if s, err := strconv.Unquote(strings.TrimSuffix(r.Preview, "...")); err == nil {
		return []byte(s)
	}
	return []byte(r.Preview)
}
