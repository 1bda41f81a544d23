package observe

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Trace writes attempts as Chrome trace-event JSON, the
// {"traceEvents":[...]} format that Perfetto (ui.perfetto.dev) and
// chrome://tracing open. Each ended attempt is one complete event ("ph":"X")
// named "task INDEX", with ts and dur in microseconds since the Unix epoch;
// its process is the worker (pid numbered 1, 2, ... in the order workers
// first appear, named "worker NAME" by a metadata event) and its thread the
// slot (tid = slot, named "slot N"). Failed attempts are coloured with the
// reserved colour names "terrible" (failed for good) and "bad" (retried).
//
// Events are streamed to w as attempts end; Close writes the closing
// brackets, without which the file is not valid JSON. Trace does not close w.
type Trace struct {
	mu      sync.Mutex
	w       io.Writer
	err     error
	started bool
	closed  bool
	pids    map[string]int
	tids    map[workerSlot]bool
	buf     []byte
}

type workerSlot struct {
	worker string
	slot   int
}

// NewTrace returns a Trace writing to w. Nothing is written before the
// first event or Close.
func NewTrace(w io.Writer) *Trace {
	return &Trace{w: w, pids: make(map[string]int), tids: make(map[workerSlot]bool)}
}

// metaEvent is a metadata event naming or ordering a process or thread.
type metaEvent struct {
	Name string         `json:"name"`
	Ph   string         `json:"ph"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Args map[string]any `json:"args"`
}

type taskArgs struct {
	Job        string `json:"job"`
	Stage      string `json:"stage"`
	Index      uint64 `json:"index"`
	Attempt    int    `json:"attempt"`
	BytesIn    int64  `json:"bytes_in"`
	BytesOut   int64  `json:"bytes_out"`
	Exit       int    `json:"exit"`
	Signal     string `json:"signal,omitempty"`
	Failed     bool   `json:"failed"`
	Retried    bool   `json:"retried"`
	Superseded bool   `json:"superseded,omitempty"`
}

type completeEvent struct {
	Name  string   `json:"name"`
	Cat   string   `json:"cat"`
	Ph    string   `json:"ph"`
	Ts    float64  `json:"ts"`
	Dur   float64  `json:"dur"`
	Pid   int      `json:"pid"`
	Tid   int      `json:"tid"`
	Cname string   `json:"cname,omitempty"`
	Args  taskArgs `json:"args"`
}

// AttemptEnded writes the attempt's complete event, preceded by metadata
// events naming its worker and slot the first time they appear.
func (t *Trace) AttemptEnded(a Attempt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.err != nil {
		return
	}
	pid, ok := t.pids[a.Worker]
	if !ok {
		pid = len(t.pids) + 1
		t.pids[a.Worker] = pid
		t.event(metaEvent{Name: "process_name", Ph: "M", Pid: pid, Args: map[string]any{"name": "worker " + a.Worker}})
		t.event(metaEvent{Name: "process_sort_index", Ph: "M", Pid: pid, Args: map[string]any{"sort_index": pid}})
	}
	if ws := (workerSlot{a.Worker, a.Slot}); !t.tids[ws] {
		t.tids[ws] = true
		t.event(metaEvent{Name: "thread_name", Ph: "M", Pid: pid, Tid: a.Slot, Args: map[string]any{"name": fmt.Sprintf("slot %d", a.Slot)}})
		t.event(metaEvent{Name: "thread_sort_index", Ph: "M", Pid: pid, Tid: a.Slot, Args: map[string]any{"sort_index": a.Slot}})
	}
	e := completeEvent{
		Name: fmt.Sprintf("task %d", a.Index), Cat: "task", Ph: "X",
		Ts:  float64(a.Start.UnixNano()) / 1e3,
		Dur: float64(a.Duration().Nanoseconds()) / 1e3,
		Pid: pid, Tid: a.Slot,
		Args: taskArgs{
			Job: a.Job, Stage: a.Stage, Index: a.Index, Attempt: a.Attempt,
			BytesIn: a.BytesIn, BytesOut: a.BytesOut, Exit: a.ExitCode, Signal: a.Signal,
			Failed: a.Failed, Retried: a.Retried, Superseded: a.Superseded,
		},
	}
	switch {
	case a.Superseded:
		e.Cname = "grey"
	case a.Failed && a.Retried:
		e.Cname = "bad"
	case a.Failed:
		e.Cname = "terrible"
	}
	t.event(e)
}

// event writes one event as one Write; t.mu is held.
func (t *Trace) event(e any) {
	if t.err != nil {
		return
	}
	t.buf = t.buf[:0]
	if !t.started {
		t.buf = append(t.buf, `{"displayTimeUnit":"ms","otherData":{"producer":"jetmr"},"traceEvents":[`+"\n"...)
		t.started = true
	} else {
		t.buf = append(t.buf, ",\n"...)
	}
	data, err := json.Marshal(e)
	if err != nil {
		t.err = fmt.Errorf("encoding a trace event: %w", err)
		return
	}
	t.buf = append(t.buf, data...)
	if _, err := t.w.Write(t.buf); err != nil {
		t.err = fmt.Errorf("writing the trace: %w", err)
	}
}

// Close ends the JSON document (writing an empty trace if no attempt
// ended), flushes w if it has a Flush method, and returns the first error
// writing the trace. Events after Close are ignored; Close is idempotent.
func (t *Trace) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return t.err
	}
	t.closed = true
	if t.err != nil {
		return t.err
	}
	tail := "\n]}\n"
	if !t.started {
		tail = `{"displayTimeUnit":"ms","otherData":{"producer":"jetmr"},"traceEvents":[]}` + "\n"
	}
	if _, err := io.WriteString(t.w, tail); err != nil {
		t.err = fmt.Errorf("writing the trace: %w", err)
		return t.err
	}
	if f, ok := t.w.(flusher); ok {
		if err := f.Flush(); err != nil {
			t.err = fmt.Errorf("writing the trace: %w", err)
		}
	}
	return t.err
}

// JobStarted does nothing: the trace has attempts only.
func (t *Trace) JobStarted(string, string, int64, int64, int) {}

// TasksPublished does nothing.
func (t *Trace) TasksPublished(string, string, int64, bool) {}

// AttemptStarted does nothing: the event is written when the attempt ends.
func (t *Trace) AttemptStarted(Attempt) {}

// JobEnded does nothing.
func (t *Trace) JobEnded(string, string, error) {}
