package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Layout of the default root ([DefaultStoreDir]): each job run with the
// embedded server and no --store gets a store of its own, with its own
// lock and server, under jobs/ID, so that jobs run side by side; jetmr
// server keeps its store under server/.
const (
	// JobsDir is the folder of per-job stores under the default root.
	JobsDir = "jobs"
	// lockFile is the file a store's owner holds an exclusive flock on; it
	// holds the owner's process ID.
	lockFile = "jetmr.lock"
)

// JobStoreDir is the store of job id under root (a [DefaultStoreDir]).
func JobStoreDir(root, id string) string { return filepath.Join(root, JobsDir, id) }

// DefaultJobStoreDir is the store of job id under [DefaultStoreDir].
func DefaultJobStoreDir(id string) (string, error) {
	root, err := DefaultStoreDir()
	if err != nil {
		return "", err
	}
	return JobStoreDir(root, id), nil
}

// JobStores lists the per-job stores under root, by job ID. A root that
// does not exist has none.
func JobStores(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, JobsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the job stores under %s: %w", root, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// StoreInfo is what [InspectStore] learns about a store directory without
// opening it.
type StoreInfo struct {
	Dir string
	// Exists reports a jetmr store in Dir (its lock file or JetStream data).
	Exists bool
	// Locked reports a live process holding the store; PID is that
	// process, when it recorded itself.
	Locked bool
	PID    int
}

// InspectStore tells whether dir holds a jetmr store and whether a live
// process holds it, creating nothing. It takes the lock for an instant to
// find out; a job opening the store at that moment waits for it.
func InspectStore(dir string) (StoreInfo, error) {
	info := StoreInfo{Dir: dir}
	f, err := os.Open(filepath.Join(dir, lockFile))
	if errors.Is(err, fs.ErrNotExist) {
		if fi, err := os.Stat(filepath.Join(dir, "jetstream")); err == nil && fi.IsDir() {
			info.Exists = true // a store whose lock file was removed
		}
		return info, nil
	}
	if err != nil {
		return info, fmt.Errorf("inspecting store %s: %w", dir, err)
	}
	defer f.Close()
	info.Exists = true
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return info, nil
	}
	info.Locked = true
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err == nil && pid > 0 {
		info.PID = pid
	}
	return info, nil
}

// StoreDir is the directory of the embedded server's store, or "" for an
// external server.
func (b *Broker) StoreDir() string {
	if b.embedded == nil {
		return ""
	}
	return b.embedded.dir
}
