package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// commonFlags are the flags every job command takes.
type commonFlags struct {
	inputs    []string
	output    string
	jobs      string
	io        bool
	memfree   string
	chunkSize string
	retries   int
	okExit    string
	skipBad   int
	rejects   string
	timeout   time.Duration
	taskTime  time.Duration
	store     string
	nats      natsFlags
	replicas  int
	transport string
	dataAddr  string
	sync      string
	jobID     string
	resume    bool
	retryFail bool
	force     bool
	halt      string
	report    string
	logLevel  string
	logFormat string
	quiet     bool
	local     int
	spec      speculationFlags
	watch     observeFlags
	s3        objstore.Settings
}

// registerS3 adds the flags of s3:// inputs and outputs.
func (f *commonFlags) registerS3(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.s3.Endpoint, "s3-endpoint", "", "URL of the S3-compatible service of s3:// inputs and outputs, e.g. http://127.0.0.1:9000 (default: $AWS_ENDPOINT_URL, else Amazon S3)")
	fs.BoolVar(&f.s3.PathStyle, "s3-path-style", false, "address buckets in the URL path (MinIO, Ceph) rather than the host name")
}

// speculationFlags are --speculative, --no-speculative and --idempotent.
type speculationFlags struct {
	on, off, idempotent bool
}

func (f *speculationFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.BoolVar(&f.on, "speculative", false, "run a backup attempt of a task that runs far longer than the others, on an idle slot once no task waits; the first to finish counts (default: on for pipe and mapreduce, and for each and migrate with --idempotent)")
	fs.BoolVar(&f.off, "no-speculative", false, "never run backup attempts (same as --speculative=false)")
	fs.BoolVar(&f.idempotent, "idempotent", false, "the command may run twice on the same input without harm: each and migrate jobs then get backup attempts; --idempotent=false turns them off for any job")
}

// speculation maps the flags to job.Config.Speculative and Idempotent.
func (f *speculationFlags) speculation(cmd *cobra.Command) (job.Speculation, bool, error) {
	fs := cmd.Flags()
	on, off := fs.Changed("speculative") && f.on, (fs.Changed("speculative") && !f.on) || f.off
	notIdempotent := fs.Changed("idempotent") && !f.idempotent
	switch {
	case on && off:
		return 0, false, usageErr("--speculative and --no-speculative contradict each other: give one of them")
	case on && notIdempotent:
		return 0, false, usageErr("--speculative runs a slow task's command a second time, which --idempotent=false forbids: give one of them")
	case on:
		return job.SpeculateOn, f.idempotent, nil
	case off || notIdempotent:
		return job.SpeculateOff, false, nil
	}
	return job.SpeculateAuto, f.idempotent, nil
}

