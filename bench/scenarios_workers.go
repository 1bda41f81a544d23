package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Targets of the workers scenario.
const (
	ioEfficiencyTarget   = 0.90 // speedup of 4 workers over 1, divided by 4
	workersVsLocalTarget = 1.15 // 2 worker processes / the embedded run
	shipCPUTarget        = 2.0  // CPU-seconds per GiB shipped to workers
	submitterShareTarget = 0.15 // the submitter's share of a 4-worker run's CPU
)

// ioTasks is how many 20 ms tasks the IO-bound part runs.
const ioTasks = 4000

// runWorkers measures worker processes joined through a NATS server on
// loopback: IO-bound tasks (each waits 20 ms, in a Go map function of a
// worker binary, so that no process is spawned per task) on 1, 2 and 4
// workers of 8 slots, and the 256 MiB word count on 2 and 4 `jetmr worker`
// processes against the embedded single-process run, with chunks shipped
// to the workers (--transport object, the default with --nats) and as byte
// ranges of a shared file (--transport shared); then the same input
// counted by lines, a map function that costs next to nothing, to measure
// what shipping chunks costs, on the submitter's direct path and over
// NATS. Jobs are submitted with --local-workers 0, so every task runs in a
// worker process.
func runWorkers(b *bench, s *Scenario) error {
	url, shutdown, err := benchNATS(b.fresh("nats"))
	if err != nil {
		return err
	}
	defer shutdown()
	if err := runIOWorkers(b, s, url); err != nil {
		return err
	}
	return runWordcountWorkers(b, s, url)
}

// runWordcountOnWorkers is the word count part of the workers scenario
// alone.
func runWordcountOnWorkers(b *bench, s *Scenario) error {
	url, shutdown, err := benchNATS(b.fresh("nats"))
	if err != nil {
		return err
	}
	defer shutdown()
	s.Input = fmt.Sprintf("%s of generated text", humanBytes(b.size(256*MiB)))
	return runWordcountWorkers(b, s, url)
}

func runIOWorkers(b *bench, s *Scenario, url string) error {
	sleeper, err := buildSleepWorker(b)
	if err != nil {
		return err
	}
	in := b.fresh("io-items")
	line := strings.Repeat("x", 1023) + "\n"
	if err := os.WriteFile(in, []byte(strings.Repeat(line, ioTasks)), 0o644); err != nil {
		return err
	}
	defer os.Remove(in)
	counts := []int{1, 2, 4}
	var cs []*Contender
	for _, n := range counts {
		cs = append(cs, &Contender{Name: fmt.Sprintf("%d worker(s) of 8 slots: mapreduce --map sleep20ms --chunk-size 1KiB", n), Jetmr: true})
	}
	s.Input = fmt.Sprintf("%d tasks that each wait 20 ms (a Go map function of a worker binary, bench/sleepworker); %s of generated text", ioTasks, humanBytes(b.size(256*MiB)))
	s.Contenders = append(s.Contenders, cs...)
	for rep := 1; rep <= b.n; rep++ {
		for i, n := range counts {
			pool, err := startBenchWorkers(b, n, 0, sleeper, url, "8")
			if err != nil {
				return err
			}
			out := b.fresh("io-out")
			res, report, err := b.runJetmr("mapreduce", "--nats", url, "--local-workers", "0", "--chunk-size", "1KiB",
				"--map", "sleep20ms", "--reduce", "sum", "-i", in, "-o", out)
			if err == nil {
				err = checkTaskCount(out, ioTasks)
			}
			os.RemoveAll(out)
			if _, serr := pool.stop(); err == nil {
				err = serr
			}
			if err != nil {
				return err
			}
			cs[i].add(sampleOf(res, report))
			progress("workers io %d/%d, %d worker(s): job wall %.3fs, %d tasks", rep, b.n, n, report.WallSeconds, report.Tasks)
		}
	}
	s.Checks = append(s.Checks, fmt.Sprintf("every IO-bound run counted its %d tasks once", ioTasks))
	jobWall := func(c *Contender) float64 {
		return median(c.Samples, func(x Sample) float64 { return x.Report.WallSeconds })
	}
	for i, n := range counts[1:] {
		eff := jobWall(cs[0]) / jobWall(cs[i+1]) / float64(n)
		var target *Target
		if n == 4 {
			target = &Target{Op: ">=", Value: ioEfficiencyTarget}
		}
		s.metric(fmt.Sprintf("IO-bound efficiency at %d workers (job wall of 1 worker / job wall / %d)", n, n), eff, "", target)
	}
	for i, n := range counts {
		ideal := ioTasks * 0.02 / float64(8*n)
		s.metric(fmt.Sprintf("IO-bound, %d worker(s): ideal (tasks x 20 ms / slots) / job wall", n), ideal/jobWall(cs[i]), "", nil)
	}
	return nil
}

