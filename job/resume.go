package job

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// ErrAlreadyDone is returned by a resume of a job that completed.
var ErrAlreadyDone = errors.New("job already complete")

// resume loads the job's record and checkpoints and checks that this run
// continues the same job. done reports a job that needs no more work.
func (s *session) resume(ctx context.Context) (done bool, err error) {
	entry, err := s.jobs.Get(ctx, s.record.ID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, badSetting("Config.ID", "there is no job %s to resume in this store: check Config.ID and Config.Broker.StoreDir (and Config.Broker.URL)", s.record.ID)
	}
	if err != nil {
		return false, fmt.Errorf("%w: loading job %s: %w", broker.ErrUnreachable, s.record.ID, err)
	}
	old, err := schema.DecodeJobRecord(entry.Value())
	if err != nil {
		return false, fmt.Errorf("loading job %s: %w", s.record.ID, err)
	}
	if err := s.compare(old); err != nil {
		return false, err
	}
	if err := s.checkChangedCommand(ctx, old); err != nil {
		return false, err
	}
	if err := s.checkResumedPaths(old); err != nil {
		return false, err
	}
	if old.WorkDir != "" && old.WorkDir != s.record.WorkDir {
		s.cfg.Logger.Info().Str("job", old.ID).Str("dir", old.WorkDir).
			Msg("resumed from another directory: the job's commands run in the directory of its first run")
	}
	next := old // its WorkDir too: its items and commands were written there
	if next.Pipeline == "" {
		next.Pipeline = s.record.Pipeline // a stage recorded before the field
	}
	next.Retries, next.TimeoutNanos = s.record.Retries, s.record.TimeoutNanos
	next.Speculative = s.record.Speculative // a setting of this run, like its retries
	if s.record.TaskTimeNanos > 0 {
		next.TaskTimeNanos = s.record.TaskTimeNanos // a new target; the split stays adaptive
	}
	if s.cfg.RetryFailed {
		next.Command, next.Map, next.MapCommand, next.Builtin = s.record.Command, s.record.Map, s.record.MapCommand, s.record.Builtin
		next.Reduce, next.ReduceCommand = s.record.Reduce, s.record.ReduceCommand
		next.CombineCommand = s.record.CombineCommand
		next.SQL = s.record.SQL
		next.SkipBad = s.record.SkipBad // compare let it only rise
		next.OkExit = s.record.OkExit   // compare let it only gain statuses
		next.Round++
	}
	s.record = next
	if s.job, err = s.resolve(s.record); err != nil {
		return false, err
	}
	switch old.State {
	case schema.StateDone:
		return true, fmt.Errorf("%w: job %s finished already; its output is %s", ErrAlreadyDone, old.ID, describeOutput(old))
	case schema.StateCommitting:
		if committed(old) {
			if s.cfg.upload != nil {
				if err := s.cfg.upload(ctx); err != nil {
					s.uploadErr = err
					s.finished = s.committedReport(ctx)
					return true, err
				}
				s.uploaded = true
			}
			s.record.State = schema.StateDone
			err := s.finishCommitted(ctx)
			s.finished = s.committedReport(ctx)
			return true, err
		}
	}
	if err := s.checkResumedOutput(old); err != nil {
		return false, err
	}
	if s.splitState, err = s.loadSplit(ctx); err != nil {
		return false, err
	}
	s.record.State = schema.StateRunning
	if err := s.putRecord(ctx); err != nil {
		return false, err
	}
	if s.b.Embedded() {
		// No other worker shares an embedded server: tasks the crashed run
		// had taken can be handed out at once instead of after AckWait.
		if err := s.b.JS.DeleteConsumer(ctx, schema.TaskStream(s.record.ID), schema.MapperConsumer); err != nil &&
			!errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return false, fmt.Errorf("resetting the task consumer of job %s: %w", s.record.ID, err)
		}
	}
	return false, nil
}

