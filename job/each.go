package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/splitter"
)

// ErrJoinFailed means every item of an each job succeeded but its --join
// command failed.
var ErrJoinFailed = errors.New("join command failed")

// prepareEach checks an each job's items and command and sets its source,
// batch size (items per task) and window.
func (p *plan) prepareEach() error {
	cfg := p.cfg
	if err := splitter.CheckItems(cfg.Items); err != nil {
		return err // bad input already
	}
	items := splitter.Items(cfg.Items)
	p.source = items
	switch {
	case p.cfg.ChunkSize != 0:
	case cfg.Halt.When == HaltSoon || cfg.Halt.When == HaltNow:
		// --halt counts failed tasks and stops starting tasks: one item a
		// task makes it count and stop items, as GNU parallel does.
		p.cfg.ChunkSize = 1
	default:
		p.cfg.ChunkSize = splitter.DefaultItemsPerTask(len(items), cfg.Slots)
	}
	if p.cfg.Window <= 0 {
		p.cfg.Window = max(8*cfg.Slots, 32)
	}
	p.cfg.Observer = itemObserver{Observer: cfg.Observer, bounds: items.Batches(p.cfg.ChunkSize), items: len(items)}
	return nil
}

// validateEach checks the command (or built-in), the directory template,
// the join command and the output, and records them.
func (p *plan) validateEach() error {
	cfg := p.cfg
	p.record.Command, p.record.Dir, p.record.Shell, p.record.Builtin = cfg.Command, cfg.Dir, cfg.Shell, cfg.Builtin
	switch {
	case cfg.Builtin != "":
		if len(cfg.Command) > 0 {
			return badInput("each runs either a built-in (%s) or a command, not both", cfg.Builtin)
		}
	case len(cfg.Command) == 0:
		return badInput("each needs a command: put it after --, e.g. jetmr each ::: a b -- echo {}")
	}
	if _, err := mapper.NewEachCommand(p.record); err != nil {
		return badInput("%w", err)
	}
	if err := checkProgram(cfg); err != nil {
		return err
	}
	if err := p.checkDir(); err != nil {
		return err
	}
	if len(cfg.Join) > 0 {
		if err := command.Check(cfg.Join); err != nil {
			return badSetting("Config.Join", "Config.Join: %w", err)
		}
		if _, err := command.ParseTemplate(cfg.Join); err != nil {
			return badSetting("Config.Join", "Config.Join: %w", err)
		}
	}
	if cfg.Output == "" {
		return nil
	}
	out, err := p.checkOutputPath(cfg.Output)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return badInput("output %s is a directory: give a file path to -o", cfg.Output)
	}
	if err := p.checkExists(out); err != nil {
		return err
	}
	p.record.Output = out
	return nil
}

// checkDir checks a literal --dir, when this process runs tasks: it must
// be an existing directory. A template (--dir {}) is checked per item, as
// the item runs.
func (p *plan) checkDir() error {
	dir := p.cfg.Dir
	if dir == "" || p.local == 0 || (p.cfg.Resume && !filepath.IsAbs(dir)) {
		return nil // on a resume, a relative one is checked in the job's directory (checkResumedPaths)
	}
	t, err := command.ParseTemplate([]string{dir})
	if err != nil || t.UsesPlaceholders() {
		return nil // NewEachCommand reported a bad template
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return badInput("--dir %s does not exist: create it, or give an existing directory", dir)
	case err != nil:
		return badInput("--dir %s cannot be used: %v", dir, err)
	case !fi.IsDir():
		return badInput("--dir %s is not a directory: give a directory", dir)
	}
	return nil
}