// checkTaskCount checks the sum the sleep20ms job wrote: one per task.
func checkTaskCount(dir string, want int) error {
	got, err := readParts(dir)
	if err != nil {
		return err
	}
	if got["tasks"] != int64(want) {
		return fmt.Errorf("COUNTS DIFFER: the IO-bound job counted %d tasks, want %d", got["tasks"], want)
	}
	return nil
}

// buildSleepWorker builds bench/sleepworker next to the jetmr binary.
func buildSleepWorker(b *bench) (string, error) {
	bin := filepath.Join(filepath.Dir(b.jetmr), "sleepworker")
	cmd := exec.CommandContext(b.ctx, "go", "build", "-o", bin, "./bench/sleepworker")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building bench/sleepworker (run the bench from the module root): %w%s", err, indentTail(stderr.String()))
	}
	return bin, nil
}

// workerCounts are the numbers of worker processes the word count runs on.
var workerCounts = []int{2, 4}

func runWordcountWorkers(b *bench, s *Scenario, url string) error {
	size := b.size(256 * MiB)
	in, err := b.input(size)
	if err != nil {
		return err
	}
	// sharedReduce is --transport shared with the partitions reduced on
	// the workers (--reduce-on-workers).
	transports := []string{"object", "shared", sharedReduce}
	local, remote, err := runOnWorkers(b, s, url, in, "wordcount", transports)
	if err != nil {
		return err
	}
	s.Checks = append(s.Checks, "the word counts of the runs on workers equal the embedded run's")
	s.Notes = append(s.Notes, "the worker processes run from one job to the next, as on a cluster: started once for each count, the first job they run is shown apart, the runs on workers are the jobs that follow; "+
		"each of n worker processes stands for a machine with 1/n of the cores: -j and GOMAXPROCS of cores/n (at least 1); "+
		"CPU is user + system time: the submitter's from wait4, each worker's from /proc/PID/stat before and after the job, the NATS server's as the bench process's own during the run (it runs the server); "+
		"wordcount: CPU-s per GiB shipped is, per GiB of input, the median over repetitions of the total CPU (submitter + workers + server) of the --transport object run minus that of the --transport shared run of the same repetition on as many workers, which ships no bytes; "+
		"over embedded is the median total CPU of the run on workers minus the embedded run's, per GiB")
	cpu := func(x Sample) float64 { return x.CPUSeconds }
	gib := float64(size) / GiB
	for _, n := range workerCounts {
		for _, tr := range transports {
			c, flags := remote[workerRun{n, tr}], strings.Join(transportArgs(tr), " ")
			var target *Target
			if n == 2 {
				target = &Target{Op: "<=", Value: workersVsLocalTarget}
			}
			s.metric(fmt.Sprintf("wordcount: %d workers %s / embedded (wall)", n, flags), c.MedianSeconds()/local.MedianSeconds(), "", target)
			s.metric(fmt.Sprintf("wordcount: %d workers %s: CPU-s per GiB over embedded", n, flags),
				(median(c.Samples, totalCPU)-median(local.Samples, cpu))/gib, "CPU-s/GiB", nil)
			var shareTarget *Target
			if n == 4 {
				shareTarget = &Target{Op: "<=", Value: submitterShareTarget}
			}
			s.metric(fmt.Sprintf("wordcount: %d workers %s: submitter CPU / all CPU", n, flags),
				median(c.Samples, func(x Sample) float64 { return x.CPUSeconds / totalCPU(x) }), "", shareTarget)
			for _, part := range []struct {
				name string
				f    func(Sample) float64
			}{{"submitter", cpu}, {"workers", func(x Sample) float64 { return x.WorkerCPUSeconds }}, {"server", func(x Sample) float64 { return x.ServerCPUSeconds }}} {
				s.metric(fmt.Sprintf("wordcount: %d workers %s: CPU-s of the %s", n, flags, part.name), median(c.Samples, part.f), "CPU-s", nil)
			}
		}
		s.metric(fmt.Sprintf("wordcount: %d workers: CPU-s per GiB shipped (object - shared)", n),
			pairedDiff(remote[workerRun{n, "object"}].Samples, remote[workerRun{n, "shared"}].Samples, totalCPU)/gib, "CPU-s/GiB",
			&Target{Op: "<=", Value: shipCPUTarget})
	}
	return runLinesWorkers(b, s, url, in, size)
}

