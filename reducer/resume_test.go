package reducer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/jetmr/jetmr/fold"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// resumeFixture is a keyed job's results and the part files an
// uninterrupted reduce of them writes.
type resumeFixture struct {
	fold    fold.Fold
	parts   int
	results []*schema.Result
	want    []string // part files
}

// newResumeFixture makes the results of tasks tasks of up to about
// pairs pairs each.
func newResumeFixture(t *testing.T, f fold.Fold, parts int, seed uint64, tasks, pairs int) resumeFixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, uint64(parts)))
	fx := resumeFixture{fold: f, parts: parts}
	want := map[string]fold.Accumulator{}
	for i := range uint64(tasks) {
		fx.results = append(fx.results, randomTaskRuns(t, rng, f, i, parts, pairs/3+rng.IntN(pairs), 2000, want)...)
	}
	parent := t.TempDir()
	s, err := reducer.NewKeyedSink(reducer.KeyedConfig{Dir: filepath.Join(parent, "out"), Job: "ref", Partitions: parts, Fold: f})
	if err != nil {
		t.Fatal(err)
	}
	fx.merge(t, s, len(fx.results))
	if err := s.Commit(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	fx.want = partFiles(t, filepath.Join(parent, "out"), parts)
	return fx
}

// merge hands s the first n results, as a reducer replaying the results
// stream does.
func (fx resumeFixture) merge(t *testing.T, s *reducer.KeyedSink, n int) {
	t.Helper()
	for _, r := range fx.results[:n] {
		c := *r
		if _, err := s.Merge(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
	}
}

func partFiles(t *testing.T, dir string, parts int) []string {
	t.Helper()
	var files []string
	for p := range parts {
		data, err := os.ReadFile(filepath.Join(dir, reducer.PartName(p)))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, string(data))
	}
	return files
}

// resumeConfig is the config of a sink of job "resumejob" in parent.
func resumeConfig(parent string, f fold.Fold, parts int, memory int64) reducer.KeyedConfig {
	return reducer.KeyedConfig{
		Dir: filepath.Join(parent, "out"), Job: "resumejob", Partitions: parts, Fold: f,
		WorkDir: filepath.Join(parent, "work"), Memory: memory, FanIn: 3,
		Fingerprint: "resumejob@1",
	}
}

// TestKeyedSinkResumeReusesRuns folds part of a job's results under a
// budget that spills runs (often in the middle of a result), stops as a
// crash or a Suspend would, then resumes with every result replayed from
// the first: the output must be byte for byte that of an uninterrupted
// reduce, and the resumed sink must have reused runs, merging again only
// what they do not hold.
func TestKeyedSinkResumeReusesRuns(t *testing.T) {
	t.Parallel()
	for _, f := range []fold.Fold{fold.Sum, fold.Count, fold.Min, fold.Max, fold.Concat} {
		for _, parts := range []int{1, 3} {
			for _, tc := range []struct {
				name         string
				memory       int64
				keep         bool
				suspend      bool
				tasks, pairs int
			}{
				// A run spilled after every pair: most results are split
				// between runs.
				{"crash, tiny budget", 1, false, false, 6, 30},
				{"crash, small budget", 32 << 10, false, false, 30, 120},
				{"crash, kept runs", 32 << 10, true, false, 30, 120},
				{"suspend", 32 << 10, false, true, 30, 120},
				{"suspend, kept runs", 32 << 10, true, true, 30, 120},
			} {
				t.Run(fmt.Sprintf("%s/%d/%s", f.Name(), parts, tc.name), func(t *testing.T) {
					t.Parallel()
					fx := newResumeFixture(t, f, parts, uint64(len(f.Name())), tc.tasks, tc.pairs)
					parent := t.TempDir()
					cfg := resumeConfig(parent, f, parts, tc.memory*int64(parts))
					first, err := reducer.NewKeyedSink(cfg)
					if err != nil {
						t.Fatal(err)
					}
					if tc.keep {
						reducer.SetKeep(first, 1, 3)
					}
					half := len(fx.results) * 2 / 3
					fx.merge(t, first, half)
					if tc.suspend {
						if err := first.Suspend(context.Background()); err != nil {
							t.Fatal(err)
						}
					} else {
						reducer.Crash(first)
					}
					cfg.Resume = true
					second, err := reducer.NewKeyedSink(cfg)
					if err != nil {
						t.Fatal(err)
					}
					got := second.Reused()
					if got.Runs == 0 || got.Results == 0 || len(got.Discarded) > 0 {
						t.Fatalf("reused %+v, want runs reused and none discarded", got)
					}
					if tc.suspend && got.Results != half {
						t.Errorf("after a Suspend the runs hold %d results in whole, want all %d merged", got.Results, half)
					}
					fx.merge(t, second, len(fx.results))
					if err := second.Commit(context.Background(), false); err != nil {
						t.Fatal(err)
					}
					if files := partFiles(t, cfg.Dir, parts); !slices.Equal(files, fx.want) {
						t.Errorf("output after reusing %+v differs from an uninterrupted reduce", got)
					}
					if _, err := os.Stat(cfg.WorkDir); !os.IsNotExist(err) {
						t.Errorf("the work folder is left: %v", err)
					}
				})
			}
		}
	}
}

