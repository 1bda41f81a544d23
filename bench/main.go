package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Input sizes at -size-scale 1.
const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// scenarioFunc runs one scenario and fills in s; an error fails it.
type scenarioFunc func(b *bench, s *Scenario) error

// scenarios in the order they run; defaultScenarios run without -scenarios
// and are what "all" stands for: the others run only when named.
var (
	scenarios = map[string]scenarioFunc{
		"wordcount":   runWordcount,
		"pipe":        runPipe,
		"rss":         runRSS,
		"rss-stdin":   runRSSStdin,
		"tiny":        runTiny,
		"sync":        runSync,
		"crash":       runCrash,
		"migrate":     runMigrate,
		"tasktime":    runTaskTime,
		"reduce":      runReduce,
		"each":        runEach,
		"each-tiny":   runEachTiny,
		"workers":     runWorkers,
		"workers-wc":  runWordcountOnWorkers,
		"cardinality": runCardinality,
		"keys10m":     runKeys10M,
		"straggler":   runStraggler,
	}
	scenarioOrder    = []string{"wordcount", "pipe", "rss", "rss-stdin", "tiny", "sync", "crash", "migrate", "tasktime", "reduce", "each", "each-tiny", "workers", "workers-wc", "cardinality", "keys10m", "straggler"}
	defaultScenarios = "wordcount,pipe,rss"
)

// scenariosHelp is the help of -scenarios: the scenarios, what "all"
// stands for and which run only when named.
func scenariosHelp() string {
	defaults := strings.Split(defaultScenarios, ",")
	var optIn []string
	for _, name := range scenarioOrder {
		if !slices.Contains(defaults, name) {
			optIn = append(optIn, name)
		}
	}
	return fmt.Sprintf("comma-separated scenarios: %s; all means the default set (%s); %s run only when named",
		strings.Join(scenarioOrder, ", "), defaultScenarios, strings.Join(optIn, ", "))
}

// bench is the state the scenarios share.
type bench struct {
	ctx   context.Context
	jetmr string  // the binary under test
	dir   string  // the work directory, removed at the end unless -keep
	n     int     // repetitions
	scale float64 // input size multiplier
	seq   int     // numbers fresh paths
	gen   map[int64]string
}

// fresh returns a new, unused path under the work directory.
func (b *bench) fresh(prefix string) string {
	b.seq++
	return filepath.Join(b.dir, fmt.Sprintf("%s-%03d", prefix, b.seq))
}

// size scales a nominal input size, to at least 64 KiB.
func (b *bench) size(nominal int64) int64 {
	return max(int64(float64(nominal)*b.scale), 64*KiB)
}

// input returns a generated text file of about size bytes, generating it
// the first time.
func (b *bench) input(size int64) (string, error) {
	if path, ok := b.gen[size]; ok {
		return path, nil
	}
	path := filepath.Join(b.dir, fmt.Sprintf("text-%d.txt", size))
	progress("generating %s of text: %s", humanBytes(size), path)
	start := time.Now()
	n, err := generateText(path, size)
	if err != nil {
		os.Remove(path)
		return "", err
	}
	progress("generated %s in %.1fs", humanBytes(n), time.Since(start).Seconds())
	b.gen[size] = path
	return path, nil
}

// dropInput deletes a generated input.
func (b *bench) dropInput(size int64) {
	if path, ok := b.gen[size]; ok {
		os.Remove(path)
		delete(b.gen, size)
	}
}

// progress prints a progress line to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, args...))
}

// humanBytes prints a size in binary units.
func humanBytes(n int64) string {
	switch {
	case n >= GiB && n%GiB == 0:
		return fmt.Sprintf("%d GiB", n/GiB)
	case n >= GiB:
		return fmt.Sprintf("%.2f GiB", float64(n)/GiB)
	case n >= MiB && n%MiB == 0:
		return fmt.Sprintf("%d MiB", n/MiB)
	case n >= MiB:
		return fmt.Sprintf("%.1f MiB", float64(n)/MiB)
	case n >= KiB:
		return fmt.Sprintf("%.1f KiB", float64(n)/KiB)
	}
	return fmt.Sprintf("%d B", n)
}

func main() {
	os.Exit(run())
}

// run parses the flags, runs the scenarios and prints the results; it
// returns the exit status.
func run() int {
	var (
		names    = flag.String("scenarios", defaultScenarios, scenariosHelp())
		scale    = flag.Float64("size-scale", 1, "multiply every input size by this, e.g. 0.05 for a quick run")
		n        = flag.Int("n", 3, "repetitions of each contender")
		workdir  = flag.String("workdir", "", "directory to work in (default: a new temporary directory); the bench makes its own subdirectory there")
		keep     = flag.Bool("keep", false, "keep the work directory (big inputs of the rss scenario are deleted anyway)")
		jetmr    = flag.String("jetmr", "", "prebuilt jetmr binary (default: go build ./cmd/jetmr of this module into the work directory)")
		jsonPath = flag.String("json", "", "also write the results as JSON to this file")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if *n < 1 || *scale <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -n must be >= 1 and -size-scale > 0")
		return 2
	}
	var selected []string
	for _, name := range strings.Split(*names, ",") {
		name = strings.TrimSpace(name)
		if name == "all" {
			selected = append(selected, strings.Split(defaultScenarios, ",")...)
			continue
		}
		if _, ok := scenarios[name]; !ok {
			fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (have %s)\n", name, strings.Join(scenarioOrder, ", "))
			return 2
		}
		selected = append(selected, name)
	}

	results := &Results{Machine: detectMachine(), Started: time.Now(), Reps: *n, SizeScale: *scale}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	parent := *workdir
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "bench: work directory: %v\n", err)
			return 1
		}
	}
	dir, err := os.MkdirTemp(parent, "jetmr-bench-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: work directory: %v\n", err)
		return 1
	}
	if dir, err = filepath.Abs(dir); err != nil {
		fmt.Fprintf(os.Stderr, "bench: work directory: %v\n", err)
		return 1
	}
	if *keep {
		defer progress("kept the work directory %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	progress("work directory %s", dir)

	b := &bench{ctx: ctx, dir: dir, n: *n, scale: *scale, gen: map[int64]string{}}
	if *jetmr != "" {
		if b.jetmr, err = filepath.Abs(*jetmr); err != nil {
			fmt.Fprintf(os.Stderr, "bench: -jetmr: %v\n", err)
			return 1
		}
	} else {
		progress("building jetmr")
		if b.jetmr, err = buildJetmr(ctx, dir); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			return 1
		}
	}

	results.Jetmr = b.jetmr
	status := 0
	for _, name := range scenarioOrder {
		if !slices.Contains(selected, name) {
			continue
		}
		s := &Scenario{Name: name}
		results.Scenarios = append(results.Scenarios, s)
		progress("scenario %s", name)
		if err := scenarios[name](b, s); err != nil {
			s.Error = err.Error()
			status = 1
			fmt.Fprintf(os.Stderr, "bench: scenario %s FAILED: %v\n", name, err)
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			fmt.Fprintln(os.Stderr, "bench: interrupted")
			status = 130
			break
		}
	}

	results.Machine.LoadEnd = loadAverage()
	printTable(os.Stdout, results)
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, results); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			status = max(status, 1)
		}
	}
	return status
}