// workerRun names a run on workers: how many, and the transport.
type workerRun struct {
	n  int
	tr string
}

// totalCPU is a sample's CPU: the submitter's, the workers' and the
// server's.
func totalCPU(x Sample) float64 { return x.CPUSeconds + x.WorkerCPUSeconds + x.ServerCPUSeconds }

// runOnWorkers runs mapreduce with the built-in map function mapFn and
// the sum reduce over in embedded, and on each count of worker processes
// with each of transports, checking the workers' counts against the
// embedded run's. It adds the contenders to s and returns them.
//
// Worker processes run as they do on a cluster: started once for each
// count, they wait for jobs and take every job that follows. The first
// job on the fresh processes is measured apart (its own contender); then
// each of b.n repetitions runs the embedded job and one job on the
// workers for each transport, in turn, so that a drift of the machine's
// load reaches all of them alike.
func runOnWorkers(b *bench, s *Scenario, url, in, mapFn string, transports []string) (*Contender, map[workerRun]*Contender, error) {
	local := &Contender{Name: mapFn + ": embedded, one process (default -j)", Jetmr: true}
	s.Contenders = append(s.Contenders, local)
	remote := map[workerRun]*Contender{}
	first := map[int]*Contender{}
	for _, n := range workerCounts {
		first[n] = &Contender{Name: fmt.Sprintf("%s: the first job on %d fresh worker processes, %s", mapFn, n, strings.Join(transportArgs(transports[0]), " ")), Jetmr: true}
		s.Contenders = append(s.Contenders, first[n])
		for _, tr := range transports {
			c := &Contender{Name: fmt.Sprintf("%s: %d worker processes of %d slot(s) each on loopback, --local-workers 0 --partitions %d %s",
				mapFn, n, workerSlots(n), n, strings.Join(transportArgs(tr), " ")), Jetmr: true}
			remote[workerRun{n, tr}] = c
			s.Contenders = append(s.Contenders, c)
		}
	}
	var want map[string]int64
	embedded := func(rep int) error {
		out := b.fresh(mapFn + "-local")
		res, report, err := b.runJetmr("mapreduce", "--map", mapFn, "--reduce", "sum", "-i", in, "-o", out)
		if err != nil {
			return err
		}
		local.add(sampleOf(res, report))
		got, err := readParts(out)
		os.RemoveAll(out)
		if err != nil {
			return err
		}
		if want == nil {
			want = got
		} else if err := compareCounts(fmt.Sprintf("embedded run %d", rep), got, "the first embedded run", want); err != nil {
			return err
		}
		progress("workers %s %d/%d embedded: %.3fs, %.2f CPU-s", mapFn, rep, b.n, res.Wall.Seconds(), res.CPU.Seconds())
		return nil
	}
	if err := embedded(0); err != nil {
		return nil, nil, err
	}
	for _, n := range workerCounts {
		// Each process stands for a machine with its share of the cores.
		pool, err := startBenchWorkers(b, n, workerSlots(n), b.jetmr, "worker", "--nats", url, "-j", strconv.Itoa(workerSlots(n)), "--log-format", "json", "--spill", filepath.Join(b.dir, "spill"))
		if err != nil {
			return nil, nil, err
		}
		err = jobOnWorkers(b, pool, url, in, mapFn, n, transports[0], 0, first[n], want)
		for rep := 1; rep <= b.n && err == nil; rep++ {
			if err = embedded(rep); err != nil {
				break
			}
			for _, tr := range transports {
				if err = jobOnWorkers(b, pool, url, in, mapFn, n, tr, rep, remote[workerRun{n, tr}], want); err != nil {
					break
				}
			}
		}
		if _, serr := pool.stop(); err == nil {
			err = serr
		}
		if err != nil {
			return nil, nil, err
		}
	}
	for _, n := range workerCounts {
		s.metric(fmt.Sprintf("%s: the first job on %d fresh worker processes / embedded (wall)", mapFn, n), first[n].MedianSeconds()/local.MedianSeconds(), "", nil)
	}
	return local, remote, nil
}

