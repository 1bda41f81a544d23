package splitter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jetmr/jetmr/errs"
)

// ErrBadInput is matched by every error caused by the user's inputs: a
// missing path, an unreadable file, a directory without files, a path that
// is not a regular file or directory, or a file that changed while being
// split. Messages name the path and the fix, e.g.
// `input "x.log" does not exist: check the path`. It is [errs.ErrBadInput].
var ErrBadInput = errs.ErrBadInput

// Stdin is the path that names standard input on the command line.
const Stdin = "-"

// Input is one input file, or standard input.
type Input struct {
	// Path is the absolute, cleaned path of the file. For a symbolic link
	// it is the path of the link, not of its target. It is [Stdin] for
	// standard input.
	Path string
	// Size is the size of the file in bytes when it was resolved (of the
	// compressed file for a compressed one; 0 for standard input).
	Size int64
	// Fingerprint identifies the version of the file that was resolved;
	// zero for standard input.
	Fingerprint Fingerprint
	// Compression is how the file is compressed, from its name:
	// [Gzip] (.gz), [Zstd] (.zst) or "" for none.
	Compression string
}

// Streamed reports whether the input is read as one stream, start to end,
// rather than by byte ranges: standard input and compressed files. Its
// chunks carry their bytes (Chunk.Data).
func (in Input) Streamed() bool { return in.Path == Stdin || in.Compression != "" }

// badInput returns a *errs.BadInputError about the inputs with a
// formatted message written for the user and an optional underlying cause.
func badInput(cause error, format string, args ...any) error {
	return &errs.BadInputError{Msg: fmt.Sprintf(format, args...), Err: cause}
}

// ResolveInputs turns command-line paths into input files.
//
// A file is itself. A directory is walked recursively and its regular
// files are taken in lexical order of their path (filepath.WalkDir order);
// hidden files are included (but for the staging files jetmr writes next
// to an output while a job runs, see [IsStaging]), symbolic links to files
// are followed, and other entries (symbolic links to directories, broken
// links, pipes, sockets, devices) are skipped. A file that one directory
// reaches twice (by name and through a link) is taken once, at its first
// occurrence; a file that two paths reach (a path given twice, a file and
// the directory holding it, a file and a link to it) is refused, wrapping
// [ErrDuplicateInput].
//
// The path [Stdin] ("-") names standard input, which may be given once.
// A file whose name ends in .gz or .zst (given by name or found in a
// directory) is compressed: its Compression is set and its first bytes are
// decompressed to check that it is what its name says.
//
// It returns an error wrapping ErrBadInput for an empty path list, a
// missing path, a file that cannot be opened for reading, a compressed
// file that does not decompress, standard input given twice, a directory
// that cannot be walked or contains no regular files, and a path that is
// neither a regular file nor a directory (e.g. a FIFO or a device).
func ResolveInputs(paths []string) ([]Input, error) {
	if len(paths) == 0 {
		return nil, badInput(nil, "no inputs given: pass at least one file or directory")
	}
	r := resolver{seen: make(map[string]seenFile)}
	for _, p := range paths {
		r.arg, r.argN = p, r.argN+1
		if err := r.add(p); err != nil {
			return nil, err
		}
	}
	return r.inputs, nil
}

// resolver accumulates inputs, refusing a file that two paths reach and
// skipping one that a directory reaches twice.
type resolver struct {
	inputs []Input
	seen   map[string]seenFile // keyed by the real path of each file
	arg    string              // the command-line path being resolved
	argN   int                 // its position among the paths, from 1
}

// seenFile is a file already taken: the command-line path that reached
// it, and the path it was taken by.
type seenFile struct {
	arg, path string
	argN      int
}

// add resolves one command-line path.
func (r *resolver) add(p string) error {
	if p == "" {
		return badInput(nil, "input path is empty: pass a file or directory")
	}
	if p == Stdin {
		if _, ok := r.seen[Stdin]; ok {
			return badInput(nil, "standard input (-) is given twice: give it once")
		}
		r.seen[Stdin] = seenFile{arg: Stdin, path: Stdin}
		r.inputs = append(r.inputs, Input{Path: Stdin})
		return nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return statError(p, err)
	}
	switch {
	case info.Mode().IsRegular():
		return r.addFile(p, info)
	case info.IsDir():
		return r.addDir(p)
	default:
		return badInput(nil, "input %q is not a regular file or directory (it is a %s): pass a file or directory",
			p, DescribeMode(info.Mode()))
	}
}

