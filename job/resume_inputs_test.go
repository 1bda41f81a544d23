package job_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// TestInputsChangedRecords checks the resume check of inputs against the
// record of the first run: with fingerprints, any change is refused and
// named; a record from before fingerprints (none) is compared by size;
// standard input is never resumed.
func TestInputsChangedRecords(t *testing.T) {
	t.Parallel()
	fp := schema.InputFingerprint{Size: 10, ModTime: 1000, Dev: 1, Ino: 7}
	rec := func(inputs []string, sizes []int64, fps ...schema.InputFingerprint) schema.JobRecord {
		return schema.JobRecord{ID: "j", Kind: schema.KindPipe, Partitions: 1, Inputs: inputs, InputSizes: sizes, InputFingerprints: fps}
	}
	edited := fp
	edited.ModTime++
	replaced := fp
	replaced.Ino++
	tests := []struct {
		name     string
		old, cur schema.JobRecord
		want     []string // nil: accepted
	}{
		{"unchanged", rec([]string{"/a"}, []int64{10}, fp), rec([]string{"/a"}, []int64{10}, fp), nil},
		{"edited keeping its size", rec([]string{"/a"}, []int64{10}, fp), rec([]string{"/a"}, []int64{10}, edited), []string{"/a", "modification time"}},
		{"replaced", rec([]string{"/a"}, []int64{10}, fp), rec([]string{"/a"}, []int64{10}, replaced), []string{"/a", "replaced"}},
		{"old record, same size", rec([]string{"/a"}, []int64{10}), rec([]string{"/a"}, []int64{10}, edited), nil},
		{"old record, other size", rec([]string{"/a"}, []int64{10}), rec([]string{"/a"}, []int64{12}, fp), []string{"changed size"}},
		{"standard input", rec([]string{"-"}, []int64{0}, schema.InputFingerprint{}), rec([]string{"-"}, []int64{0}, schema.InputFingerprint{}), []string{"standard input"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := job.InputsChanged(tt.old, tt.cur)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, job.ErrBadInput) {
				t.Fatalf("got %v, want an ErrBadInput", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}