// checkResumedOutput refuses a resume that finds something at the job's
// output, which appears only when the job completes: a job started
// without --force found nothing there, so it appeared while the job was
// stopped, and the output would replace it. A job started with --force
// (old.Force), or resumed with it, replaces it when the job completes, as
// a first run would; until then it stays as it is. A job that writes an
// s3:// output stages it in its own store, where nothing but the job
// writes.
func (s *session) checkResumedOutput(old schema.JobRecord) error {
	if old.Force {
		s.cfg.Force = true // the sinks replace the output at commit
	}
	if old.Output == "" || s.cfg.Force {
		return nil
	}
	fi, err := os.Lstat(old.Output)
	if err != nil {
		return nil
	}
	what := "output"
	if fi.IsDir() {
		what = "output directory"
	}
	if s.cfg.upload != nil {
		if !old.Kind.Traits().Keyed {
			return nil
		}
		return badInput("%s %s exists: remove it to resume job %s", what, old.Output, old.ID)
	}
	return &errs.BadInputError{Setting: "Config.Output", Err: ErrOutputExists, Msg: fmt.Sprintf(
		"%s %s exists, and was not there when job %s started: move it away, or resume with --force to replace it when the job completes", what, old.Output, old.ID)}
}

// compare refuses a resume whose inputs or functions differ from the job's.
func (s *session) compare(old schema.JobRecord) error {
	cur := s.record
	if len(old.Inputs) == 0 {
		return badSetting("Config.Resume", "job %s reads a source that cannot be split again, so it cannot be resumed: run it again without Config.Resume", old.ID)
	}
	var diffs []string
	add := func(what, was, now string) {
		if was != now {
			diffs = append(diffs, fmt.Sprintf("%s was %s, now %s", what, was, now))
		}
	}
	add("the kind", string(old.Kind), string(cur.Kind))
	if !slices.Equal(old.Inputs, cur.Inputs) {
		diffs = append(diffs, inputsDiff(old.Inputs, cur.Inputs))
	}
	if slices.Equal(old.Inputs, cur.Inputs) {
		if err := inputsChanged(old, cur); err != nil {
			return err
		}
	}
	now := describeOutput(cur)
	if old.OutputURL == "" && cur.OutputURL != "" {
		now = cur.Output // a record written before OutputURL names its staging path
	}
	if !old.Kind.Traits().Rows { // a migration's output is its --table, compared below
		add("the output", describeOutput(old), now)
	}
	add("--partitions", fmt.Sprint(old.Partitions), fmt.Sprint(cur.Partitions))
	if s.chunkGiven {
		add("--chunk-size", fmt.Sprint(old.ChunkSize), fmt.Sprint(cur.ChunkSize))
	}
	if old.TaskTimeNanos == 0 && cur.TaskTimeNanos > 0 {
		diffs = append(diffs, fmt.Sprintf("--task-time was not given, now %s", time.Duration(cur.TaskTimeNanos)))
	}
	add("--header", fmt.Sprint(old.Header), fmt.Sprint(cur.Header))
	add("--header-once", fmt.Sprint(old.HeaderOnce), fmt.Sprint(cur.HeaderOnce))
	add("--recend", fmt.Sprintf("%q", old.RecEnd), fmt.Sprintf("%q", cur.RecEnd))
	add("--recstart", fmt.Sprintf("%q", old.RecStart), fmt.Sprintf("%q", cur.RecStart))
	add("--format", fmt.Sprintf("%q", old.Format), fmt.Sprintf("%q", cur.Format))
	if !s.cfg.RetryFailed || cur.SkipBad < old.SkipBad {
		// --retry-failed may raise the limit, to rerun the tasks refused
		// for going over it; lowering it would not undo the skips made.
		add("--skip-bad-records", fmt.Sprint(old.SkipBad), fmt.Sprint(cur.SkipBad))
	}
	if !s.cfg.RetryFailed || !okExitWidens(old.OkExit, cur.OkExit) {
		// --retry-failed may accept more statuses, to rerun the tasks that
		// failed on them: every task done under the old list is done under
		// the new one too. Dropping a status would not fail the tasks
		// already accepted for it. A record without the field (written
		// before it existed, or with no --ok-exit) holds the default, 0.
		add("--ok-exit", describeOkExit(old.OkExit), describeOkExit(cur.OkExit))
	}
	add("--key-fields", fmt.Sprint(max(old.KeyFields, 1)), fmt.Sprint(max(cur.KeyFields, 1)))
	add("--partition-fields", describePartitionFields(old), describePartitionFields(cur))
	add("--key-order", describeKeyOrder(old.KeyOrder), describeKeyOrder(cur.KeyOrder))
	add("--table", old.Table, cur.Table)
	add("--key", old.Key, cur.Key)
	add("--where", old.Where, cur.Where)
	add("--dir", old.Dir, cur.Dir)
	add("--shell", fmt.Sprint(old.Shell), fmt.Sprint(cur.Shell))
	if !s.cfg.RetryFailed {
		diffs = append(diffs, changedCommands(old, cur)...)
	}
	if len(diffs) > 0 {
		return badInput("cannot resume job %s: %s; resume with the job's own inputs, command and settings (only --retry-failed may change the command, raise --skip-bad-records or add statuses to --ok-exit)",
			old.ID, strings.Join(diffs, "; "))
	}
	if old.Kind.Traits().Ordered && old.Output == "" && old.State != schema.StateDone {
		return &errs.BadInputError{Setting: "Config.Resume", Err: ErrUnresumable,
			Msg: fmt.Sprintf("job %s wrote to stdout, which cannot be resumed: run it again without Config.Resume (use Config.Output to make a pipe job resumable)", old.ID)}
	}
	return nil
}

