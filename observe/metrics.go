package observe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jetmr/jetmr/schema"
)

// Task states of jetmr_tasks_total.
const (
	StateQueued      = "queued"      // tasks published
	StateRunning     = "running"     // attempts started
	StateDone        = "done"        // tasks whose final attempt succeeded
	StateFailed      = "failed"      // tasks whose final attempt failed (dead letters)
	StateRedelivered = "redelivered" // attempts started after a task's first
)

// DurationBuckets are the bounds, in seconds, of jetmr_task_duration_seconds.
var DurationBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
}

// Metrics exports a run's progress as Prometheus metrics, labelled by job
// and stage:
//
//	jetmr_tasks_total{job,stage,state}      counter; state is one of
//	    queued       tasks published (from TasksPublished)
//	    running      attempts started
//	    done         tasks whose final attempt succeeded
//	    failed       tasks whose final attempt failed: the dead letters
//	    redelivered  attempts after a task's first
//	jetmr_task_duration_seconds{job,stage}  histogram of every ended attempt
//	jetmr_bytes_in_total{job,stage}         counter of input bytes of ended attempts
//	jetmr_bytes_out_total{job,stage}        counter of output bytes of ended attempts
//	jetmr_tasks_in_flight{job,stage}        gauge: attempts started and not ended (nor dropped)
//	jetmr_slots{job,stage}                  gauge: the job's task slots (of the workers seen)
//	jetmr_utilization{job,stage}            gauge: busy time / (slots × elapsed)
//
// A failed attempt that is retried counts in no end state; the next
// attempt shows as redelivered. Utilization counts the running attempts'
// time so far and is computed at each scrape, over the time since
// JobStarted (until JobEnded), of the slots of the workers whose attempts
// say how many they have (Attempt.Slots), or the job's slots before any
// did. Series stay after the job ends, so that the
// last scrape sees them; [Metrics.Forget] removes them.
//
// Metrics is a prometheus.Collector.
type Metrics struct {
	tasks    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	user     *prometheus.CounterVec // the jobs' user counters

	inFlightDesc, slotsDesc, utilDesc *prometheus.Desc

	mu   sync.Mutex
	jobs map[jobKey]*metricsJob
	now  func() time.Time
}

type metricsJob struct {
	start, end time.Time
	slots      int            // the job's, from JobStarted
	workers    map[string]int // the slots of each worker seen, when its attempts say
	published  int64
	busy       time.Duration
	running    map[attemptKey]time.Time
}

type attemptKey struct {
	index   uint64
	attempt int
	worker  string
	slot    int
}

func keyOf(a Attempt) attemptKey { return attemptKey{a.Index, a.Attempt, a.Worker, a.Slot} }

var jobLabels = []string{"job", "stage"}

// NewMetrics creates the metrics and registers them with reg, panicking if
// that fails (as promauto does); a nil reg registers nothing.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetmr_tasks_total",
			Help: "Tasks by state: queued (published), running (attempts started), done, failed (dead letters), redelivered (attempts after the first).",
		}, []string{"job", "stage", "state"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "jetmr_task_duration_seconds",
			Help:                            "How long task attempts ran, failed ones included.",
			Buckets:                         DurationBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: time.Hour,
		}, jobLabels),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetmr_bytes_in_total",
			Help: "Input bytes of ended task attempts.",
		}, jobLabels),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetmr_bytes_out_total",
			Help: "Output bytes of ended task attempts.",
		}, jobLabels),
		user: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetmr_user_counter_total",
			Help: "User counters of the merged tasks: reporter:counter:GROUP,NAME,AMOUNT lines of the job's commands, counter.Add of its functions.",
		}, []string{"job", "stage", "group", "name"}),
		inFlightDesc: prometheus.NewDesc("jetmr_tasks_in_flight",
			"Task attempts started and not yet ended.", jobLabels, nil),
		slotsDesc: prometheus.NewDesc("jetmr_slots",
			"Task slots the job runs on.", jobLabels, nil),
		utilDesc: prometheus.NewDesc("jetmr_utilization",
			"Busy time of task slots over slots times elapsed time, so far.", jobLabels, nil),
		jobs: make(map[jobKey]*metricsJob),
		now:  time.Now,
	}
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.tasks.Describe(ch)
	m.duration.Describe(ch)
	m.bytesIn.Describe(ch)
	m.bytesOut.Describe(ch)
	m.user.Describe(ch)
	ch <- m.inFlightDesc
	ch <- m.slotsDesc
	ch <- m.utilDesc
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.tasks.Collect(ch)
	m.duration.Collect(ch)
	m.bytesIn.Collect(ch)
	m.bytesOut.Collect(ch)
	m.user.Collect(ch)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, j := range m.jobs {
		ch <- prometheus.MustNewConstMetric(m.inFlightDesc, prometheus.GaugeValue, float64(len(j.running)), k.job, k.stage)
		ch <- prometheus.MustNewConstMetric(m.slotsDesc, prometheus.GaugeValue, float64(j.capacity()), k.job, k.stage)
		ch <- prometheus.MustNewConstMetric(m.utilDesc, prometheus.GaugeValue, j.utilization(now), k.job, k.stage)
	}
}

