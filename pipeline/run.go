package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// Options configure a [Run].
type Options struct {
	// ID names the pipeline run; stage NAME runs as job ID-NAME. Required.
	ID string
	// Broker is the open broker every stage runs on. Required; Run does
	// not close it.
	Broker *broker.Broker
	// BrokerConfig is the configuration Broker was opened with: it says
	// where the stages keep spill files and how they sync them.
	BrokerConfig broker.Config
	// Slots is how many tasks the pipeline runs at once, shared by the
	// stages running at the same time. Default: the number of CPUs.
	Slots int
	// LocalWorkers says whether this process runs the stages' tasks, as
	// job.Config.LocalWorkers: 0 is the default (yes with an embedded
	// broker, no with an external one, whose jetmr workers run them), a
	// negative value no, a positive one yes, each stage its share of Slots.
	LocalWorkers int
	// Transport is every stage's job.Config.Transport.
	Transport string
	// DataListen is every stage's job.Config.DataListen. Stages that run
	// at the same time each need an address of their own: with a fixed
	// port, the first stage serves on it, and the others' chunks go over
	// NATS (logged).
	DataListen string
	// Resume continues the pipeline ID: stages whose job is done are
	// skipped, interrupted or failed ones resumed, the rest run.
	Resume bool
	// RetryFailed, with Resume, reruns the dead letters of failed stages.
	RetryFailed bool
	// Force lets stages replace outputs that exist. Without it Run refuses
	// the pipeline before any stage runs when an output of a stage that is
	// to run exists.
	Force bool
	// Registry resolves map and reduce names. Default: the built-ins.
	Registry *mapper.Registry
	// Stdout receives the output of pipe stages without an output file.
	// Default os.Stdout.
	Stdout io.Writer
	// Observer receives every stage's events. Optional.
	Observer observe.Observer
	// StageStarted and StageEnded, when set, are called as stages start
	// and end (StageEnded also for stages skipped as already done).
	StageStarted func(s *StagePlan, jobID string, slots int)
	StageEnded   func(r StageReport)
	// Logger receives the logs. Zero value: none.
	Logger zerolog.Logger
}

// stageResult is what a stage's run sends back to the scheduler.
type stageResult struct {
	s          *StagePlan
	report     *report.Report
	err        error
	start, end time.Time
	slots      int
	// started says the stage's job was recorded (job.Config.Started);
	// resumed, that it continues the job of an earlier run.
	started, resumed bool
}

