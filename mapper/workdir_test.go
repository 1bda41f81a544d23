package mapper_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/schema"
)

// TestResolveJobDir: a job's commands run in the submitter's directory
// when this machine has it; otherwise in the process's own, with the
// missing directory named for the worker's warning. A record without one
// (an older submitter) runs them in the process's own, as before.
func TestResolveJobDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, workDir, dir, missing string
	}{
		{"present", dir, dir, ""},
		{"absent", filepath.Join(dir, "gone"), "", filepath.Join(dir, "gone")},
		{"a file", file, "", file},
		{"older record", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := schema.JobRecord{ID: "j", Kind: schema.KindPipe, Partitions: 1, Command: []string{"cat"}, WorkDir: tc.workDir}
			j, err := mapper.ResolveJob(rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if j.Dir != tc.dir || j.MissingDir != tc.missing {
				t.Errorf("Dir %q, MissingDir %q; want %q, %q", j.Dir, j.MissingDir, tc.dir, tc.missing)
			}
		})
	}
}
