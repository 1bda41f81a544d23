package pipeline

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// config builds the job configuration of stage s: the options of its
// kind, as the matching command's flags would.
func (r *run) config(s *StagePlan, id string, slots int, resume bool) (job.Config, error) {
	o := s.Options()
	cfg := job.Config{
		ID: id, Pipeline: r.o.ID, Slots: slots, Resume: resume, RetryFailed: resume && r.o.RetryFailed, Force: r.o.Force,
		OkExit: o.OkExit, Timeout: o.Timeout, TaskTime: o.TaskTime, Transport: r.o.Transport, DataListen: r.o.DataListen, Registry: r.o.Registry, Stdout: r.o.Stdout,
		Broker: r.o.BrokerConfig, Observer: r.o.Observer,
		Logger: r.o.Logger.With().Str("stage", s.Name).Logger(),
	}
	if cfg.LocalWorkers = r.o.LocalWorkers; cfg.LocalWorkers > 0 {
		cfg.LocalWorkers = slots // this process runs the stage's share of the slots
	}
	if !s.Kind.Traits().Adaptive {
		cfg.TaskTime = 0 // a top-level task_time is for the stages that take it
	}
	if s.Kind.Traits().Bisect {
		cfg.SkipBadRecords = o.SkipBadRecords // a top-level one is for the stages that take it
	}
	switch {
	case o.Retries == nil:
	case *o.Retries == 0:
		cfg.Retries = -1 // job.Config: negative means none
	default:
		cfg.Retries = *o.Retries
	}
	var err error
	if o.Halt != "" {
		if cfg.Halt, err = job.ParseHalt(o.Halt); err != nil {
			return cfg, err
		}
	}
	if o.MemFree != "" {
		if cfg.MemFree, err = splitter.ParseSize(o.MemFree); err != nil {
			return cfg, err
		}
	}
	_, counted := chunkUnits[s.Kind]
	if o.ChunkSize != "" && !counted {
		if cfg.ChunkSize, err = splitter.ParseSize(o.ChunkSize); err != nil {
			return cfg, err
		}
	}
	if err := s.spec().configure(r, &cfg); err != nil {
		return cfg, err
	}
	if o.ChunkSize != "" && counted {
		if cfg.ChunkSize, err = strconv.ParseInt(o.ChunkSize, 10, 64); err != nil {
			return cfg, fmt.Errorf("chunk_size %q: %w", o.ChunkSize, err)
		}
	}
	return cfg, nil
}

// inputs replaces stage:NAME inputs by that stage's output.
func (r *run) inputs(in []string) []string {
	out := make([]string, len(in))
	for i, path := range in {
		if name, ok := strings.CutPrefix(path, StageRef); ok {
			path = r.p.Stage(name).Output()
		}
		out[i] = path
	}
	return out
}

// eachConfig fills the job configuration of an each stage, as jetmr each
// does from its flags; items_file is read when the stage starts, so an
// earlier stage may write it.
func eachConfig(e *EachSpec, cfg *job.Config) error {
	cfg.Kind, cfg.Command, cfg.Dir, cfg.Shell = schema.KindEach, e.Command, e.Dir, e.Shell
	cfg.KeepOrder, cfg.Join, cfg.Items = e.KeepOrder, e.Join, e.Items
	if e.ItemsFile == "" {
		return nil
	}
	f, err := os.Open(e.ItemsFile)
	if err != nil {
		return errs.BadInput("", "items_file %s: %w", e.ItemsFile, err)
	}
	defer f.Close()
	if cfg.Items, err = splitter.ReadItems(f, false); err != nil {
		return errs.BadInput("", "items_file %s: %w", e.ItemsFile, err)
	}
	return nil
}

// runsCommand reports whether the stage's tasks run commands rather than
// built-in functions, for -j auto.
func runsCommand(s *StagePlan, reg *mapper.Registry) bool { return s.spec().runsCommand(reg) }