// Run runs the plan: every stage once its dependencies have succeeded,
// stages that are ready at the same time sharing the slots. Before the
// first starts it refuses what [Prepare] refuses of o (where the tasks
// run, the stages' functions) and what needs the broker (a pipeline ID
// that ran before, a resume the stages' jobs would refuse, outputs that
// exist). It returns
// the pipeline's report, also when stages failed; the error is then a
// *StageError per failed stage (matching ErrStageFailed and
// job.ErrTasksFailed). When ctx is cancelled the running stages stop, no
// other starts, and the error wraps context.Canceled.
func Run(ctx context.Context, p *Plan, o Options) (*Report, error) {
	if o.Broker == nil {
		panic("pipeline: Run without a broker")
	}
	if o.Slots <= 0 {
		o.Slots = runtime.NumCPU()
	}
	if err := checkID(p, o.ID); err != nil {
		return nil, err
	}
	// As Prepare checks them, for a plan of NewPlan.
	if err := sortedErrors(append(checkFunctions(p.File, o), job.CheckPlacement(placement(o)))); err != nil {
		return nil, err
	}
	r := newRun(p, o)
	done, err := r.preflight(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range done {
		r.finish(stageResult{s: p.Stage(name)}, StateAlreadyDone)
	}
	return r.loop(ctx)
}

// checkID checks that every stage's job ID is valid.
func checkID(p *Plan, id string) error {
	if id == "" {
		panic("pipeline: Run without an ID")
	}
	for _, s := range p.Stages {
		if err := schema.ValidateJobID(jobID(id, s.Name)); err != nil {
			return errs.BadInput("", "pipeline %s, stage %s: %w: use a shorter pipeline ID (--job)", id, s.Name, err)
		}
	}
	return nil
}

func jobID(pipeline, stage string) string { return pipeline + "-" + stage }

// run is the state of one Run, owned by the scheduling loop.
type run struct {
	p       *Plan
	o       Options
	report  *Report
	state   map[string]string
	free    int
	running int
	tp      Throughput
	units   map[schema.Kind]float64 // work done per kind, for tp
	seconds map[schema.Kind]float64
	errs    []error
}

func newRun(p *Plan, o Options) *run {
	r := &run{
		p: p, o: o, state: map[string]string{}, free: o.Slots, tp: Throughput{},
		units: map[schema.Kind]float64{}, seconds: map[schema.Kind]float64{},
		report: &Report{Pipeline: o.ID, File: p.File.Path, Slots: o.Slots, Start: time.Now(),
			EstimatedCriticalPath: slices.Clone(p.CriticalPath)},
	}
	for _, s := range p.Stages {
		r.state[s.Name] = StatePending
	}
	return r
}

// preflight reads the stages' job records: a new run refuses a pipeline
// ID that ran before; a resume lists the stages already done.
func (r *run) preflight(ctx context.Context) (done []string, err error) {
	kv, err := r.o.Broker.Jobs(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	found := 0
	for _, s := range r.p.Stages {
		entry, err := kv.Get(ctx, jobID(r.o.ID, s.Name))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: loading job %s: %w", broker.ErrUnreachable, jobID(r.o.ID, s.Name), err)
		}
		found++
		if !r.o.Resume {
			return nil, errs.BadInput("", "pipeline %s has run before (stage %s is job %s): add --resume to continue it, or choose another --job",
				r.o.ID, s.Name, jobID(r.o.ID, s.Name))
		}
		rec, err := schema.DecodeJobRecord(entry.Value())
		if err != nil {
			return nil, fmt.Errorf("loading job %s: %w", jobID(r.o.ID, s.Name), err)
		}
		if rec.State != schema.StateDone && s.Kind.Traits().Ordered && s.Output() == "" {
			// Stdout cannot be rewound: the stage runs again from its start.
			if err := r.forget(ctx, kv, jobID(r.o.ID, s.Name)); err != nil {
				return nil, err
			}
			r.o.Logger.Warn().Str("stage", s.Name).Msg("the stage wrote to stdout, which cannot be resumed: it runs again from its start")
			continue
		}
		r.state[s.Name] = StateResumable
		if rec.State == schema.StateDone {
			done = append(done, s.Name)
		}
	}
	if r.o.Resume && found == 0 {
		return nil, errs.BadInput("", "there is no pipeline %s to resume in this store: check --job and --store (and --nats)", r.o.ID)
	}
	if err := r.checkResumes(ctx, done); err != nil {
		return nil, err
	}
	return done, r.checkOutputs()
}

// checkResumes refuses, before any stage runs, a resume of a stage that
// its job would refuse: the stage's inputs or options changed, or
// --retry-failed changes its command while tasks of it are left to run.
func (r *run) checkResumes(ctx context.Context, done []string) error {
	var all []error
	for _, s := range r.p.Stages {
		if r.state[s.Name] != StateResumable || slices.Contains(done, s.Name) {
			continue
		}
		id := jobID(r.o.ID, s.Name)
		cfg, err := r.config(s, id, 1, true)
		if err == nil {
			err = job.CheckResume(ctx, r.o.Broker, cfg)
		}
		var changed *job.CommandChangedError
		switch {
		case err == nil:
		case errors.As(err, &changed):
			all = append(all, errs.BadInput("", "stage %s: cannot resume job %s: %s; %s, and running them with the new command would mix the output of two commands: "+
				"put the stage's command back in %s to finish the stage, or run the pipeline afresh under another --job",
				s.Name, id, errs.Translate(changed.Reason(), optionKeys), changed.Left, r.p.File.Path))
		case errors.Is(err, job.ErrBadInput):
			all = append(all, errs.BadInput("", "stage %s: %s", s.Name, errs.Translate(err.Error(), optionKeys)))
		default:
			return fmt.Errorf("stage %s: %w", s.Name, err)
		}
	}
	return joinErrors(all)
}

// forget deletes job id of an earlier run (its record, checkpoints and
// streams), so that its stage runs again from the start.
func (r *run) forget(ctx context.Context, kv jetstream.KeyValue, id string) error {
	for _, key := range []string{schema.CheckpointKey(id, schema.CheckpointSplit), schema.CheckpointKey(id, schema.CheckpointOutput), id} {
		if err := kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("%w: deleting job %s to run it again: %v", broker.ErrUnreachable, id, err)
		}
	}
	if err := r.o.Broker.DeleteJob(ctx, id); err != nil {
		return fmt.Errorf("%w: deleting job %s to run it again: %v", broker.ErrUnreachable, id, err)
	}
	return nil
}

