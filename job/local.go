package job

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// A job run with the embedded server keeps its state in a store folder: its
// own under the default root (broker.JobStoreDir), or the --store given.
// A store a live process holds is locked; its jobs are read from the
// snapshot files that process writes. An unlocked store is opened, briefly,
// unless the snapshot of its one job says how that job ended.

// OwnStore is cfg with the store of a run named id: with the embedded
// server and no StoreDir, a folder of its own under the default root
// (broker.JobStoreDir), so that runs go side by side, each with its own
// lock and server; a resume finds the run's folder there, and without one
// is refused. Otherwise cfg is returned as it is.
func OwnStore(cfg broker.Config, id string, resume bool) (broker.Config, error) {
	if cfg.URL != "" || cfg.StoreDir != "" {
		return cfg, nil
	}
	if err := schema.ValidateJobID(id); err != nil {
		return cfg, badInput("%v", err)
	}
	dir, err := broker.DefaultJobStoreDir(id)
	if err != nil {
		return cfg, err
	}
	if resume {
		if info, err := broker.InspectStore(dir); err != nil || !info.Exists {
			return cfg, badInput("there is no job %s to resume in the default store %s: check --job (jetmr status lists the jobs), or --store and --nats if it ran there",
				id, filepath.Dir(filepath.Dir(dir)))
		}
	}
	cfg.StoreDir = dir
	return cfg, nil
}