func (f *commonFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringSliceVarP(&f.inputs, "input", "i", nil, "input files or directories (repeatable; directories are walked recursively); - reads standard input; .gz and .zst files are decompressed; s3://BUCKET/KEY or s3://BUCKET/PREFIX/ reads objects")
	fs.StringVarP(&f.jobs, "jobs", "j", "auto", "tasks run at once: N, N% of the cores, or auto (the cores, 3 per core with --io, capped by available memory)")
	fs.StringVar(&f.memfree, "memfree", "", "start no new task while less memory than this is available, e.g. 2GiB")
	fs.BoolVar(&f.io, "io", false, "the command mostly waits (network, disk): -j auto runs 3 tasks per core")
	fs.StringVar(&f.chunkSize, "chunk-size", "", "bytes per task, e.g. 64KiB or 8MiB (default: sized from the input, 256KiB to 8MiB)")
	fs.DurationVar(&f.taskTime, "task-time", 0, "size chunks adaptively so that a task takes about this long, e.g. 2s (--chunk-size is then the first size)")
	fs.IntVar(&f.retries, "retries", job.DefaultRetries, "retries of a failed task before it becomes a dead letter")
	fs.StringVar(&f.okExit, "ok-exit", "0", "exit statuses of the command (and of map, combiner and reducer commands) that count as success, e.g. 0,1 for grep")
	fs.IntVar(&f.skipBad, "skip-bad-records", 0, "leave up to N bad records out of the output: a task that fails on every attempt is bisected down to the records that fail alone (pipe, mapreduce)")
	fs.StringVar(&f.rejects, "rejects", "", "with --skip-bad-records: the file that receives the records left out (default: the output's path plus .rejected; required with output on stdout)")
	fs.DurationVar(&f.timeout, "timeout", 0, "wall-time limit per task attempt, e.g. 30s (default: none)")
	fs.StringVar(&f.store, "store", "", "where the embedded NATS server keeps its data (default: $XDG_STATE_HOME/jetmr)")
	f.nats.register(fs)
	fs.IntVar(&f.replicas, "replicas", 1, "copies of the job's streams and buckets on the NATS cluster: 1, or 3 with --nats")
	fs.IntVar(&f.local, "local-workers", 0, "tasks this process runs itself, besides jetmr workers (default: -j with the embedded server, 0 with --nats)")
	fs.StringVar(&f.transport, "transport", job.TransportAuto, "how chunks and large outputs reach workers: shared (a filesystem all workers share), object (chunks in the task messages or fetched from the submitter over NATS, outputs through the JetStream object store) or auto (shared with the embedded server, object with --nats)")
	fs.StringVar(&f.dataAddr, "data-listen", "", "with --transport object: HOST:PORT on which this process serves chunk bytes straight to workers, or off to send them over NATS only (default: a random port, on loopback when the NATS server is on this machine, else on every interface)")
	fs.StringVar(&f.sync, "sync", broker.SyncInterval, "embedded server fsync policy: always or interval")
	fs.StringVar(&f.jobID, "job", "", "job ID (default: generated and printed)")
	fs.BoolVar(&f.resume, "resume", false, "continue the job named by --job from where it stopped or crashed")
	fs.BoolVar(&f.retryFail, "retry-failed", false, "with --resume: run the job's dead letters again (the command may change)")
	fs.BoolVar(&f.force, "force", false, "replace an output that exists (when the job completes); without it an existing output is refused")
	fs.StringVar(&f.halt, "halt", "never", "when failures stop the job: never, soon,fail=N or now,fail=N")
	fs.StringVar(&f.report, "report", "", "write the run report as JSON to this file")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: trace, debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "console", "log format of stderr: console (plain lines) or json (one JSON record per line, jetmr's own lines included)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "do not print the job ID and the summary line")
	f.spec.register(cmd)
	f.watch.register(cmd)
}

// config builds the job configuration shared by every job command.
// runsCommand says whether the job's tasks run a command rather than a
// built-in function, for -j auto.
func (f *commonFlags) config(cmd *cobra.Command, kind schema.Kind, runsCommand bool) (job.Config, error) {
	log, err := newLogger(f.logLevel, f.logFormat, cmd.ErrOrStderr())
	if err != nil {
		return job.Config{}, err
	}
	var chunk int64
	if f.chunkSize != "" {
		if chunk, err = splitter.ParseSize(f.chunkSize); err != nil {
			return job.Config{}, usageErr("%s", "--chunk-size: "+err.Error())
		}
	}
	var memfree int64
	if f.memfree != "" {
		if memfree, err = splitter.ParseSize(f.memfree); err != nil {
			return job.Config{}, usageErr("%s", "--memfree: "+strings.Replace(err.Error(), "chunk size", "size", 1))
		}
	}
	slots, why, err := job.Slots(f.jobs, job.SlotOptions{Command: runsCommand, IO: f.io, ChunkSize: chunk})
	if err != nil {
		return job.Config{}, err
	}
	log.Info().Int("slots", slots).Str("why", why).Msg("concurrency")
	if len(f.inputs) == 0 {
		return job.Config{}, usageErr("no input: give files or directories with -i, or -i - for standard input (see %s --help)", cmd.CommandPath())
	}
	if f.retries < 0 {
		return job.Config{}, usageErr("--retries %d is not valid: use 0 (no retries) or more", f.retries)
	}
	okExit, err := job.ParseOkExit(f.okExit)
	if err != nil {
		return job.Config{}, err
	}
	retries := f.retries
	if retries == 0 {
		retries = -1 // job.Config: negative means no retries
	}
	if f.sync != broker.SyncAlways && f.sync != broker.SyncInterval {
		return job.Config{}, usageErr("--sync %q is not valid: use always or interval", f.sync)
	}
	if err := replicasFlag(f.replicas, f.nats.url); err != nil {
		return job.Config{}, err
	}
	halt, err := job.ParseHalt(f.halt)
	if err != nil {
		return job.Config{}, err
	}
	if f.jobID == "" && !f.resume {
		f.jobID = job.NewID()
	}
	local, err := f.localWorkers(cmd)
	if err != nil {
		return job.Config{}, err
	}
	speculative, idempotent, err := f.spec.speculation(cmd)
	if err != nil {
		return job.Config{}, err
	}
	return job.Config{
		ID: f.jobID, Kind: kind, Inputs: f.inputs, Output: f.output, Stdout: cmd.OutOrStdout(), Stdin: cmd.InOrStdin(),
		Resume: f.resume, RetryFailed: f.retryFail, Force: f.force, Halt: halt, Transport: f.transport, DataListen: f.dataAddr,
		SkipBadRecords: f.skipBad, Rejects: f.rejects,
		ChunkSize: chunk, Slots: slots, LocalWorkers: local, Retries: retries, OkExit: okExit, Timeout: f.timeout, TaskTime: f.taskTime, MemFree: memfree,
		Speculative: speculative, Idempotent: idempotent,
		Broker: f.brokerConfig(log), S3: f.s3,
		Logger: log,
	}, nil
}