// checkOutputs refuses, before any stage runs, the outputs of the stages
// that are to run from the start that exist, or that break the rules of
// every job's output (job.CheckOutputPlace), naming every one.
func (r *run) checkOutputs() error {
	var errs []error
	for _, s := range r.p.File.Stages {
		out := s.Output()
		if out == "" || r.state[s.Name] != StatePending {
			continue
		}
		if err := job.CheckOutputPlace(s.Kind, out, s.Inputs()); err != nil {
			errs = append(errs, &Error{File: r.p.File.Path, Line: s.line(string(s.Kind) + ".output"), Msg: fmt.Sprintf(
				"stage %s: %s", s.Name, strings.ReplaceAll(err.Error(), "-o ", "output "))})
			continue
		}
		if r.o.Force {
			continue
		}
		if _, err := os.Lstat(out); err == nil {
			errs = append(errs, &Error{File: r.p.File.Path, Line: s.line(string(s.Kind) + ".output"), Msg: fmt.Sprintf(
				"stage %s: output %s already exists: remove it, or add --force to replace it", s.Name, out)})
		}
		if s.Options().SkipBadRecords <= 0 || !s.Kind.Traits().Bisect {
			continue
		}
		// The records skip_bad_records leaves out go next to the output.
		if rejects := out + job.RejectsSuffix; exists(rejects) {
			errs = append(errs, &Error{File: r.p.File.Path, Line: s.line(string(s.Kind) + ".output"), Msg: fmt.Sprintf(
				"stage %s: %s, which receives the records skip_bad_records leaves out, already exists: remove it, or add --force to replace it", s.Name, rejects)})
		}
	}
	return joinErrors(errs)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// loop starts ready stages while slots are free and collects their
// results until no stage runs and none can start.
func (r *run) loop(ctx context.Context) (*Report, error) {
	results := make(chan stageResult)
	var g errgroup.Group // stage failures are results, not group errors
	for {
		if ctx.Err() == nil {
			for _, a := range allocate(r.free, r.ready(), r.caps()) {
				r.start(ctx, &g, a.stage, a.slots, results)
			}
		}
		if r.running == 0 {
			break
		}
		res := <-results
		r.running--
		r.free += res.slots
		r.collect(ctx, res)
	}
	g.Wait() // every stage goroutine has sent its result
	r.endReport()
	if err := ctx.Err(); err != nil && r.unfinished() {
		return r.report, fmt.Errorf("pipeline %s stopped: %w", r.o.ID, errors.Join(append(r.errs, err)...))
	}
	return r.report, errors.Join(r.errs...)
}

// unfinished reports whether a stage is left that a resume would run: a
// stop that came once every stage had ended (the last one's output
// published) stops nothing.
func (r *run) unfinished() bool {
	for _, st := range r.state {
		switch st {
		case StatePending, StateResumable, StateRunning, StateStopped:
			return true
		}
	}
	return false
}

// ready lists the stages that can start: pending or resumable, every
// dependency succeeded. Most work ahead first, then level order.
func (r *run) ready() []*StagePlan {
	var out []*StagePlan
	for _, s := range r.p.Stages {
		if st := r.state[s.Name]; st != StatePending && st != StateResumable {
			continue
		}
		ok := true
		for _, d := range s.DependsOn {
			if st := r.state[d]; st != StateDone && st != StateAlreadyDone {
				ok = false
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b *StagePlan) int { return cmp.Compare(b.Rest, a.Rest) })
	return out
}

// caps is each stage's own slot limit (its jobs option), 0 for none.
func (r *run) caps() map[string]int {
	caps := map[string]int{}
	for _, s := range r.p.Stages {
		o := s.Options()
		if o.Jobs == "" {
			continue
		}
		n, _, err := job.Slots(o.Jobs, job.SlotOptions{Command: runsCommand(s, r.o.Registry), IO: o.IO})
		if err == nil {
			caps[s.Name] = n
		}
	}
	return caps
}

// start runs stage s with slots slots in a goroutine of g.
func (r *run) start(ctx context.Context, g *errgroup.Group, s *StagePlan, slots int, results chan<- stageResult) {
	resume := r.state[s.Name] == StateResumable
	r.state[s.Name] = StateRunning
	r.free -= slots
	r.running++
	id := jobID(r.o.ID, s.Name)
	r.o.Logger.Info().Str("stage", s.Name).Str("job", id).Int("slots", slots).Bool("critical", s.Critical).
		Dur("estimate", s.Estimate).Msg("stage starting")
	if r.o.StageStarted != nil {
		r.o.StageStarted(s, id, slots)
	}
	g.Go(func() error {
		res := stageResult{s: s, slots: slots, start: time.Now(), resumed: resume}
		cfg, err := r.config(s, id, slots, resume)
		if err == nil {
			cfg.Started = func(string) { res.started = true }
			res.report, err = job.RunOn(ctx, r.o.Broker, cfg)
		}
		res.err, res.end = err, time.Now()
		results <- res // the loop receives until every stage has returned
		return nil
	})
}

// collect records a stage's result, skips the stages that depend on a
// failed one, and re-estimates the rest from the throughput so far.
func (r *run) collect(ctx context.Context, res stageResult) {
	s := res.s
	switch {
	case res.err == nil:
		r.finish(res, StateDone)
		r.learn(res)
	case errors.Is(res.err, job.ErrAlreadyDone):
		r.finish(res, StateAlreadyDone)
	case errors.Is(res.err, context.Canceled):
		r.finish(res, StateStopped)
	default:
		r.dropRefused(ctx, res)
		r.finish(res, StateFailed)
		skipped := r.skipDependents(s.Name)
		r.errs = append(r.errs, &StageError{Stage: s.Name, Job: jobID(r.o.ID, s.Name), Skipped: skipped, Err: res.err})
	}
}

// dropRefused drops the job of a stage that turned out to be bad input
// once it started (no live worker has its map function, say), as jetmr
// drops such a job: nothing of it can be resumed, and the stage runs
// again from the start once the input is fixed. A resumed job is kept,
// as is one whose output awaits its upload.
func (r *run) dropRefused(ctx context.Context, res stageResult) {
	if !res.started || res.resumed || !errors.Is(res.err, job.ErrBadInput) || errors.Is(res.err, job.ErrUploadFailed) {
		return
	}
	id := jobID(r.o.ID, res.s.Name)
	if _, err := job.DiscardOn(context.WithoutCancel(ctx), r.o.Broker, id); err != nil {
		r.o.Logger.Warn().Err(err).Str("stage", res.s.Name).Str("job", id).Msg("dropping the state of the refused stage")
	}
}

// learn folds a finished stage's throughput into the estimates.
func (r *run) learn(res stageResult) {
	s := res.s
	work := s.Work
	if res.report != nil && res.report.BytesIn > 0 && s.Kind.Traits().Split == schema.SplitFiles {
		work = float64(res.report.BytesIn)
	}
	if secs := res.end.Sub(res.start).Seconds(); secs > 0 && work > 0 {
		r.units[s.Kind] += work
		r.seconds[s.Kind] += secs
		r.tp[s.Kind] = r.units[s.Kind] / r.seconds[s.Kind]
	}
	if out := s.Output(); out != "" {
		s.OutputBytes, s.measured = pathSize(out), true
	}
	r.p.Estimate(r.tp)
}

// skipDependents marks every stage downstream of name as not run.
func (r *run) skipDependents(name string) []string {
	var skipped []string
	for _, s := range r.p.Stages { // level order: a dependent's dependents come later
		if r.state[s.Name] != StatePending && r.state[s.Name] != StateResumable {
			continue
		}
		for _, d := range s.DependsOn {
			if d == name || r.state[d] == StateNotRun {
				r.state[s.Name] = StateNotRun
				skipped = append(skipped, s.Name)
				break
			}
		}
	}
	return skipped
}

// finish records the end of a stage in the report.
func (r *run) finish(res stageResult, state string) {
	s := res.s
	r.state[s.Name] = state
	sr := StageReport{
		Name: s.Name, Kind: s.Kind, Job: jobID(r.o.ID, s.Name), DependsOn: slices.Clone(s.DependsOn), State: state,
		Start: res.start, End: res.end, Slots: res.slots, EstimateSeconds: s.Estimate.Seconds(), Report: res.report,
	}
	if !res.end.IsZero() {
		sr.Seconds = res.end.Sub(res.start).Seconds()
	}
	if res.err != nil && state != StateAlreadyDone && state != StateStopped { // stopped says it all
		sr.Error = failure(res.err)
	}
	r.report.Stages = append(r.report.Stages, sr)
	r.o.Logger.Info().Str("stage", s.Name).Str("state", state).Float64("seconds", sr.Seconds).Msg("stage ended")
	if r.o.StageEnded != nil {
		r.o.StageEnded(sr)
	}
}