// LocalJobs lists the jobs of the embedded store cfg.StoreDir or, when it
// is empty, of every job store under the default root (and of the root's
// own store, where jobs of older versions live), oldest first.
func LocalJobs(ctx context.Context, cfg broker.Config) ([]Status, error) {
	if cfg.StoreDir != "" {
		return storeJobs(ctx, cfg, cfg.StoreDir, "")
	}
	root, err := broker.DefaultStoreDir()
	if err != nil {
		return nil, err
	}
	ids, err := broker.JobStores(root)
	if err != nil {
		return nil, err
	}
	// A store that must be opened takes about a second to start: read
	// a few at once.
	per := make([][]Status, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, id := range ids {
		g.Go(func() error {
			sts, err := storeJobs(gctx, cfg, broker.JobStoreDir(root, id), "")
			if err != nil && !errors.Is(err, broker.ErrNoStore) {
				return err
			}
			per[i] = sts
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := []Status{}
	for _, sts := range per {
		out = append(out, sts...)
	}
	if info, err := broker.InspectStore(root); err == nil && info.Exists {
		sts, err := storeJobs(ctx, cfg, root, "")
		if err != nil {
			return nil, err
		}
		out = append(out, sts...)
	}
	sortStatuses(out)
	return out, nil
}

// LocalJobStatus is the status of job id in the embedded store cfg.StoreDir
// or, when it is empty, in its store under the default root, with its
// failed tasks.
func LocalJobStatus(ctx context.Context, cfg broker.Config, id string) (Status, error) {
	dir, err := findStore(cfg.StoreDir, id)
	if err != nil {
		return Status{}, err
	}
	sts, err := storeJobs(ctx, cfg, dir, id)
	if err != nil {
		return Status{}, err
	}
	return sts[0], nil
}

// findStore is the store holding job id: store itself when given, else
// the job's folder under the default root, a folder whose snapshots name
// the job (a pipeline's, holding its stages), or the root's own store.
func findStore(store, id string) (string, error) {
	if store != "" {
		return store, nil
	}
	if err := schema.ValidateJobID(id); err != nil {
		return "", unknownJob(id)
	}
	root, err := broker.DefaultStoreDir()
	if err != nil {
		return "", err
	}
	dir := broker.JobStoreDir(root, id)
	if info, err := broker.InspectStore(dir); err == nil && info.Exists {
		return dir, nil
	}
	matches, _ := filepath.Glob(filepath.Join(root, broker.JobsDir, "*", snapshotDir, id+".json"))
	if len(matches) > 0 {
		return filepath.Dir(filepath.Dir(matches[0])), nil
	}
	if info, err := broker.InspectStore(root); err == nil && info.Exists {
		return root, nil
	}
	return "", unknownJob(id)
}

// storeJobs lists the jobs of one embedded store, or job id only (with its
// failed tasks) when id is set.
func storeJobs(ctx context.Context, cfg broker.Config, dir, id string) ([]Status, error) {
	info, err := broker.InspectStore(dir)
	if err != nil {
		return nil, badInput("%w", err)
	}
	if !info.Exists {
		return nil, badInput("%w at %s: check --store (jetmr status without --store lists the jobs of the default store)", broker.ErrNoStore, dir)
	}
	if info.Locked {
		return lockedJobs(dir, id, info)
	}
	if st, ok := endedJob(dir, id); ok {
		return []Status{st}, nil
	}
	cfg.URL, cfg.StoreDir = "", dir
	b, err := broker.Open(ctx, cfg)
	if errors.Is(err, broker.ErrStoreBusy) { // a job started meanwhile
		info, _ = broker.InspectStore(dir)
		return lockedJobs(dir, id, info)
	}
	if err != nil {
		return nil, err
	}
	defer b.Close()
	var sts []Status
	if id != "" {
		st, err := JobStatus(ctx, b, id)
		if err != nil {
			return nil, err
		}
		sts = []Status{st}
	} else if sts, err = Jobs(ctx, b); err != nil {
		return nil, err
	}
	for i, st := range sts {
		if st.ID == filepath.Base(dir) && filepath.Base(filepath.Dir(dir)) == broker.JobsDir {
			// A job's own store: the whole folder is the job's, as when
			// its snapshot is read and as discard frees it.
			sts[i].DiskBytes = dirSize(dir) + stagedBytes(st.Record)
		}
	}
	return sts, nil
}

// endedJob is the status of the one job of a per-job store whose last
// snapshot says how it ended: its figures are final, no need to open it.
func endedJob(dir, id string) (Status, bool) {
	own := filepath.Base(dir)
	if id != "" && id != own {
		return Status{}, false
	}
	st, err := readSnapshot(dir, own)
	if err != nil || (st.State != schema.StateDone && st.State != schema.StateFailed) || (id != "" && st.TasksFailed > 0) {
		return Status{}, false // to be counted from its streams, or failed tasks to list
	}
	st.Store, st.DiskBytes = dir, dirSize(dir)+stagedBytes(st.Record)
	return st, true
}

// lockedJobs reads the snapshots of a store a live process holds. A
// snapshot saying running, of another process, is of a job whose process
// died before: stopped.
func lockedJobs(dir, id string, info broker.StoreInfo) ([]Status, error) {
	sts, err := readSnapshots(dir)
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, st := range sts {
		if id != "" && st.ID != id {
			continue
		}
		if st.State == schema.StateRunning && info.PID != 0 && st.PID != info.PID {
			st.State, st.InFlight = schema.StateStopped, 0
		}
		st.Store, st.DiskBytes = dir, dirSize(dir)+stagedBytes(st.Record)
		out = append(out, st)
	}
	own := filepath.Base(dir)
	if len(sts) == 0 && filepath.Base(filepath.Dir(dir)) == broker.JobsDir && (id == "" || id == own) {
		// A store of its own whose job is starting: no snapshot yet.
		out = append(out, Status{ID: own, State: schema.StateRunning, PID: info.PID, Splitting: true, Store: dir, Updated: time.Now().UTC()})
	}
	if id != "" && len(out) == 0 {
		return nil, unknownJob(id)
	}
	return out, nil
}

// leftovers are the files a job keeps outside its store until it is done:
// its staged output, spill files and join file, and the part files its
// workers wrote (--reduce-on-workers).
func leftovers(rec schema.JobRecord, store string) []string {
	paths := []string{
		spillPath(rec.ID, store),
		filepath.Join(os.TempDir(), "jetmr-join-"+rec.ID+".jsonl"),
	}
	if rec.Output != "" {
		paths = append(paths, reducer.TempPath(rec.Output, rec.ID))
		if rec.ReduceOnWorkers {
			paths = append(paths, reducer.PartsDir(rec.Output, rec.ID)) // the part files the workers wrote
		}
		if stage := filepath.Dir(rec.Output); filepath.Base(filepath.Dir(stage)) == objectStageDir {
			paths = append(paths, stage) // an s3:// output's staging folder
		}
	}
	return paths
}

// spillPath is the spill folder of job id, as session.spillDir names it.
func spillPath(id, store string) string {
	if store == "" {
		return filepath.Join(mapper.DefaultSpillDir(), id)
	}
	return filepath.Join(store, "spill", id)
}

// diskUsed is the disk the job's files use outside JetStream.
func diskUsed(rec schema.JobRecord, store string) int64 {
	var n int64
	for _, p := range leftovers(rec, store) {
		n += dirSize(p)
	}
	return n
}

// stagedBytes is the disk the job's files outside its store use.
func stagedBytes(rec schema.JobRecord) int64 {
	var n int64
	for _, p := range leftovers(rec, "")[1:] {
		n += dirSize(p)
	}
	return n
}

// dirSize is the disk used by the file or folder at path (0 if missing).
func dirSize(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