// pairedDiff is the median over runs of f of a's run minus f of b's run
// of the same repetition: a drift of the machine's load between
// repetitions cancels out, which a difference of medians keeps.
func pairedDiff(a, b []Sample, f func(Sample) float64) float64 {
	d := make([]float64, min(len(a), len(b)))
	for i := range d {
		d[i] = f(a[i]) - f(b[i])
	}
	return median(d, func(x float64) float64 { return x })
}

// linesTransports are the transports of the ship-only part: object on
// the submitter's direct path, object over NATS, and shared, which ships
// nothing.
var linesTransports = []string{"object", "object-nats", "shared"}

// runLinesWorkers measures what shipping chunks costs with a map function
// that costs next to nothing (lines counts the chunk's newlines), so that
// the difference between transports is the shipping, not noise of the
// word count: per GiB, the total CPU of a run with --transport object
// minus that of the run with --transport shared of the same repetition.
func runLinesWorkers(b *bench, s *Scenario, url, in string, size int64) error {
	_, remote, err := runOnWorkers(b, s, url, in, "lines", linesTransports)
	if err != nil {
		return err
	}
	s.Checks = append(s.Checks, "the line counts of the runs on workers equal the embedded run's",
		"every --transport object run served its fetched chunks on the direct path alone, or with --data-listen off over NATS alone (the submitter's log)")
	s.Notes = append(s.Notes, "lines: CPU-s per GiB shipped is, per GiB of input, the median over repetitions of the total CPU of the --transport object run minus that of the --transport shared run of the same repetition on as many workers; "+
		"the lines map function counts newlines, so that the difference is the shipping rather than the noise of a costlier map")
	gib := float64(size) / GiB
	for _, n := range workerCounts {
		for _, tr := range linesTransports[:2] {
			var target *Target
			if tr == "object" {
				target = &Target{Op: "<=", Value: shipCPUTarget}
			}
			s.metric(fmt.Sprintf("lines: %d workers %s: CPU-s per GiB shipped (object - shared)", n, strings.Join(transportArgs(tr), " ")),
				pairedDiff(remote[workerRun{n, tr}].Samples, remote[workerRun{n, "shared"}].Samples, totalCPU)/gib, "CPU-s/GiB", target)
		}
	}
	return nil
}

// sharedReduce names, among the word count's transports, --transport
// shared with --reduce-on-workers.
const sharedReduce = "shared-reduce"

// transportArgs are the flags of one of the transports of the word count
// and lines parts; object-nats is --transport object with the chunks
// fetched over NATS rather than on the submitter's direct path.
func transportArgs(tr string) []string {
	switch tr {
	case sharedReduce:
		return []string{"--transport", "shared", "--reduce-on-workers"}
	case "object-nats":
		return []string{"--transport", "object", "--data-listen", "off"}
	}
	return []string{"--transport", tr}
}

// workerSlots is the -j of each of n worker processes: as many slots in
// all as the embedded run has (at least one each), so that the ratio
// measures distribution, not oversubscribed cores.
func workerSlots(n int) int { return max(runtime.NumCPU()/n, 1) }

// jobOnWorkers runs mapreduce with the built-in map function mapFn and
// the sum reduce on the n `jetmr worker` processes of pool, with as many
// reduce partitions as workers, and checks its counts against want.
func jobOnWorkers(b *bench, pool *workerPool, url, in, mapFn string, n int, transport string, rep int, c *Contender, want map[string]int64) error {
	out := b.fresh("wc-remote")
	server, workers := selfCPU(), pool.cpu()
	args := append([]string{"mapreduce", "--nats", url, "--local-workers", "0", "--log-level", "info"}, transportArgs(transport)...)
	res, report, err := b.runJetmr(append(args, "--partitions", strconv.Itoa(n), "--map", mapFn, "--reduce", "sum", "-i", in, "-o", out)...)
	server, workers = selfCPU()-server, pool.cpu()-workers
	if err != nil {
		return err
	}
	if err := checkServed(transport, res.Stderr); err != nil {
		return err
	}
	sample := sampleOf(res, report)
	sample.WorkerCPUSeconds, sample.ServerCPUSeconds = workers.Seconds(), server.Seconds()
	c.add(sample)
	got, err := readParts(out)
	os.RemoveAll(out)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%d workers %s run %d", n, strings.Join(transportArgs(transport), " "), rep)
	if err := compareCounts(what, got, "the embedded run", want); err != nil {
		return err
	}
	progress("workers %s %d/%d %d workers, %s: %.3fs; CPU-s submitter %.2f, workers %.2f, server %.2f",
		mapFn, rep, b.n, n, strings.Join(transportArgs(transport), " "), res.Wall.Seconds(), res.CPU.Seconds(), workers.Seconds(), server.Seconds())
	return nil
}