// TestKeyedSinkResumeTwice crashes a sink, crashes its resume after it
// spilled runs of its own (continuing results the reused runs hold in
// part), and resumes again: the second resume reuses the runs of both,
// and the output is that of an uninterrupted reduce.
func TestKeyedSinkResumeTwice(t *testing.T) {
	t.Parallel()
	for _, memory := range []int64{1, 32 << 10} {
		t.Run(fmt.Sprint(memory), func(t *testing.T) {
			t.Parallel()
			tasks, pairs := 30, 120
			if memory == 1 {
				tasks, pairs = 6, 30
			}
			fx := newResumeFixture(t, fold.Sum, 2, 17, tasks, pairs)
			parent := t.TempDir()
			cfg := resumeConfig(parent, fold.Sum, 2, memory*2)
			var reused []int
			for i, upTo := range []int{len(fx.results) / 3, len(fx.results) * 2 / 3} {
				s, err := reducer.NewKeyedSink(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if i > 0 {
					reused = append(reused, s.Reused().Runs)
				}
				fx.merge(t, s, upTo)
				reducer.Crash(s)
				cfg.Resume = true
			}
			s, err := reducer.NewKeyedSink(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Reused()
			if len(got.Discarded) > 0 || got.Runs <= reused[0] || reused[0] == 0 {
				t.Fatalf("second resume reused %+v, the first %d runs: want more runs, none discarded", got, reused[0])
			}
			fx.merge(t, s, len(fx.results))
			if err := s.Commit(context.Background(), false); err != nil {
				t.Fatal(err)
			}
			if files := partFiles(t, cfg.Dir, 2); !slices.Equal(files, fx.want) {
				t.Errorf("output after two resumes differs from an uninterrupted reduce")
			}
		})
	}
}

// TestKeyedSinkResumeDiscardsBadRuns damages the runs a stopped sink left
// (a torn manifest, a manifest gone, a run file cut short, a manifest
// written under other settings or for another job) and checks that the
// resumed sink discards the damaged run and every later run of its
// partition, says why, and still writes the output of an uninterrupted
// reduce; a resume under other settings reuses nothing.
func TestKeyedSinkResumeDiscardsBadRuns(t *testing.T) {
	t.Parallel()
	const parts = 1
	fx := newResumeFixture(t, fold.Sum, parts, 5, 30, 120)
	// runs names partition 0's runs in order.
	runs := func(work string) []string {
		var paths []string
		for seq := 0; ; seq++ {
			p := filepath.Join(work, fmt.Sprintf("fold-p0-%d.run", seq))
			if _, err := os.Stat(p); err != nil {
				return paths
			}
			paths = append(paths, p)
		}
	}
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, run string)
		other   func(cfg *reducer.KeyedConfig) // settings of the resume
		keep    int                            // runs reused: -1 none, else the damaged run's number
		because string
	}{
		{name: "torn manifest", keep: 2, because: "checksum", damage: func(t *testing.T, run string) {
			data, err := os.ReadFile(run + ".manifest")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(run+".manifest", data[:len(data)/2], 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "manifest missing", keep: 2, because: "no manifest", damage: func(t *testing.T, run string) {
			if err := os.Remove(run + ".manifest"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "run cut short", keep: 2, because: "cut short", damage: func(t *testing.T, run string) {
			st, err := os.Stat(run)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(run, st.Size()-3); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "run damaged at its size", keep: 2, because: "corrupt run file", damage: func(t *testing.T, run string) {
			data, err := os.ReadFile(run)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)-1] ^= 0x7f // the pair count
			if err := os.WriteFile(run, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "other fold", keep: -1, because: "other settings", other: func(cfg *reducer.KeyedConfig) { cfg.Fold = fold.Max }},
		{name: "other partitions", keep: -1, because: "other settings", other: func(cfg *reducer.KeyedConfig) { cfg.Partitions = 2 }},
		{name: "other job", keep: -1, because: "another job", other: func(cfg *reducer.KeyedConfig) { cfg.Fingerprint = "resumejob@2" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			cfg := resumeConfig(parent, fold.Sum, parts, 32<<10)
			first, err := reducer.NewKeyedSink(cfg)
			if err != nil {
				t.Fatal(err)
			}
			fx.merge(t, first, len(fx.results)*2/3)
			reducer.Crash(first)
			before := runs(cfg.WorkDir)
			if len(before) < 4 {
				t.Fatalf("%d runs spilled, want at least 4", len(before))
			}
			if tc.damage != nil {
				tc.damage(t, before[tc.keep])
			}
			cfg.Resume = true
			if tc.other != nil {
				tc.other(&cfg)
			}
			second, err := reducer.NewKeyedSink(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := second.Reused()
			if want := max(tc.keep, 0); got.Runs != want {
				t.Errorf("%d runs reused, want %d", got.Runs, want)
			}
			if len(got.Discarded) != 1 || !strings.Contains(got.Discarded[0], tc.because) {
				t.Errorf("discarded %q, want one run discarded because of %q", got.Discarded, tc.because)
			}
			for _, later := range before[max(tc.keep, 0):] {
				if _, err := os.Stat(later); !os.IsNotExist(err) {
					t.Errorf("run %s not reused but left in the work folder", filepath.Base(later))
				}
			}
			want := fx.want
			if tc.other != nil {
				// Other settings have another output: an
				// uninterrupted reduce under the resume's settings.
				ref := cfg
				ref.Dir, ref.Job, ref.WorkDir, ref.Resume, ref.Fingerprint = filepath.Join(parent, "ref"), "ref", "", false, ""
				s, err := reducer.NewKeyedSink(ref)
				if err != nil {
					t.Fatal(err)
				}
				fx.merge(t, s, len(fx.results))
				if err := s.Commit(context.Background(), false); err != nil {
					t.Fatal(err)
				}
				want = partFiles(t, ref.Dir, parts)
			}
			fx.merge(t, second, len(fx.results))
			if err := second.Commit(context.Background(), false); err != nil {
				t.Fatal(err)
			}
			if files := partFiles(t, cfg.Dir, parts); !slices.Equal(files, want) {
				t.Errorf("output differs from an uninterrupted reduce")
			}
		})
	}
}

// TestKeyedSinkNotResumingRemovesRuns checks that a sink that does not
// resume removes the recorded runs it finds, and that one without a
// fingerprint records none.
func TestKeyedSinkNotResumingRemovesRuns(t *testing.T) {
	t.Parallel()
	fx := newResumeFixture(t, fold.Count, 2, 9, 30, 120)
	for _, tc := range []struct {
		name        string
		fingerprint string
		manifests   bool
	}{{"recorded", "resumejob@1", true}, {"no fingerprint", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			cfg := resumeConfig(parent, fold.Count, 2, 64<<10)
			cfg.Fingerprint = tc.fingerprint
			first, err := reducer.NewKeyedSink(cfg)
			if err != nil {
				t.Fatal(err)
			}
			fx.merge(t, first, len(fx.results)/2)
			reducer.Crash(first)
			manifests, _ := filepath.Glob(filepath.Join(cfg.WorkDir, "*.manifest"))
			if (len(manifests) > 0) != tc.manifests {
				t.Fatalf("%d manifests written, want some: %v", len(manifests), tc.manifests)
			}
			second, err := reducer.NewKeyedSink(cfg) // not Resume
			if err != nil {
				t.Fatal(err)
			}
			if got := second.Reused(); got.Runs != 0 {
				t.Errorf("a sink not resuming reused %+v", got)
			}
			if left, _ := filepath.Glob(filepath.Join(cfg.WorkDir, "fold-*")); len(left) > 0 {
				t.Errorf("runs left: %q", left)
			}
			fx.merge(t, second, len(fx.results))
			if err := second.Commit(context.Background(), false); err != nil {
				t.Fatal(err)
			}
			if files := partFiles(t, cfg.Dir, 2); !slices.Equal(files, fx.want) {
				t.Errorf("output differs from an uninterrupted reduce")
			}
		})
	}
}

// TestKeyedSinkRecordOnFullDisk makes the first run's manifest land on a
// full disk and checks that the error says so and names the work folder
// and --store, and that no output appears.
func TestKeyedSinkRecordOnFullDisk(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	parent := t.TempDir()
	cfg := resumeConfig(parent, fold.Sum, 1, 1)
	s, err := reducer.NewKeyedSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(cfg.WorkDir, "fold-p0-0.run.manifest.tmp")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = s.Merge(ctx, keyedRun(t, 0, 0, map[string]string{"a": "1", "b": "2", "c": "3"}))
	if err == nil {
		err = s.Commit(ctx, false)
	} else {
		s.Abort()
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v, want one wrapping ENOSPC", err)
	}
	for _, w := range []string{"work folder", "--store"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q: %v", w, err)
		}
	}
	if names := dirNames(t, parent); slices.Contains(names, "out") {
		t.Errorf("output published after a failed record: %q", names)
	}
}
