package splitter

import (
	"fmt"
	"io/fs"
	"syscall"
	"time"
)

// Fingerprint identifies one version of an input file: its size, its
// modification time and the device and inode that hold it. A file edited
// in place changes its modification time (and usually its size); a file
// replaced by another (an editor that writes a new file and renames it
// over the old one, a re-downloaded input) changes its inode. An object
// of an object store is identified by its size and ETag instead, which
// changes whenever the object is written again.
type Fingerprint struct {
	Size int64
	// ModTime is the modification time in Unix nanoseconds.
	ModTime int64
	// Dev and Ino are the device and inode numbers; both zero where the
	// platform does not report them.
	Dev, Ino uint64
	// ETag is an object's entity tag, as its object store lists it; ""
	// for files.
	ETag string
}

// FingerprintOf returns the fingerprint of the file info describes, as
// returned by os.Stat (which follows symbolic links: the fingerprint is
// the target's).
func FingerprintOf(info fs.FileInfo) Fingerprint {
	fp := Fingerprint{Size: info.Size(), ModTime: info.ModTime().UnixNano()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		fp.Dev, fp.Ino = uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // int32 on some platforms
	}
	return fp
}

// Changes describes, for the user, how the file fingerprinted now differs
// from the one fingerprinted was: "replaced by another file", "size
// changed from 10 to 12 bytes", "modification time changed from ... to
// ...". It returns nil when they are the same.
func (was Fingerprint) Changes(now Fingerprint) []string {
	var out []string
	if was.ETag != now.ETag {
		out = append(out, fmt.Sprintf("its ETag changed from %q to %q", was.ETag, now.ETag))
	}
	if was.Dev != now.Dev || was.Ino != now.Ino {
		out = append(out, fmt.Sprintf("it was replaced by another file (inode %d on device %d, was inode %d on device %d)",
			now.Ino, now.Dev, was.Ino, was.Dev))
	}
	if was.Size != now.Size {
		out = append(out, fmt.Sprintf("its size changed from %d to %d bytes", was.Size, now.Size))
	}
	if was.ModTime != now.ModTime {
		out = append(out, fmt.Sprintf("its modification time changed from %s to %s",
			formatNanos(was.ModTime), formatNanos(now.ModTime)))
	}
	return out
}

func formatNanos(n int64) string {
	return time.Unix(0, n).UTC().Format(time.RFC3339Nano)
}