// okExitWidens reports whether the --ok-exit statuses now (a record's,
// sorted, 0 left out) hold every status of was.
func okExitWidens(was, now []int) bool {
	for _, n := range was {
		if !slices.Contains(now, n) {
			return false
		}
	}
	return true
}

// describeOkExit is a record's --ok-exit statuses as the flag takes them:
// 0, which always counts as success, then the others.
func describeOkExit(codes []int) string {
	var b strings.Builder
	b.WriteString("0")
	for _, n := range codes {
		fmt.Fprintf(&b, ",%d", n)
	}
	return b.String()
}

// changedCommands names the commands a --retry-failed resume changes:
// those of the job's tasks and its reducer.
func changedCommands(old, cur schema.JobRecord) []string {
	var changed []string
	add := func(what, was, now string) {
		if was != now {
			changed = append(changed, fmt.Sprintf("%s was %s, now %s", what, was, now))
		}
	}
	add("--sql", old.SQL, cur.SQL)
	add("the command", quoteArgv(old.Command), quoteArgv(cur.Command))
	add("--map", old.Map+quoteArgv(old.MapCommand), cur.Map+quoteArgv(cur.MapCommand))
	add("the built-in", old.Builtin, cur.Builtin)
	add("--reduce", old.Reduce+quoteArgv(old.ReduceCommand), cur.Reduce+quoteArgv(cur.ReduceCommand))
	add("--combiner", describeArgv(old.CombineCommand), describeArgv(cur.CombineCommand))
	return changed
}

// checkChangedCommand refuses a --retry-failed resume that changes a
// command while tasks of the job have not run yet: the new command may run
// its failed tasks again, but tasks that never ran would run under it next
// to those the old command finished, mixing two commands in one output.
func (s *session) checkChangedCommand(ctx context.Context, old schema.JobRecord) error {
	changed := changedCommands(old, s.record)
	if !s.cfg.RetryFailed || len(changed) == 0 || old.State == schema.StateDone || old.State == schema.StateCommitting {
		return nil
	}
	left, err := s.tasksLeft(ctx, old)
	if err != nil || left == "" {
		return err
	}
	return &CommandChangedError{Job: old.ID, Changes: changed, Left: left}
}

// CommandChangedError refuses a --retry-failed resume that changes a
// command while tasks are left to run. It matches [ErrCommandChanged] and
// [ErrBadInput].
type CommandChangedError struct {
	Job string
	// Changes names each command changed, as it was and is now.
	Changes []string
	// Left says which tasks have not run.
	Left string
}

func (e *CommandChangedError) Error() string {
	return fmt.Sprintf("cannot resume job %s: %s; %s, and running them with the new command would mix the output of two commands. "+
		"--retry-failed may change the command only to run failed tasks again: finish the job with its own command (resume it without changing the command), "+
		"or drop it and run the new command afresh (or under another --job):\n  jetmr discard %s", e.Job, e.Reason(), e.Left, e.Job)
}

// Reason names the change, without a way out.
func (e *CommandChangedError) Reason() string {
	return fmt.Sprintf("%v: %s", ErrCommandChanged, strings.Join(e.Changes, "; "))
}

// Is reports whether target is ErrCommandChanged or ErrBadInput.
func (e *CommandChangedError) Is(target error) bool {
	return target == ErrCommandChanged || target == ErrBadInput
}

