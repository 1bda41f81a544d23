package job

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// ErrNoWorker means no live worker can run the job: every worker seen
// refused it, typically because the job names a map or reduce function
// none of them registered. It is wrapped together with [ErrBadInput].
var ErrNoWorker = errors.New("no worker can run the job")

// How the submitter watches its workers when it runs no task itself:
// workers are looked at every workerCheckEvery; the job fails once every
// live worker refused it refuseLooks looks in a row; the wait for a worker
// is logged every waitLogEvery.
var (
	workerCheckEvery = time.Second
	refuseLooks      = 3
	waitLogEvery     = 10 * time.Second
)

// localWorkers is how many tasks the submitting process runs itself.
func localWorkers(cfg Config) (int, error) {
	switch {
	case cfg.LocalWorkers > 0:
		return cfg.LocalWorkers, nil
	case cfg.LocalWorkers == 0 && cfg.Broker.URL == "":
		return max(cfg.Slots, 1), nil
	case cfg.Broker.URL == "":
		return 0, badSetting("Config.LocalWorkers", "Config.LocalWorkers 0 needs Config.Broker.URL: no outside worker can join the embedded server, so no task would run")
	}
	return 0, nil
}

// resolve finds the job's functions in the registry. A submitter that runs
// no task needs only the reduce: the map may be one only the workers have.
func (p *plan) resolve(rec schema.JobRecord) (*mapper.Job, error) {
	resolve := mapper.ResolveJob
	if p.local == 0 {
		resolve = mapper.ResolveReduce
	}
	job, err := resolve(rec, p.reg)
	if err != nil {
		return nil, badInput("%w", err)
	}
	return job, nil
}

// workerFunction reports whether a --map that is neither registered here
// nor a command on PATH names a function of the job's workers: only when
// this process runs no task, and only for a bare name.
func (p *plan) workerFunction(spec string) bool {
	if p.local > 0 || spec == "" || strings.ContainsAny(spec, " \t\n/'\"") {
		return false
	}
	_, err := exec.LookPath(spec)
	return err != nil
}

// awaitWorkers watches the job's workers while this process runs none of
// its tasks: it logs while tasks wait and no worker takes them, and fails
// the job with ErrNoWorker once every live worker refused it for
// refuseLooks looks in a row.
func (s *session) awaitWorkers(ctx context.Context, red *reducer.Reducer) error {
	kv, err := s.b.Workers(ctx, 0)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	t := time.NewTicker(workerCheckEvery)
	defer t.Stop()
	refusedLooks, lastLog := 0, time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		queued, inFlight, ok := s.taskCounts(ctx)
		if !ok || queued == 0 {
			refusedLooks = 0
			continue
		}
		live, refusals := liveWorkers(ctx, kv, s.record.ID)
		if live > 0 && len(refusals) == live && inFlight == 0 {
			if refusedLooks++; refusedLooks >= refuseLooks {
				return badInput("%w: job %s: every live worker refused it: %s; start workers whose registry has the job's functions (a worker binary of your own, see mapper.Pool), or name a built-in",
					ErrNoWorker, s.record.ID, strings.Join(refusals, "; "))
			}
		} else {
			refusedLooks = 0
		}
		if inFlight == 0 && time.Since(lastLog) >= waitLogEvery {
			lastLog = time.Now()
			s.cfg.Logger.Warn().Str("job", s.record.ID).Uint64("queued", queued).Int("workers", live).
				Uint64("done", red.Completed()).
				Msg("waiting for workers: tasks are queued and no worker is running one; start one with: jetmr worker --nats URL")
		}
	}
}

// taskCounts is the number of tasks in the task stream and how many of
// them workers hold; ok is false when the broker did not answer.
func (s *session) taskCounts(ctx context.Context) (queued, inFlight uint64, ok bool) {
	stream, err := s.b.JS.Stream(ctx, schema.TaskStream(s.record.ID))
	if err != nil {
		return 0, 0, false
	}
	queued = stream.CachedInfo().State.Msgs
	cons, err := stream.Consumer(ctx, schema.MapperConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return queued, 0, true // no worker ever bound
	}
	if err != nil {
		return 0, 0, false
	}
	return queued, uint64(cons.CachedInfo().NumAckPending), true
}

// liveWorkers counts the workers with a fresh heartbeat and lists why
// those that refuse the job do.
func liveWorkers(ctx context.Context, kv jetstream.KeyValue, job string) (live int, refusals []string) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return 0, nil
	}
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			continue
		}
		st, err := schema.DecodeWorkerStatus(e.Value())
		if err != nil {
			continue
		}
		live++
		if why, ok := st.Refused[job]; ok {
			refusals = append(refusals, fmt.Sprintf("worker %s: %s", st.Name, why))
		}
	}
	slices.Sort(refusals)
	return live, refusals
}