// addFile adds the regular file p unless it was seen before, after
// checking that it can be opened for reading.
func (r *resolver) addFile(p string, info fs.FileInfo) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return badInput(err, "input %q has no absolute path (%v): check the working directory", p, err)
	}
	key, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return statError(p, err)
	}
	if prev, ok := r.seen[key]; ok {
		if prev.argN == r.argN {
			return nil // a link in a directory to one of its files
		}
		return duplicateInput(prev, r.arg, p)
	}
	compression := compressionOf(p)
	if err := checkReadable(p, compression); err != nil {
		return err
	}
	r.seen[key] = seenFile{arg: r.arg, path: p, argN: r.argN}
	r.inputs = append(r.inputs, Input{Path: abs, Size: info.Size(), Fingerprint: FingerprintOf(info), Compression: compression})
	return nil
}

// duplicateInput refuses the file p, reached by the command-line path
// arg, that an earlier path already reached: a job would read it once,
// where a command run over the same paths (cat a a) reads it twice.
func duplicateInput(prev seenFile, arg, p string) error {
	switch {
	case prev.arg == arg:
		return badInput(ErrDuplicateInput, "input %q is given twice: give each input once", arg)
	case prev.path == prev.arg && p == arg:
		return badInput(ErrDuplicateInput, "inputs %q and %q are the same file: give each file once", prev.arg, arg)
	default:
		return badInput(ErrDuplicateInput, "file %q is read through both input %q and input %q: give each file once (drop one of them, or the file from the directory)", p, prev.arg, arg)
	}
}

// ErrDuplicateInput is wrapped by the error of ResolveInputs for two
// input paths that reach the same file, such as a path given twice, or a
// directory and a file in it.
var ErrDuplicateInput = errors.New("input given twice")

// IsStaging reports whether name, a file or folder's base name, is one of
// the hidden files jetmr writes next to an output while a job runs
// (".NAME.jetmr-JOB.tmp", ".NAME.jetmr-JOB.tmp-parts", ".NAME.jetmr-JOB.old"):
// never an input, even in a directory given as one.
func IsStaging(name string) bool {
	if !strings.HasPrefix(name, ".") || !strings.Contains(name, ".jetmr-") {
		return false
	}
	for _, suffix := range []string{".tmp", ".tmp-parts", ".old"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// addDir walks the directory dir and adds its regular files.
func (r *resolver) addDir(dir string) error {
	root, err := walkRoot(dir)
	if err != nil {
		return err
	}
	found := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return badInput(err, "directory %q cannot be read (%s): check its permissions",
				displayPath(dir, root, p), causeText(err))
		}
		if p != root && IsStaging(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, ok := regularFile(p, d)
		if !ok {
			return nil
		}
		found++
		return r.addFile(displayPath(dir, root, p), info)
	})
	if err != nil {
		return err
	}
	if found == 0 {
		return badInput(nil, "directory %q contains no regular files: pass a directory with input files", dir)
	}
	return nil
}

// walkRoot returns the path to walk for the directory dir: dir itself, or
// its target if dir is a symbolic link, since filepath.WalkDir does not
// descend into a root that is a link.
func walkRoot(dir string) (string, error) {
	info, err := os.Lstat(dir)
	if err != nil {
		return "", statError(dir, err)
	}
	if info.Mode()&fs.ModeSymlink == 0 {
		return dir, nil
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", statError(dir, err)
	}
	return root, nil
}

// displayPath rewrites the walked path p, found under root, to lie under
// dir, the directory the user named.
func displayPath(dir, root, p string) string {
	if dir == root {
		return p
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return filepath.Join(dir, rel)
}

// regularFile reports whether the walked entry d at p is a regular file or
// a symbolic link to one, and returns the file's information.
func regularFile(p string, d fs.DirEntry) (fs.FileInfo, bool) {
	switch {
	case d.Type().IsRegular():
		info, err := d.Info()
		return info, err == nil
	case d.Type()&fs.ModeSymlink != 0:
		info, err := os.Stat(p)
		return info, err == nil && info.Mode().IsRegular()
	default:
		return nil, false
	}
}

// checkReadable opens the file p to check that it can be read and, when
// it is compressed, that its start decompresses.
func checkReadable(p, compression string) error {
	f, err := os.Open(p)
	if err != nil {
		return badInput(err, "input %q cannot be read (%s): check its permissions", p, causeText(err))
	}
	defer f.Close()
	if compression == "" {
		return nil
	}
	return checkCompressed(f, p, compression)
}

// statError describes a failure to stat the path p.
func statError(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return badInput(err, "input %q does not exist: check the path", p)
	}
	return badInput(err, "input %q cannot be accessed (%s): check the path and its permissions", p, causeText(err))
}

// causeText describes err without the operation and path that a
// *fs.PathError repeats, since messages already name the path.
func causeText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// DescribeMode names, in messages, the type of a file that is neither
// regular nor a directory.
func DescribeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	default:
		return "special file"
	}
}