// checkProgram checks that the program of an each job's command can be
// found: sh for --shell; a literal program name on PATH, or a path
// (unless --dir makes a relative path mean another place per item, or a
// resume one of the job's directory, where checkResumedPaths looks). A
// program named by a placeholder is found per item.
func checkProgram(cfg Config) error {
	if cfg.Shell {
		if err := command.Check([]string{"sh"}); err != nil {
			return badSetting("Config.Shell", "Config.Shell: %w", err)
		}
		return nil
	}
	t, err := command.ParseTemplate(cfg.Command)
	if err != nil {
		return badInput("%w", err)
	}
	name, ok := t.Literal(0)
	if !ok || (cfg.Dir != "" && relativePath(name)) || (cfg.Resume && relativePath(name)) {
		return nil // per item; or, on a resume, in the job's directory (checkResumedPaths)
	}
	if err := command.Check([]string{name}); err != nil {
		return badInput("%w", err)
	}
	return nil
}

// newEachSink opens an each job's output; with a join command the join
// file goes to the temporary directory, named after the job.
func (s *session) newEachSink() (reducer.Sink, error) {
	out := s.cfg.Stdout
	if out == nil {
		out = os.Stdout
	}
	cfg := reducer.EachConfig{
		Path: s.record.Output, Stream: out, Job: s.record.ID, KeepOrder: s.cfg.KeepOrder,
		Sync: s.cfg.Broker.Sync == broker.SyncAlways,
	}
	if len(s.cfg.Join) > 0 {
		cfg.JoinPath = filepath.Join(os.TempDir(), "jetmr-join-"+s.record.ID+".jsonl")
		cfg.Join = s.runJoin // before the output is published: a failed join fails the job
	}
	sink, err := reducer.NewEachSink(cfg)
	if err != nil {
		return nil, err
	}
	s.each, s.joinPath = sink, cfg.JoinPath
	return sink, nil
}

// runJoin runs the --join command once every item succeeded, before the
// output file is published: the join file replaces {} in it, or, without
// {}, is its stdin. Its stdout goes where the items' output went when that
// is a stream, else to Stdout; its stderr to the process's stderr. The
// join file is removed when the command succeeds and kept, named in the
// error, when it fails. A failed join fails the job, which keeps its state:
// a resume runs the join again. Stopping the job stops the join, and the
// error wraps ctx's.
func (s *session) runJoin(ctx context.Context) error {
	t, err := command.ParseTemplate(s.cfg.Join)
	if err != nil {
		return badSetting("Config.Join", "Config.Join: %w", err)
	}
	f, err := os.Open(s.joinPath)
	if err != nil {
		return fmt.Errorf("opening the join file: %w", err)
	}
	defer f.Close()
	argv := s.cfg.Join
	var stdin io.Reader = f
	if t.UsesPlaceholders() {
		argv, stdin = t.Expand(s.joinPath, 0), nil
	}
	var stdout io.Writer = os.Stdout
	if s.cfg.Stdout != nil {
		stdout = s.cfg.Stdout
	}
	// Through package command, like every user command: in its own process
	// group, so that stopping the job kills the join and its children.
	if err := command.RunTee(ctx, argv, stdin, stdout, os.Stderr); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %s: stopped: %w", ErrJoinFailed, strings.Join(argv, " "), ctx.Err())
		}
		return fmt.Errorf("%w: %s: %w; its input is kept in %s", ErrJoinFailed, strings.Join(argv, " "), err, s.joinPath)
	}
	os.Remove(s.joinPath)
	return nil
}

// itemObserver counts an each job's progress in items: the splitter
// reports tasks published, which it turns into the items they carry
// (workers report each item's attempts themselves).
type itemObserver struct {
	observe.Observer
	bounds []int // first item of each task
	items  int
}

// AttemptDropped passes a drop on to an observer that hears of them.
func (o itemObserver) AttemptDropped(a observe.Attempt) {
	if d, ok := o.Observer.(observe.DropObserver); ok {
		d.AttemptDropped(a)
	}
}

func (o itemObserver) TasksPublished(job, stage string, n int64, total bool) {
	items := o.items
	if n < int64(len(o.bounds)) {
		items = o.bounds[n]
	}
	o.Observer.TasksPublished(job, stage, int64(items), total)
}
