package reducer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jetmr/jetmr/internal/crashpoint"
	"github.com/jetmr/jetmr/internal/runfile"
	"github.com/jetmr/jetmr/schema"
)

// A fold's spilled run is reused by a resume through its manifest, a
// small file next to it ("fold-pP-N.run.manifest") that names the job
// settings it was folded under and, for each task result folded into it,
// how many of the result's pairs it holds. See the package documentation
// for the protocol and the exactly-once argument.

// ErrBadManifest means a run's manifest is not one this package wrote in
// full for the run next to it; the run is not reused.
var ErrBadManifest = errors.New("bad run manifest")

// manifestMagic starts every manifest, followed by the CRC-32C of the
// JSON body in hex and a newline.
const manifestMagic = "jetmr-run-manifest 1 "

// manifestSuffix is the manifest's name after its run's.
const manifestSuffix = ".manifest"

// maxManifest bounds the manifest a decoder accepts.
const maxManifest = 64 << 20

// runManifest describes one spilled run of a fold.
type runManifest struct {
	// Job identifies the job and its instance (KeyedConfig.Fingerprint).
	Job string `json:"job"`
	// Fold, Keys and Partitions are the settings the run was folded
	// under; Partition and Seq place it: it is run Seq of partition
	// Partition, named by Run.
	Fold       string `json:"fold"`
	Keys       string `json:"keys"`
	Partitions int    `json:"partitions"`
	Partition  int    `json:"partition"`
	Seq        int    `json:"seq"`
	Run        string `json:"run"`
	// Size is the run file's size in bytes.
	Size int64 `json:"size"`
	// Tasks are the task results folded into the run, in the order they
	// were folded.
	Tasks []runTask `json:"tasks"`
}

// runTask is the part of one task's result (for the run's partition) that
// a run holds: the Pairs pairs of the result's run that follow those in
// the partition's earlier runs; Done when its last pair is among them.
type runTask struct {
	Index uint64 `json:"i"`
	Pairs uint64 `json:"n"`
	Done  bool   `json:"done,omitempty"`
}

// encodeManifest renders m with its header.
func encodeManifest(m *runManifest) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	sum := crc32.Checksum(body, castagnoli)
	out := fmt.Appendf(nil, "%s%08x\n", manifestMagic, sum)
	return append(out, body...), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// decodeManifest parses a manifest read from disk. It fails, wrapping
// ErrBadManifest, unless data is a whole manifest as encodeManifest
// writes it.
func decodeManifest(data []byte) (*runManifest, error) {
	if len(data) > maxManifest {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadManifest, len(data))
	}
	head, body, ok := bytes.Cut(data, []byte{'\n'})
	if !ok || !bytes.HasPrefix(head, []byte(manifestMagic)) {
		return nil, fmt.Errorf("%w: no header", ErrBadManifest)
	}
	sum, err := strconv.ParseUint(string(head[len(manifestMagic):]), 16, 32)
	if err != nil || len(head) != len(manifestMagic)+8 {
		return nil, fmt.Errorf("%w: bad checksum field", ErrBadManifest)
	}
	if crc32.Checksum(body, castagnoli) != uint32(sum) {
		return nil, fmt.Errorf("%w: checksum mismatch (torn or altered)", ErrBadManifest)
	}
	var m runManifest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the manifest", ErrBadManifest)
	}
	switch {
	case m.Partitions < 1 || m.Partition < 0 || m.Partition >= m.Partitions:
		return nil, fmt.Errorf("%w: partition %d of %d", ErrBadManifest, m.Partition, m.Partitions)
	case m.Seq < 0:
		return nil, fmt.Errorf("%w: run number %d", ErrBadManifest, m.Seq)
	case m.Size < 0:
		return nil, fmt.Errorf("%w: size %d", ErrBadManifest, m.Size)
	case m.Run != foldRunName(m.Partition, m.Seq):
		return nil, fmt.Errorf("%w: run %q is not run %d of partition %d", ErrBadManifest, m.Run, m.Seq, m.Partition)
	}
	seen := make(map[uint64]bool, len(m.Tasks))
	for _, t := range m.Tasks {
		if seen[t.Index] {
			return nil, fmt.Errorf("%w: task %d listed twice", ErrBadManifest, t.Index)
		}
		seen[t.Index] = true
	}
	return &m, nil
}

// foldRunName is the file name of partition p's run number seq.
func foldRunName(p, seq int) string { return fmt.Sprintf("fold-p%d-%d.run", p, seq) }

