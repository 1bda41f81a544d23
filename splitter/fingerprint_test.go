package splitter_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/splitter"
)

// TestFingerprintChanges fingerprints a file, changes it, and checks that
// Changes names each kind of change, and nothing for an untouched file.
func TestFingerprintChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		want   []string
	}{
		{"untouched", func(*testing.T, string) {}, nil},
		{"edited in place keeping its size", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("X"), 0); err != nil {
				t.Fatal(err)
			}
			// The clock the kernel stamps files with may not have ticked.
			if err := os.Chtimes(path, time.Time{}, time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}, []string{"modification time changed"}},
		{"grown", func(t *testing.T, path string) {
			if err := os.Truncate(path, 100); err != nil {
				t.Fatal(err)
			}
		}, []string{"size changed from 4 to 100 bytes"}},
		{"replaced", func(t *testing.T, path string) {
			tmp := path + ".new"
			writeFile(t, filepath.Dir(tmp), filepath.Base(tmp), []byte("abc\n"))
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}, []string{"replaced by another file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, t.TempDir(), "in.txt", []byte("abc\n"))
			inputs, err := splitter.ResolveInputs([]string{p})
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, p)
			now, err := splitter.ResolveInputs([]string{p})
			if err != nil {
				t.Fatal(err)
			}
			got := inputs[0].Fingerprint.Changes(now[0].Fingerprint)
			if tt.want == nil && got != nil {
				t.Fatalf("Changes = %q for an untouched file, want none", got)
			}
			all := strings.Join(got, "; ")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("Changes = %q, want one saying %q", got, w)
				}
			}
		})
	}
}