func (f *commonFlags) brokerConfig(log zerolog.Logger) broker.Config {
	bc := f.nats.brokerConfig(log)
	bc.StoreDir, bc.Sync, bc.Replicas = f.store, f.sync, f.replicas
	return bc
}

// localWorkers maps --local-workers to job.Config.LocalWorkers: 0 there
// means the default, and none is negative.
func (f *commonFlags) localWorkers(cmd *cobra.Command) (int, error) {
	switch {
	case !cmd.Flags().Changed("local-workers"):
		return 0, nil
	case f.local < 0:
		return 0, usageErr("--local-workers %d is not valid: use 0 or more", f.local)
	case f.local == 0:
		return -1, nil
	}
	return f.local, nil
}

// skipUsage says what --skip-bad-records and --rejects mean for a command
// whose bad records are not lines (each, migrate).
func skipUsage(cmd *cobra.Command, skip, rejects string) {
	cmd.Flags().Lookup("skip-bad-records").Usage = skip
	cmd.Flags().Lookup("rejects").Usage = rejects
}

// runJob runs cfg and prints the summary, dead letters and report.
func (f *commonFlags) runJob(ctx context.Context, cmd *cobra.Command, cfg job.Config) error {
	stderr := stderrLines(cmd.ErrOrStderr(), f.logFormat, cfg.Logger)
	if err := checkFilePath("--report", f.report); err != nil {
		return err
	}
	for _, p := range []struct{ flag, path string }{{"--report", f.report}, {"--joblog", f.watch.joblog}, {"--trace", f.watch.trace}} {
		if err := job.CheckOutsideOutput(p.flag, p.path, cfg); err != nil {
			return err
		}
	}
	w, err := f.watch.start(ctx, cmd)
	if err != nil {
		return err
	}
	var openErr error
	started := false
	cfg.Observer = w.observer
	cfg.Started = func(id string) {
		started = true
		if !f.quiet {
			fmt.Fprintf(stderr, "jetmr: job %s\n", id)
		}
		openErr = w.open(stderr)
	}
	report, err := job.Run(ctx, cfg)
	printStderrTail(stderr, err)
	err = errors.Join(err, openErr, w.close())
	kept := started && err != nil && !errors.Is(err, job.ErrAlreadyDone)
	// A job whose upload failed keeps its staged output whatever its
	// input: the resume that uploads it reads none.
	uploadFailed := errors.Is(err, job.ErrUploadFailed)
	if kept && !uploadFailed && (unresumable(cfg) != "" || (errors.Is(err, job.ErrBadInput) && !cfg.Resume)) {
		// Nothing can continue this job (its input cannot be read again,
		// or turned out bad once it ran), so nothing of it is kept: the
		// same command, --job included, runs again from the start.
		if _, derr := job.Discard(context.WithoutCancel(ctx), cfg.Broker, cfg.ID); derr != nil {
			fmt.Fprintf(stderr, "jetmr: dropping the state of job %s, which cannot be resumed: %v\n", cfg.ID, derr)
		} else {
			kept = false
		}
	}
	switch {
	case errors.Is(err, job.ErrAlreadyDone):
		// A resume that only uploaded the output (or finished the
		// bookkeeping of a committed one) reports it; one that found the
		// job done has no report.
		fmt.Fprintln(stderr, "jetmr:", err)
		err = nil
	case unresumable(cfg) != "" && (errors.Is(err, job.ErrJobExists) || errors.Is(err, job.ErrUnresumable)):
		// A job of this kind that was killed keeps its state, and
		// neither --resume nor a new run under its ID can go on: say
		// what does.
		return unresumableHint(cfg, err)
	case errors.Is(err, context.Canceled):
		return interruptedError{interruptedMessage(cfg)}
	case errors.Is(err, job.ErrTasksFailed):
		err = fmt.Errorf("%w%s", err, failedHint(cfg, report))
	case uploadFailed:
		err = fmt.Errorf("%w%s", err, uploadHint(cfg))
	case kept && errors.Is(err, job.ErrJoinFailed):
		err = fmt.Errorf("%w%s", err, joinFailedHint(cfg))
	case kept && (errors.As(err, new(*schema.TaskError)) || errors.Is(err, reducer.ErrPartitionFailed)):
		err = fmt.Errorf("%w%s", err, reduceFailedHint(cfg))
	}
	if report != nil {
		if !f.quiet {
			fmt.Fprintln(stderr, report.Summary())
		}
		for _, w := range report.Warnings() {
			fmt.Fprintln(stderr, w)
		}
		printDeadLetters(stderr, report.DeadLetters)
		for _, m := range report.Malformed {
			fmt.Fprintf(stderr, "jetmr: dead letter: malformed %s\n", m)
		}
		if f.report != "" {
			run := runFile{Report: report, Attempts: w.recorder.Attempts(), DroppedAttempts: w.recorder.Dropped()}
			if werr := writeJSON(f.report, run); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	// A job whose input changed was told to be dropped, with the command.
	changed := report != nil && inputChanged(report.DeadLetters)
	if where := discardFlags(cfg.Broker); kept && !changed && !errors.Is(err, context.Canceled) && where != "-" {
		what := "--resume"
		if errors.Is(err, job.ErrTasksFailed) {
			what = "--resume --retry-failed"
		}
		fmt.Fprintf(stderr, "jetmr: job %s keeps its state and staged output for %s; drop them with:\n  jetmr discard %s%s\n", cfg.ID, what, cfg.ID, where)
	}
	return err
}

func printDeadLetters(w interface{ Write([]byte) (int, error) }, dead []report.DeadLetter) {
	for _, d := range dead {
		where := ""
		if d.Path != "" {
			where = fmt.Sprintf(" (%s bytes %d-%d)", d.Path, d.Offset, d.Offset+d.Length)
		}
		if d.Line > 0 {
			where = fmt.Sprintf(" (%s line %d, bytes %d-%d)", d.Path, d.Line, d.Offset, d.Offset+d.Length)
		}
		fmt.Fprintf(w, "jetmr: dead letter: task %d%s after %d attempt(s): %s\n", d.Index, where, d.Attempts, d.Error.Message)
		for _, r := range d.Records {
			fmt.Fprintf(w, "jetmr:   bad record: %s\n", r.Describe())
		}
		if note := d.IsolationNote(); note != "" {
			fmt.Fprintf(w, "jetmr:   %s\n", note)
		}
		if tail := strings.TrimSpace(d.Error.StderrTail); tail != "" {
			for _, line := range strings.Split(tail, "\n") {
				fmt.Fprintf(w, "jetmr:   stderr: %s\n", line)
			}
		}
	}
}

// resumeCommand is this process's command line with --job ID --resume.
func resumeCommand(id string) string {
	var args []string
	skip := false
	clean, _ := redactArgs(os.Args) // a hint never shows a secret
	for _, a := range clean {
		switch {
		case skip:
			skip = false
			continue
		case a == "--job":
			skip = true
			continue
		case strings.HasPrefix(a, "--job=") || a == "--resume" || a == "--retry-failed":
			continue
		}
		args = append(args, shellQuote(a))
	}
	// Put the flags before "--" so that they are not taken for the command.
	tail := []string{}
	for i, a := range args {
		if a == "--" {
			tail = slices.Clone(args[i:])
			args = args[:i]
			break
		}
	}
	args = append(args, "--job", id, "--resume")
	return strings.Join(append(args, tail...), " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '=' || r == ',' || r == '%' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// inputsAndCommand splits positional arguments at "--": before it, more
// inputs; after it, the command.
func inputsAndCommand(cmd *cobra.Command, args []string) (inputs, argv []string) {
	dash := cmd.ArgsLenAtDash()
	if dash < 0 {
		return args, nil
	}
	return args[:dash], args[dash:]
}
