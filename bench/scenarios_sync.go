package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// syncChunk is the chunk size of the sync scenario's tiny-task workload:
// one task per 4 KiB, so that a per-ack fsync weighs on every task.
const syncChunk = "4KiB"

// syncPolicies are the values of jetmr's --sync, the policy of the
// baseline (the NATS default) first.
var syncPolicies = []string{"interval", "always"}

// syncWorkload is one job of the sync scenario, run under each policy.
type syncWorkload struct {
	name string
	// args are jetmr's arguments after the subcommand and --sync, writing
	// to out.
	args func(out string) []string
	// check verifies the output of a run and removes it.
	check func(out string) error
	// byPolicy holds a contender per --sync value.
	byPolicy map[string]*Contender
}

// runSync measures what --sync always (fsync before every JetStream ack,
// and of the outputs) costs over --sync interval on the wordcount and pipe
// scenarios' jobs (256 MiB and 16 MiB at scale 1) and on tiny tasks: --map
// lines --reduce sum in 4 KiB chunks of 16 MiB. The two policies run back
// to back per job, their order swapped every repetition; outputs are
// checked as in the wordcount, pipe and tiny scenarios.
func runSync(b *bench, s *Scenario) error {
	wcIn, err := b.input(b.size(256 * MiB))
	if err != nil {
		return err
	}
	smallIn, err := b.input(b.size(16 * MiB))
	if err != nil {
		return err
	}
	s.Input = fmt.Sprintf("%s of generated text (wordcount), %s (pipe sed -E '%s'; lines in %s chunks)",
		humanBytes(fileSize(wcIn)), humanBytes(fileSize(smallIn)), sedScript, syncChunk)

	progress("sync: reference outputs")
	wantCounts, err := limitWordcount(b.ctx, wcIn, runtime.NumCPU())
	if err != nil {
		return err
	}
	ref := b.fresh("sync-sed-reference")
	defer os.Remove(ref)
	if _, err := runProc(b.ctx, smallIn, ref, "sed", "-E", sedScript); err != nil {
		return err
	}
	lines, err := countLines(smallIn)
	if err != nil {
		return err
	}

	workloads := []*syncWorkload{
		{
			name: "wordcount " + humanBytes(b.size(256*MiB)),
			args: func(out string) []string {
				return []string{"mapreduce", "--map", "wordcount", "--reduce", "sum", "-i", wcIn, "-o", out}
			},
			check: func(out string) error {
				defer os.RemoveAll(out)
				got, err := readParts(out)
				if err != nil {
					return err
				}
				return compareCounts("jetmr", got, "the limit", wantCounts)
			},
		},
		{
			name: "pipe sed " + humanBytes(b.size(16*MiB)),
			args: func(out string) []string {
				return []string{"pipe", "-i", smallIn, "-o", out, "--", "sed", "-E", sedScript}
			},
			check: func(out string) error { return checkSame("jetmr pipe", out, ref) },
		},
		{
			name: "lines " + syncChunk + " chunks " + humanBytes(b.size(16*MiB)),
			args: func(out string) []string {
				return []string{"mapreduce", "--map", "lines", "--reduce", "sum", "--chunk-size", syncChunk, "-i", smallIn, "-o", out}
			},
			check: func(out string) error {
				defer os.RemoveAll(out)
				got, err := readLinesCount(out)
				if err != nil {
					return err
				}
				if got != lines {
					return fmt.Errorf("COUNTS DIFFER: jetmr counted %d lines, the file has %d", got, lines)
				}
				return nil
			},
		},
	}
	for _, w := range workloads {
		w.byPolicy = map[string]*Contender{}
		for _, policy := range syncPolicies {
			c := &Contender{Name: w.name + ", --sync " + policy, Jetmr: true}
			w.byPolicy[policy] = c
			s.Contenders = append(s.Contenders, c)
		}
	}

	for rep := 1; rep <= b.n; rep++ {
		for _, w := range workloads {
			for i := range syncPolicies {
				// Swap the order every repetition: neither policy always
				// runs on the caches the other left.
				policy := syncPolicies[(i+rep-1)%len(syncPolicies)]
				out := b.fresh("sync-out")
				args := w.args(out)
				args = append([]string{args[0], "--sync", policy}, args[1:]...)
				res, report, err := b.runJetmr(args...)
				if err != nil {
					os.RemoveAll(out)
					return err
				}
				if err := w.check(out); err != nil {
					return fmt.Errorf("%s, --sync %s: %w", w.name, policy, err)
				}
				w.byPolicy[policy].add(sampleOf(res, report))
				progress("sync %d/%d %s, --sync %s: %.3fs (%d tasks, job wall %.3fs)", rep, b.n, w.name, policy, res.Wall.Seconds(), report.Tasks, report.WallSeconds)
			}
		}
	}

	s.Checks = append(s.Checks, "wordcount counts equal the in-process limit's, pipe outputs are byte-identical to sequential sed's, line counts equal the file's, in every run")
	for _, w := range workloads {
		always, interval := w.byPolicy["always"], w.byPolicy["interval"]
		s.metric(w.name+": always / interval", always.MedianSeconds()/interval.MedianSeconds(), "", nil)
	}
	tiny := workloads[len(workloads)-1]
	tasks := median(tiny.byPolicy["always"].Samples, func(x Sample) float64 { return float64(x.Report.Tasks) })
	s.metric(tiny.name+": fsync cost per task, (always - interval) / tasks",
		1e6*(tiny.byPolicy["always"].MedianSeconds()-tiny.byPolicy["interval"].MedianSeconds())/tasks, "µs", nil)
	s.Notes = append(s.Notes, fmt.Sprintf("the stores are on %s (the work directory %s): fsync costs what that file system and its device make it cost, nothing on tmpfs", fsType(b.dir), b.dir))
	return nil
}

// fsType names the file system path is on, or gives its magic number.
func fsType(path string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "an unknown file system"
	}
	names := map[int64]string{
		0xef53:     "ext2/3/4",
		0x01021994: "tmpfs",
		0x58465342: "xfs",
		0x9123683e: "btrfs",
		0x794c7630: "overlayfs",
		0x2fc12fc1: "zfs",
		0x6969:     "nfs",
	}
	if name, ok := names[int64(st.Type)]; ok {
		return name
	}
	return fmt.Sprintf("a file system of type %#x", st.Type)
}