func (j *metricsJob) utilization(now time.Time) float64 {
	end := now
	if !j.end.IsZero() {
		end = j.end
	}
	elapsed := end.Sub(j.start)
	slots := j.capacity()
	if slots <= 0 || elapsed <= 0 {
		return 0
	}
	busy := j.busy
	for _, start := range j.running {
		if start.Before(end) {
			busy += end.Sub(later(start, j.start))
		}
	}
	return busy.Seconds() / (float64(slots) * elapsed.Seconds())
}

// capacity is the job's slots: those of the workers whose attempts said
// how many they have (workers in other processes included), or the
// job's own before any did.
func (j *metricsJob) capacity() int {
	if len(j.workers) == 0 {
		return j.slots
	}
	n := 0
	for _, s := range j.workers {
		n += s
	}
	return n
}

// sawWorker notes the slots of an attempt's worker; m.mu is held.
func (j *metricsJob) sawWorker(a Attempt) {
	if a.Slots <= 0 {
		return
	}
	if j.workers == nil {
		j.workers = make(map[string]int)
	}
	j.workers[a.Worker] = a.Slots
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// job returns the state of a job stage, creating it for events of a job
// whose JobStarted was missed; m.mu is held.
func (m *Metrics) job(job, stage string) *metricsJob {
	k := jobKey{job, stage}
	j := m.jobs[k]
	if j == nil {
		j = &metricsJob{start: m.now(), running: make(map[attemptKey]time.Time)}
		m.jobs[k] = j
	}
	return j
}

// JobStarted sets the job's slots and starts its utilization clock.
func (m *Metrics) JobStarted(job, stage string, totalTasks, _ int64, slots int) {
	m.mu.Lock()
	j := &metricsJob{start: m.now(), slots: slots, running: make(map[attemptKey]time.Time)}
	m.jobs[jobKey{job, stage}] = j
	m.mu.Unlock()
	m.tasks.WithLabelValues(job, stage, StateQueued).Add(0) // the series exist from the start
	for _, s := range []string{StateRunning, StateDone, StateFailed, StateRedelivered} {
		m.tasks.WithLabelValues(job, stage, s)
	}
	m.bytesIn.WithLabelValues(job, stage)
	m.bytesOut.WithLabelValues(job, stage)
	_ = totalTasks // queued counts published tasks, which TasksPublished reports
}

// TasksPublished adds the newly published tasks to the queued count.
func (m *Metrics) TasksPublished(job, stage string, n int64, _ bool) {
	m.mu.Lock()
	j := m.job(job, stage)
	delta := n - j.published
	if delta > 0 {
		j.published = n
	}
	m.mu.Unlock()
	if delta > 0 {
		m.tasks.WithLabelValues(job, stage, StateQueued).Add(float64(delta))
	}
}

// AttemptStarted counts a running attempt, and a redelivery after the first.
func (m *Metrics) AttemptStarted(a Attempt) {
	m.mu.Lock()
	j := m.job(a.Job, a.Stage)
	j.sawWorker(a)
	start := a.Start
	if start.IsZero() {
		start = m.now()
	}
	j.running[keyOf(a)] = start
	m.mu.Unlock()
	m.tasks.WithLabelValues(a.Job, a.Stage, StateRunning).Inc()
	if a.Attempt > 1 {
		m.tasks.WithLabelValues(a.Job, a.Stage, StateRedelivered).Inc()
	}
}

// AttemptEnded observes the attempt's duration and bytes, and counts the
// task done or failed when this is its final attempt.
func (m *Metrics) AttemptEnded(a Attempt) {
	d := a.Duration()
	m.mu.Lock()
	j := m.job(a.Job, a.Stage)
	delete(j.running, keyOf(a))
	j.sawWorker(a)
	j.busy += d
	m.mu.Unlock()
	m.duration.WithLabelValues(a.Job, a.Stage).Observe(d.Seconds())
	m.bytesIn.WithLabelValues(a.Job, a.Stage).Add(float64(max(a.BytesIn, 0)))
	m.bytesOut.WithLabelValues(a.Job, a.Stage).Add(float64(max(a.BytesOut, 0)))
	switch {
	case !a.final():
	case a.Failed:
		m.tasks.WithLabelValues(a.Job, a.Stage, StateFailed).Inc()
	default:
		m.tasks.WithLabelValues(a.Job, a.Stage, StateDone).Inc()
	}
}

// AttemptDropped takes an attempt whose end will not be known out of the
// running ones, without counting it in any end state, duration or bytes.
func (m *Metrics) AttemptDropped(a Attempt) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if j := m.jobs[jobKey{a.Job, a.Stage}]; j != nil {
		delete(j.running, keyOf(a))
	}
}