// keysSetting renders a key order for a manifest.
func keysSetting(k schema.Keys) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fields=%d partition-fields=%d order=", k.Fields, k.PartitionFields)
	for i, o := range k.Order {
		if i > 0 {
			b.WriteByte(',')
		}
		switch {
		case o.Numeric && o.Reverse:
			b.WriteString("numeric-reverse")
		case o.Numeric:
			b.WriteString("numeric")
		case o.Reverse:
			b.WriteString("reverse")
		default:
			b.WriteString("bytes")
		}
	}
	return b.String()
}

// resumable reports whether the sink records manifests for its runs.
func (s *KeyedSink) resumable() bool {
	return s.cfg.Fold != nil && s.cfg.Fingerprint != "" && !s.cfg.keepInputs
}

// manifestFor is the manifest of partition p's run seq, without its file
// facts.
func (s *KeyedSink) manifestFor(p, seq int) runManifest {
	return runManifest{
		Job: s.cfg.Fingerprint, Fold: s.cfg.Fold.Name(), Keys: keysSetting(s.cfg.Keys),
		Partitions: s.cfg.Partitions, Partition: p, Seq: seq, Run: foldRunName(p, seq),
	}
}

// runLedger follows which task results a partition's table holds since
// its last spill, and how many of their pairs. Owned by the lane.
// A sink that records no runs keeps its ledgers off.
type runLedger struct {
	tasks []runTask
	off   bool
}

// start begins the result of task i.
func (l *runLedger) start(i uint64) {
	if !l.off {
		l.tasks = append(l.tasks, runTask{Index: i})
	}
}

// pair counts one more pair of the current result folded.
func (l *runLedger) pair() {
	if !l.off {
		l.tasks[len(l.tasks)-1].Pairs++
	}
}

// end marks the current result folded in whole.
func (l *runLedger) end() {
	if !l.off {
		l.tasks[len(l.tasks)-1].Done = true
	}
}

// take returns what the table held and starts afresh for the next run;
// a result being folded goes on in the next run.
func (l *runLedger) take() []runTask {
	held := l.tasks
	l.tasks = nil
	if n := len(held); n > 0 && !held[n-1].Done {
		l.tasks = []runTask{{Index: held[n-1].Index}}
	}
	return held
}

// recordRun writes the manifest of partition p's run at path, which
// commits the run for a resume: the manifest is written under a temporary
// name and renamed into place once complete. A crash before the rename
// leaves a run without a manifest, which a resume discards. With
// KeyedConfig.Sync (--sync always) the run is fsynced before, and the
// manifest and the folder before and after the rename, so that the run
// survives a power loss too; without it a process crash loses nothing,
// and what a power loss tears is found by the resume's checks (see
// loadRuns).
func (s *KeyedSink) recordRun(p int, path string, tasks []runTask) error {
	if !s.resumable() {
		return nil
	}
	seq := len(s.spills[p]) - 1 // the run was just added
	m := s.manifestFor(p, seq)
	m.Tasks = tasks
	if m.Tasks == nil {
		m.Tasks = []runTask{}
	}
	if filepath.Base(path) != m.Run {
		return fmt.Errorf("recording run %s: expected run %s", path, m.Run)
	}
	size, err := fileSize(path, s.cfg.Sync)
	if err != nil {
		return fmt.Errorf("syncing run %s: %w", path, err)
	}
	m.Size = size
	crashpoint.Hit("run.written")
	data, err := encodeManifest(&m)
	if err != nil {
		return fmt.Errorf("encoding the manifest of run %s: %w", path, err)
	}
	if err := writeFileAtomic(path+manifestSuffix, data, s.cfg.Sync); err != nil {
		return fmt.Errorf("recording run %s for a resume in the work folder %s (under --store; free space there, or give --store another disk): %w", filepath.Base(path), s.cfg.WorkDir, err)
	}
	crashpoint.Hit("run.recorded")
	return nil
}

