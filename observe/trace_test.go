package observe_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/observe"
)

type traceFile struct {
	TraceEvents []struct {
		Name string         `json:"name"`
		Ph   string         `json:"ph"`
		Ts   float64        `json:"ts"`
		Dur  float64        `json:"dur"`
		Pid  int            `json:"pid"`
		Tid  int            `json:"tid"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
}

func TestTrace(t *testing.T) {
	r := sampleRun()
	var buf bytes.Buffer
	tr := observe.NewTrace(&buf)
	r.replay(tr)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var f traceFile
	if err := json.Unmarshal(buf.Bytes(), &f); err != nil {
		t.Fatalf("trace does not parse as JSON: %v\n%s", err, buf.String())
	}
	workerPid := make(map[string]int)
	threads := make(map[[2]int]string)
	x := 0
	for _, e := range f.TraceEvents {
		switch e.Ph {
		case "M":
			switch e.Name {
			case "process_name":
				workerPid[e.Args["name"].(string)] = e.Pid
			case "thread_name":
				threads[[2]int{e.Pid, e.Tid}] = e.Args["name"].(string)
			}
		case "X":
			x++
			if !strings.HasPrefix(e.Name, "task ") || e.Dur < 0 || e.Ts < 1.7e15 {
				t.Errorf("bad complete event %+v", e)
			}
			if _, ok := threads[[2]int{e.Pid, e.Tid}]; !ok {
				t.Errorf("event %+v on an unnamed thread", e)
			}
			for _, k := range []string{"job", "stage", "index", "attempt", "bytes_in", "bytes_out", "exit", "failed"} {
				if _, ok := e.Args[k]; !ok {
					t.Errorf("event %s lacks arg %q", e.Name, k)
				}
			}
		default:
			t.Errorf("unexpected event phase %q", e.Ph)
		}
	}
	if x != len(r.attempts) {
		t.Errorf("%d complete events, want one per attempt: %d", x, len(r.attempts))
	}
	if len(workerPid) != 2 || workerPid["worker alpha-7f3c:4121"] == workerPid["worker beta-19ab:977"] {
		t.Errorf("worker processes %v", workerPid)
	}
	if len(threads) != 8 || threads[[2]int{workerPid["worker beta-19ab:977"], 3}] != "slot 3" {
		t.Errorf("threads %v", threads)
	}
}

func TestTraceEmpty(t *testing.T) {
	var buf bytes.Buffer
	tr := observe.NewTrace(&buf)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr.AttemptEnded(observe.Attempt{Worker: "late"}) // after Close: ignored
	var f traceFile
	if err := json.Unmarshal(buf.Bytes(), &f); err != nil || len(f.TraceEvents) != 0 {
		t.Errorf("empty trace %q: %v", buf.String(), err)
	}
}