// JobEnded stops the job's utilization clock and forgets attempts still
// running.
func (m *Metrics) JobEnded(job, stage string, _ error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.job(job, stage)
	j.end = m.now()
	for _, start := range j.running {
		if start.Before(j.end) {
			j.busy += j.end.Sub(later(start, j.start))
		}
	}
	clear(j.running)
}

// Forget removes a job stage's series, for long-lived processes that run
// many jobs.
func (m *Metrics) Forget(job, stage string) {
	m.mu.Lock()
	delete(m.jobs, jobKey{job, stage})
	m.mu.Unlock()
	l := prometheus.Labels{"job": job, "stage": stage}
	m.tasks.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.bytesIn.DeletePartialMatch(l)
	m.bytesOut.DeletePartialMatch(l)
	m.user.DeletePartialMatch(l)
}

// Counted adds the user counters of a merged task. A Prometheus counter
// only grows: a negative amount is left out (the run report has it).
func (m *Metrics) Counted(job, stage string, counters []schema.Counter, _ string) {
	for _, c := range counters {
		if c.Value > 0 {
			m.user.WithLabelValues(job, stage, c.Group, c.Name).Add(float64(c.Value))
		}
	}
}

// Serve serves the metrics of g (prometheus.DefaultGatherer when nil) on
// http://addr/metrics until ctx ends. addr may have port 0 (":0",
// "127.0.0.1:0"): actualAddr is the address listened on. Listening errors
// are returned at once; after that the server runs in a goroutine, and wait
// blocks until it has shut down (gracefully, for up to 5 seconds, once ctx
// ends) and returns the error that stopped it, nil after ctx ended.
// Callers must call wait to learn that the goroutine has exited.
func Serve(ctx context.Context, addr string, g prometheus.Gatherer) (actualAddr string, wait func() error, err error) {
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("serving metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "jetmr metrics: see /metrics")
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		serveErr := make(chan error, 1)
		go func() { serveErr <- srv.Serve(ln) }()
		select {
		case err := <-serveErr:
			errc <- err
			return
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		if err != nil {
			srv.Close()
		}
		errc <- err
	}()
	var once sync.Once
	var result error
	wait = func() error {
		once.Do(func() { result = <-errc })
		return result
	}
	return ln.Addr().String(), wait, nil
}