// tasksLeft says which tasks of job old have neither succeeded nor
// failed while others succeeded, or returns "" when every task did one or
// the other, or none succeeded: then no output of the old command would
// be mixed with the new one's.
func (s *session) tasksLeft(ctx context.Context, old schema.JobRecord) (string, error) {
	split, err := s.loadSplit(ctx)
	if err != nil {
		return "", err
	}
	c, err := completedTasks(ctx, s.b.JS, old)
	if err != nil {
		return "", err
	}
	done, failed := c.done, c.failed
	if !split.Done && len(done) > 0 {
		return fmt.Sprintf("its input is not all split into tasks yet, and %d tasks ran with the old command", len(done)), nil
	}
	ran := uint64(len(done) + len(failed))
	if ran >= split.Published || len(done) == 0 {
		return "", nil // no task is left, or none has output of the old command
	}
	return fmt.Sprintf("%d of its %d tasks have not run, %d ran with the old command", split.Published-ran, split.Published, len(done)), nil
}

// inputsChanged refuses the resume of a job whose input files changed
// since it started: the tasks it finished read the old version, so going
// on would mix two versions in one output. Records written before input
// fingerprints are compared by size only.
func inputsChanged(old, cur schema.JobRecord) error {
	if slices.Contains(old.Inputs, splitter.Stdin) && !uploadOnly(old) {
		return badInput("job %s read standard input, which cannot be read again, so it cannot be resumed: run it again without --resume", old.ID)
	}
	if len(old.InputFingerprints) != len(old.Inputs) || len(cur.InputFingerprints) != len(cur.Inputs) {
		if !slices.Equal(old.InputSizes, cur.InputSizes) {
			return badInput("cannot resume job %s: the inputs changed size since the job started: run it again without --resume, under a new --job ID", old.ID)
		}
		return nil
	}
	var changed []string
	for i, path := range old.Inputs {
		if why := fingerprint(old.InputFingerprints[i]).Changes(fingerprint(cur.InputFingerprints[i])); len(why) > 0 {
			changed = append(changed, fmt.Sprintf("input %s changed since the job started: %s", path, strings.Join(why, ", ")))
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return badInput("cannot resume job %s: %s; its finished tasks read the earlier version, so resuming would mix two versions in one output: run it again without --resume, under a new --job ID%s",
		old.ID, strings.Join(changed, "; "), unfinishedOutput(old))
}

// unfinishedOutput names the partial output a job that will not be
// resumed leaves behind, for the user to remove, or returns "".
func unfinishedOutput(r schema.JobRecord) string {
	if !r.Kind.Traits().Ordered || r.Output == "" {
		return ""
	}
	tmp := reducer.TempPath(r.Output, r.ID)
	if _, err := os.Lstat(tmp); err != nil {
		return ""
	}
	return fmt.Sprintf(" (and remove its unfinished output %s)", tmp)
}

func fingerprint(f schema.InputFingerprint) splitter.Fingerprint {
	return splitter.Fingerprint{Size: f.Size, ModTime: f.ModTime, Dev: f.Dev, Ino: f.Ino, ETag: f.ETag}
}

// describeOutput names the output of job r as the user gave it: an
// s3:// output by its URL, not its staging path, and a migration by the
// table it writes.
func describeOutput(r schema.JobRecord) string {
	switch {
	case r.OutputURL != "":
		return r.OutputURL
	case r.Kind.Traits().Rows:
		return fmt.Sprintf("table %s of its database", r.Table)
	case r.Output == "":
		return "stdout"
	}
	return r.Output
}

func quoteArgv(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// committed reports whether a job that crashed while committing got as far
// as renaming its output into place.
func committed(r schema.JobRecord) bool {
	if _, err := os.Lstat(r.Output); err != nil {
		return false
	}
	_, err := os.Lstat(reducer.TempPath(r.Output, r.ID))
	return errors.Is(err, os.ErrNotExist)
}

// uploadOnly reports whether job r completed and committed its output,
// so that only the bookkeeping (and the upload of an s3:// output) is
// left: a resume reads none of its inputs, so one that read standard
// input may resume too.
func uploadOnly(r schema.JobRecord) bool {
	return r.State == schema.StateCommitting && committed(r)
}

// uploadStaged reports whether this run's s3:// output is staged whole
// already, by an earlier run whose upload failed: its resume reads no
// input.
func (p *plan) uploadStaged() bool {
	if p.cfg.upload == nil {
		return false
	}
	_, err := os.Lstat(p.cfg.Output)
	return err == nil
}

// finishCommitted completes the bookkeeping of a job whose output was
// published before its process stopped.
func (s *session) finishCommitted(ctx context.Context) error {
	if err := s.putRecord(ctx); err != nil {
		return err
	}
	spill, err := s.spillDir()
	if err == nil {
		s.spill = spill
		err = s.end(ctx, nil, nil)
	}
	if err != nil {
		return err
	}
	s.saveCommitted(ctx)
	if s.cfg.upload != nil {
		return fmt.Errorf("%w: job %s had completed before it stopped; its output is uploaded to %s now", ErrAlreadyDone, s.record.ID, s.cfg.outputURL)
	}
	return fmt.Errorf("%w: job %s had published its output %s before it stopped", ErrAlreadyDone, s.record.ID, describeOutput(s.record))
}

// saveCommitted records the job that finishCommitted completed as done,
// with the figures of the run that ran its tasks (its last snapshot):
// this run ran none.
func (s *session) saveCommitted(ctx context.Context) {
	st, ok := loadSnapshot(ctx, s.jobs, s.record.ID)
	if !ok {
		st = s.baseStatus(s.record, schema.StateDone)
	}
	base := s.baseStatus(s.record, schema.StateDone)
	st.Record, st.State, st.PID, st.Host, st.Output = base.Record, base.State, base.PID, base.Host, base.Output
	st.InFlight, st.Queued, st.Splitting = 0, 0, false
	// Its output was committed, so every task had completed: the last
	// snapshot of a process killed then may predate the last of them.
	st.TasksTotal = max(st.TasksTotal, s.record.Tasks)
	st.TasksDone = max(st.TasksDone, st.TasksTotal-min(st.TasksFailed, st.TasksTotal))
	if err := s.saveSnapshot(ctx, st); err != nil {
		s.cfg.Logger.Warn().Err(err).Msg("recording the job's status")
	}
}

func (s *session) loadSplit(ctx context.Context) (schema.SplitCheckpoint, error) {
	e, err := s.jobs.Get(ctx, schema.CheckpointKey(s.record.ID, schema.CheckpointSplit))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return schema.SplitCheckpoint{}, nil
	}
	if err != nil {
		return schema.SplitCheckpoint{}, fmt.Errorf("%w: loading the splitter checkpoint: %w", broker.ErrUnreachable, err)
	}
	return schema.DecodeSplitCheckpoint(e.Value())
}

// inputsDiff names the input files a resume adds and drops, and says so
// when only their order changed.
func inputsDiff(was, now []string) string {
	var added, removed []string
	for _, p := range now {
		if !slices.Contains(was, p) {
			added = append(added, p)
		}
	}
	for _, p := range was {
		if !slices.Contains(now, p) {
			removed = append(removed, p)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "new input(s) "+strings.Join(added, " "))
	}
	if len(removed) > 0 {
		parts = append(parts, "input(s) gone "+strings.Join(removed, " "))
	}
	if len(parts) == 0 {
		return "the inputs are the same files in another order"
	}
	return "the inputs differ: " + strings.Join(parts, "; ")
}

// describePartitionFields names a job's partition fields in a resume's
// differences.
func describePartitionFields(r schema.JobRecord) string {
	if r.PartitionFields == 0 {
		return "the whole key"
	}
	return fmt.Sprint(r.PartitionFields)
}

// describeKeyOrder names a job's key order in a resume's differences.
func describeKeyOrder(order string) string {
	if order == "" {
		return schema.OrderText
	}
	return order
}

// describeArgv names an optional command in a resume's differences.
func describeArgv(argv []string) string {
	if len(argv) == 0 {
		return "none"
	}
	return quoteArgv(argv)
}

// CheckResume checks, before anything runs, that a Run of cfg (with
// cfg.Resume) on b would continue its job: that the job exists with the
// same inputs and settings, and that a --retry-failed changing a command
// leaves no task to run under the new one. It changes nothing. A pipeline
// checks its stages so before it runs any; Run checks again.
func CheckResume(ctx context.Context, b *broker.Broker, cfg Config) error {
	p, err := validate(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.close()
	jobs, err := b.Jobs(ctx, 0)
	if err != nil {
		return fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	s := &session{plan: p, b: b, jobs: jobs}
	entry, err := jobs.Get(ctx, s.record.ID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil // it runs from the start
	}
	if err != nil {
		return fmt.Errorf("%w: loading job %s: %w", broker.ErrUnreachable, s.record.ID, err)
	}
	old, err := schema.DecodeJobRecord(entry.Value())
	if err != nil {
		return fmt.Errorf("loading job %s: %w", s.record.ID, err)
	}
	if old.State == schema.StateDone {
		return nil
	}
	if err := s.compare(old); err != nil {
		return err
	}
	if err := s.checkChangedCommand(ctx, old); err != nil {
		return err
	}
	return s.checkResumedPaths(old)
}

// relativePath reports whether a program or directory name is a relative
// path (./run.sh, bin/tool), which names a file of the directory the
// command runs in, rather than a name looked up on PATH or an absolute
// path.
func relativePath(name string) bool {
	return strings.ContainsRune(name, '/') && !filepath.IsAbs(name)
}

// checkCommand checks argv's program as command.Check does, save a
// relative path on a resume: the job's commands run in the directory of
// its first run, whichever directory the resume starts in, so
// checkResumedPaths checks it there once the job's record is loaded.
func (p *plan) checkCommand(argv []string) error {
	if p.cfg.Resume && len(argv) > 0 && relativePath(argv[0]) {
		return nil
	}
	return command.Check(argv)
}

// checkResumedPaths checks, for a resume of job old, the relative paths
// validation left to it: the programs of this run's commands (its
// command, map, reduce and combiner commands) and an each job's literal
// --dir, in the directory the job's commands run in. That is the
// directory of its first run (old.WorkDir) when this machine has it, else
// this process's own, as for the job's workers (mapper.Job.Dir). Every
// problem is named with that directory.
func (s *session) checkResumedPaths(old schema.JobRecord) error {
	dir := old.WorkDir
	if fi, err := os.Stat(dir); dir == "" || err != nil || !fi.IsDir() {
		dir = ""
	}
	cur := s.record
	var problems []error
	check := func(what string, argv []string) {
		if len(argv) == 0 || !relativePath(argv[0]) {
			return
		}
		problems = append(problems, resumedPath(old.ID, dir, what, argv[0], false))
	}
	if cur.Kind == schema.KindEach {
		if t, err := command.ParseTemplate(cur.Command); err == nil && !cur.Shell && cur.Builtin == "" {
			if name, ok := t.Literal(0); ok && cur.Dir == "" {
				check("the command", []string{name})
			}
		}
		if t, err := command.ParseTemplate([]string{cur.Dir}); err == nil && cur.Dir != "" && !t.UsesPlaceholders() && !filepath.IsAbs(cur.Dir) && s.local > 0 {
			problems = append(problems, resumedPath(old.ID, dir, "--dir", cur.Dir, true))
		}
	} else {
		check("the command", cur.Command)
	}
	check("--map", cur.MapCommand)
	check("--reduce", cur.ReduceCommand)
	check("--combiner", cur.CombineCommand)
	return errors.Join(problems...)
}

// resumedPath checks the relative path name (a program, or with isDir a
// directory) in dir ("": the current directory) for a resume of job id,
// and returns nil or bad input naming the problem, dir and the fix.
func resumedPath(id, dir, what, name string, isDir bool) error {
	path, where := name, "the current directory"
	if dir != "" {
		path = filepath.Join(dir, name)
		where = dir + ", the directory job " + id + " was submitted from, where a resume runs its commands whichever directory it starts in"
	}
	fi, err := os.Stat(path)
	switch {
	case isDir && errors.Is(err, fs.ErrNotExist):
		return badInput("cannot resume job %s: %s %s does not exist in %s: create it there", id, what, name, where)
	case isDir && err != nil:
		return badInput("cannot resume job %s: %s %s cannot be used in %s: %v", id, what, name, where, err)
	case isDir && !fi.IsDir():
		return badInput("cannot resume job %s: %s %s is not a directory in %s: make it one there", id, what, name, where)
	case isDir:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return &errs.BadInputError{Err: command.ErrNotFound,
			Msg: fmt.Sprintf("cannot resume job %s: %s %s is not found in %s: put it back there", id, what, name, where)}
	}
	if err := command.Check([]string{path}); err != nil {
		return badInput("cannot resume job %s: %s %s, in %s: %w", id, what, name, where, err)
	}
	return nil
}
