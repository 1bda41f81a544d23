package job

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/jetmr/jetmr/internal/transfer"
)

// TestServedFilesOnlyTheJobs: the range server of a job opens the files
// it was told to serve, and refuses any other path with ErrNotServed, so
// that no client of the NATS server can read the submitter's other files.
func TestServedFilesOnlyTheJobs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in, other := filepath.Join(dir, "in.txt"), filepath.Join(dir, "other.txt")
	for _, p := range []string{in, other} {
		if err := os.WriteFile(p, []byte("abc\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var f servedFiles
	f.allow(in)
	r, err := f.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := r.ReadAt(buf, 1); err != nil || string(buf) != "bc\n" {
		t.Fatalf("reading the served file: %q, %v", buf, err)
	}
	r.(io.Closer).Close()
	for _, p := range []string{other, dir, "/etc/passwd", in + "/../other.txt"} {
		if _, err := f.Open(p); !errors.Is(err, transfer.ErrNotServed) {
			t.Errorf("opening %s: %v, want ErrNotServed", p, err)
		}
	}
}
