package main

import (
	"os"
	"path/filepath"
	"strings"
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
