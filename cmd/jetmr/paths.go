package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/objstore"
)

// checkFilePath checks, before anything runs, that the file a flag names
// can be created: its folder exists and it is not a folder itself. The
// message names the flag and the path.
func checkFilePath(flag, path string) error {
	if path == "" {
		return nil
	}
	if strings.HasSuffix(path, string(filepath.Separator)) {
		return usageErr("%s %s names a folder: give a file path, e.g. %s", flag, path, filepath.Join(path, "run.out"))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usageErr("%s %s is a folder: give a file path, e.g. %s", flag, path, filepath.Join(path, "run.out"))
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageErr("%s %s: the folder %s does not exist: create it first", flag, path, dir)
	}
	return nil
}

// checkOutsideOutput refuses a file a flag names (--report, --joblog,
// --trace) inside the output folder of job cfg: the folder is replaced
// whole when the job completes (with --force, one that exists), and the
// file with it.
func checkOutsideOutput(flag, path string, cfg job.Config) error {
	if path == "" || cfg.Output == "" || !cfg.Kind.Traits().Keyed || objstore.IsURL(cfg.Output) {
		return nil
	}
	out, err := filepath.Abs(cfg.Output)
	if err != nil {
		return nil // the job's own check says why
	}
	file, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	outs, files := []string{out, resolved(out)}, []string{file, resolved(file)}
	for _, o := range outs {
		for _, f := range files {
			if rel, err := filepath.Rel(o, f); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return usageErr("%s %s is inside output %s, a folder that the output replaces whole when the job completes (with --force), the file with it: choose a path outside it, e.g. %s",
					flag, path, cfg.Output, filepath.Join(filepath.Dir(out), filepath.Base(path)))
			}
		}
	}
	return nil
}

// resolved is path with the links of its folder (and of path itself,
// when it exists) resolved, or path when they cannot be.
func resolved(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		return filepath.Join(dir, filepath.Base(path))
	}
	return path
}