// fileSize returns the size of the file at path, fsyncing it first with
// sync.
func fileSize(path string, sync bool) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if sync {
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// writeFileAtomic writes data to path through a temporary file renamed
// into place; with sync the file is fsynced before the rename and the
// folder after.
func writeFileAtomic(path string, data []byte, sync bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if !sync {
		return nil
	}
	return syncDir(filepath.Dir(path))
}

// reusedRuns is what a resumed sink takes over from the runs of the run
// before: per partition, the runs it reuses, and per (task, partition)
// how much of the result they hold.
type reusedRuns struct {
	paths     [][]string          // per partition, in run order
	whole     []map[uint64]bool   // per partition: results held in whole
	head      []map[uint64]uint64 // per partition: pairs held of results held in part
	keys      []int64             // per partition: keys in the reused runs' tables, added up (an estimate)
	discarded []string            // why runs were discarded, for the log
	results   int                 // results held in whole, all partitions
	spills    []string            // spill files of results not merged again, removed at commit
}

// RunsReused is what a resumed [KeyedSink] took over from the spilled runs
// of the run before it.
type RunsReused struct {
	// Runs counts the runs reused; Results the (task, partition) results
	// they hold in whole, which the sink does not merge again, and Partial
	// those they hold in part, whose remaining pairs it merges.
	Runs, Results, Partial int
	// Discarded says, for each run not reused, why (missing or torn
	// manifest, a file cut short, other settings).
	Discarded []string
}

// Reused says what the sink took over from the runs of an interrupted
// run of its job; zero unless KeyedConfig.Resume.
func (s *KeyedSink) Reused() RunsReused {
	if s.reused == nil {
		return RunsReused{}
	}
	r := RunsReused{Results: s.reused.results, Discarded: s.reused.discarded}
	for p := range s.reused.paths {
		r.Runs += len(s.reused.paths[p])
		r.Partial += len(s.reused.head[p])
	}
	return r
}

// loadRuns finds the runs in cfg.WorkDir that a resume of the job can
// reuse and removes every other run file there. Partition p reuses its
// runs 0, 1, ... up to the first that is not valid: a manifest that
// decodes, was written for this job under the same fold, key order and
// partitions, names its run, and a run file of the manifest's size that
// reads to its end marker. Runs after an invalid one are discarded too, so
// that what the reused runs hold of each result is a prefix of its pairs.
func loadRuns(cfg KeyedConfig) (*reusedRuns, error) {
	rr := &reusedRuns{
		paths: make([][]string, cfg.Partitions), whole: make([]map[uint64]bool, cfg.Partitions),
		head: make([]map[uint64]uint64, cfg.Partitions), keys: make([]int64, cfg.Partitions),
	}
	keep := map[string]bool{}
	want := runManifest{Job: cfg.Fingerprint, Fold: cfg.Fold.Name(), Keys: keysSetting(cfg.Keys), Partitions: cfg.Partitions}
	for p := range cfg.Partitions {
		rr.whole[p], rr.head[p] = map[uint64]bool{}, map[uint64]uint64{}
		for seq := 0; ; seq++ {
			path := filepath.Join(cfg.WorkDir, foldRunName(p, seq))
			m, err := checkRun(path, want, p, seq, rr.whole[p])
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if err != nil {
				rr.discarded = append(rr.discarded, err.Error())
				break
			}
			for _, t := range m.Tasks {
				if t.Done {
					rr.whole[p][t.Index] = true
					delete(rr.head[p], t.Index)
				} else {
					rr.head[p][t.Index] += t.Pairs
				}
			}
			rr.paths[p] = append(rr.paths[p], path)
			keep[path], keep[path+manifestSuffix] = true, true
		}
		rr.results += len(rr.whole[p])
	}
	if err := removeFoldRunsBut(cfg.WorkDir, keep); err != nil {
		return nil, err
	}
	return rr, nil
}

// checkRun loads the manifest of the run at path and checks it and the
// run against want, for run seq of partition p. whole holds the results
// the partition's earlier runs hold in whole, none of which may appear
// again. It returns an error wrapping os.ErrNotExist when the partition
// has no such run nor manifest.
func checkRun(path string, want runManifest, p, seq int, whole map[uint64]bool) (*runManifest, error) {
	data, err := os.ReadFile(path + manifestSuffix)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(path); serr == nil {
			return nil, fmt.Errorf("run %s: no manifest (the run was cut short by the crash)", filepath.Base(path))
		}
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("run %s: reading its manifest: %w", filepath.Base(path), err)
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", filepath.Base(path), err)
	}
	switch {
	case m.Job != want.Job:
		return nil, fmt.Errorf("run %s: written for another job (%q)", m.Run, m.Job)
	case m.Fold != want.Fold || m.Keys != want.Keys || m.Partitions != want.Partitions:
		return nil, fmt.Errorf("run %s: written with other settings (reduce %s, keys %s, %d partitions)", m.Run, m.Fold, m.Keys, m.Partitions)
	case m.Partition != p || m.Seq != seq:
		return nil, fmt.Errorf("run %s: its manifest is that of run %d of partition %d", filepath.Base(path), m.Seq, m.Partition)
	}
	for _, t := range m.Tasks {
		if whole[t.Index] {
			return nil, fmt.Errorf("run %s: task %d is held in whole by an earlier run", m.Run, t.Index)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", m.Run, err)
	}
	if st.Size() != m.Size {
		return nil, fmt.Errorf("run %s: %d bytes, its manifest says %d (cut short or altered)", m.Run, st.Size(), m.Size)
	}
	if err := readToEnd(path); err != nil {
		return nil, fmt.Errorf("run %s: %w", m.Run, err)
	}
	return m, nil
}

// readToEnd reads the run at path to its end marker.
func readToEnd(path string) error {
	r, err := runfile.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		_, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// removeFoldRunsBut removes the runs a fold spilled in dir, their
// manifests and the merges' runs, but for the files named in keep.
func removeFoldRunsBut(dir string, keep map[string]bool) error {
	old, err := filepath.Glob(filepath.Join(dir, "fold-p*.run*"))
	if err != nil {
		return err
	}
	merged, _ := filepath.Glob(filepath.Join(dir, "merge-*.run*"))
	for _, p := range append(old, merged...) {
		if keep[p] {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing stale run: %w", err)
		}
	}
	return nil
}

// adopt makes the reused runs the sink's first spilled runs.
func (s *KeyedSink) adopt(rr *reusedRuns) {
	s.reused = rr
	for p := range rr.paths {
		s.spills[p] = append(s.spills[p], rr.paths[p]...)
	}
}

// heldWhole reports whether a reused run holds r in whole: the sink does
// not merge it again.
func (s *KeyedSink) heldWhole(r *schema.Result) bool {
	return s.reused != nil && s.reused.whole[r.Partition][r.Index]
}

// heldPairs is how many pairs of r, from its first, the reused runs hold.
func (s *KeyedSink) heldPairs(r *schema.Result) uint64 {
	if s.reused == nil {
		return 0
	}
	return s.reused.head[r.Partition][r.Index]
}

// Skips tells the reducer that a result held in whole by a reused run
// needs no fetching.
func (s *KeyedSink) Skips(r *schema.Result) bool { return s.heldWhole(r) }

// passOver records a result held in whole by a reused run, which is not
// merged again: its spill file goes with the others once the output is
// complete. Called from Merge's goroutine.
func (s *KeyedSink) passOver(r *schema.Result) {
	if r.Spill != "" {
		s.reused.spills = append(s.reused.spills, r.Spill)
	}
}

// removeReusedSpills removes the spill files of results passed over.
func (s *KeyedSink) removeReusedSpills() {
	if s.reused == nil {
		return
	}
	for _, p := range s.reused.spills {
		os.Remove(p)
	}
}

// keepForResume keeps the sink's recorded runs for a resume when it is
// suspended: each partition's kept runs are merged into a recorded run
// and its table spilled as one more (unless a lane failed, when the
// tables may hold part of a result), and what has no manifest is removed.
func (s *KeyedSink) keepForResume(lanesOK bool) error {
	var errs []error
	if lanesOK {
		for p, t := range s.tables {
			if len(s.kept[p]) > 0 {
				if err := s.mergeKept(p); err != nil {
					errs = append(errs, err)
					break
				}
			}
			if t == nil || t.Len() == 0 {
				continue
			}
			if err := s.spill(p); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	for _, runs := range s.kept {
		for _, k := range runs {
			if k.own {
				os.Remove(k.path)
			}
		}
	}
	keep := map[string]bool{}
	for p := range s.spills {
		for _, path := range s.spills[p] {
			if _, err := os.Stat(path + manifestSuffix); err == nil {
				keep[path], keep[path+manifestSuffix] = true, true
			}
		}
	}
	return errors.Join(append(errs, removeFoldRunsBut(s.cfg.WorkDir, keep))...)
}

// keptTasks lists the results of kept runs, each in whole.
func keptTasks(kept []keptRun) []runTask {
	tasks := make([]runTask, len(kept))
	for i, k := range kept {
		tasks[i] = runTask{Index: k.index, Done: true}
	}
	return tasks
}