// servedLine matches the submitter's log line of the chunk bytes it
// served on each path.
var servedLine = regexp.MustCompile(`served the chunks workers fetched direct_bytes=(\d+) .*nats_bytes=(\d+)`)

// checkServed checks, from a --transport object run's log, that the
// chunks went the way the transport's flags say: on the direct path, or
// over NATS with --data-listen off.
func checkServed(transport, stderr string) error {
	if !strings.HasPrefix(transport, "object") {
		return nil
	}
	m := servedLine.FindStringSubmatch(stderr)
	if m == nil {
		return fmt.Errorf("a run with %s did not log the chunk bytes it served%s", strings.Join(transportArgs(transport), " "), indentTail(stderr))
	}
	direct, overNATS := m[1] != "0", m[2] != "0"
	if want := transport == "object"; direct != want || overNATS == want {
		return fmt.Errorf("WRONG PATH: a run with %s served %s bytes on the direct path and %s over NATS", strings.Join(transportArgs(transport), " "), m[1], m[2])
	}
	return nil
}

// benchNATS starts a NATS server with JetStream on a random loopback port.
func benchNATS(dir string) (url string, shutdown func(), err error) {
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
		JetStreamMaxMemory: 256 << 20,
	})
	if err != nil {
		return "", nil, err
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return "", nil, fmt.Errorf("the bench NATS server did not start")
	}
	return srv.ClientURL(), func() { srv.Shutdown(); srv.WaitForShutdown(); os.RemoveAll(dir) }, nil
}

// workerPool is a set of running worker processes.
type workerPool struct {
	procs []*workerProc
}

type workerProc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer // written by the process's reader until done
	done   chan error
}

// cpu is the CPU time (user + system) the pool's processes have used so
// far, read from /proc: a worker that serves one job after another is
// measured per job by the difference of two readings.
func (p *workerPool) cpu() time.Duration {
	var sum time.Duration
	for _, w := range p.procs {
		sum += procCPU(w.cmd.Process.Pid)
	}
	return sum
}

// stop drains the processes with SIGTERM, checks they exit 0 and returns
// the CPU time they used in all.
func (p *workerPool) stop() (time.Duration, error) {
	var first error
	var cpu time.Duration
	for _, w := range p.procs {
		w.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-w.done; err != nil && first == nil {
			first = fmt.Errorf("jetmr worker after SIGTERM: %w%s", err, indentTail(w.stderr.String()))
		}
		if st := w.cmd.ProcessState; st != nil {
			cpu += st.UserTime() + st.SystemTime()
		}
	}
	return cpu, first
}

// startBenchWorkers starts n worker processes (bin with args: jetmr worker
// or bench/sleepworker) and waits until each waits for jobs. With cores
// above 0, each process runs Go code on that many cores at most
// (GOMAXPROCS), as it would on a machine of that many cores.
func startBenchWorkers(b *bench, n, cores int, bin string, args ...string) (*workerPool, error) {
	pool := &workerPool{}
	for range n {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		cmd := exec.Command(bin, args...)
		if cores > 0 {
			cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(cores))
		}
		r, w, err := os.Pipe()
		if err != nil {
			cancel()
			pool.stop()
			return nil, err
		}
		var stderr bytes.Buffer
		cmd.Stderr = w
		if err := cmd.Start(); err != nil {
			cancel()
			r.Close()
			w.Close()
			pool.stop()
			return nil, err
		}
		w.Close()
		p := &workerProc{cmd: cmd, stderr: &stderr, done: make(chan error, 1)}
		up := make(chan struct{})
		go func() {
			buf := make([]byte, 4096)
			signalled := false
			for {
				k, err := r.Read(buf)
				stderr.Write(buf[:k])
				if !signalled && bytes.Contains(stderr.Bytes(), []byte("worker waiting for jobs")) {
					close(up)
					signalled = true
				}
				if err != nil {
					r.Close()
					p.done <- cmd.Wait()
					return
				}
			}
		}()
		pool.procs = append(pool.procs, p)
		select {
		case <-up:
			cancel()
		case <-ctx.Done():
			cancel()
			pool.stop()
			return nil, fmt.Errorf("jetmr worker did not start within 10s")
		}
	}
	return pool, nil
}
