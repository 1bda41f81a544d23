package job_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetmr/jetmr/counter"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// counterOf is the value of counter group/name in r, and whether it is
// there.
func counterOf(r *report.Report, group, name string) (int64, bool) {
	for _, c := range r.Counters {
		if c.Group == group && c.Name == name {
			return c.Value, true
		}
	}
	return 0, false
}

// countingMap is a map command that counts its lines in
// reporter:counter:Map,Lines and fails its task's first attempt (after
// reporting) and times out its second (after reporting again): only the
// third attempt's counters may count.
const countingMap = `tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
n=$(wc -l < "$tmp" | tr -d ' ')
sum=$(cksum < "$tmp" | cut -d' ' -f1)
echo "reporter:counter:Map,Lines,$n" >&2
echo "reporter:counter:Map,Attempts,1" >&2
if [ ! -e "$MARKS/a1-$sum" ]; then touch "$MARKS/a1-$sum"; echo "first attempt fails" >&2; exit 1; fi
if [ ! -e "$MARKS/a2-$sum" ]; then touch "$MARKS/a2-$sum"; exec sleep 30; fi
echo "reporter:status:task of $n lines" >&2
awk '{ print $1 "\t1" }' "$tmp"
`

// TestCountersCountOnce runs a map command that reports counters on
// every attempt, of which the first fails and the second times out: the
// report counts each task's counters once, those of its successful
// attempt, so the lines counted are exactly the input's. The reducer
// command's counters count too.
func TestCountersCountOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marks := filepath.Join(dir, "marks")
	if err := os.Mkdir(marks, 0o755); err != nil {
		t.Fatal(err)
	}
	mapCmd := writeScript(t, dir, "count-map", "MARKS="+marks+"\n"+countingMap)
	reduceCmd := writeScript(t, dir, "count-reduce", `echo "reporter:counter:Reduce,Runs,1" >&2; exec uniq -c`)
	in := generatedText(t, "counters-once.txt", 32<<10, 31, true)
	lines := int64(bytes.Count(readFile(t, in), []byte("\n")))
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Output = schema.KindMapReduce, []string{in}, filepath.Join(dir, "out")
	cfg.Map, cfg.Reduce, cfg.Partitions, cfg.ChunkSize = mapCmd, reduceCmd, 3, 8<<10
	cfg.Retries, cfg.Timeout = 3, 2*time.Second
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, _ := counterOf(rep, "Map", "Lines"); got != lines {
		t.Errorf("Map,Lines = %d, want the input's %d lines: %+v", got, lines, rep.Counters)
	}
	if got, _ := counterOf(rep, "Map", "Attempts"); got != int64(rep.Tasks) {
		t.Errorf("Map,Attempts = %d, want one per task (%d): the failed and timed-out attempts counted", got, rep.Tasks)
	}
	if got, _ := counterOf(rep, "Reduce", "Runs"); got != 3 {
		t.Errorf("Reduce,Runs = %d, want one per partition (3)", got)
	}
	if rep.Tasks < 2 {
		t.Errorf("%d tasks: the test needs several", rep.Tasks)
	}
}

// TestCountersFromGoFunctions checks that Go map and reduce functions
// count through counter.Add with the context they are given, and that
// the map's counters reach the job's Prometheus metrics as tasks merge.
func TestCountersFromGoFunctions(t *testing.T) {
	t.Parallel()
	reg := mapper.NewRegistry()
	reg.RegisterMap("count-chunks", func(ctx context.Context, chunk []byte, emit mapper.Emitter) error {
		counter.Add(ctx, "Go", "Chunks", 1)
		for _, w := range strings.Fields(string(chunk)) {
			counter.Add(ctx, "Go", "Words", 1)
			if err := emit.Emit([]byte(w), []byte("1")); err != nil {
				return err
			}
		}
		return nil
	})
	reg.RegisterReduce("count-keys", func(ctx context.Context, key []byte, values [][]byte, emit func([]byte) error) error {
		counter.Add(ctx, "Go", "Keys", 1)
		return emit([]byte(fmt.Sprint(len(values))))
	})
	in := generatedText(t, "counters-go.txt", 64<<10, 32, true)
	words := int64(len(strings.Fields(string(readFile(t, in)))))
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Output, cfg.Registry = schema.KindMapReduce, []string{in}, filepath.Join(t.TempDir(), "out"), reg
	cfg.Map, cfg.Reduce, cfg.Partitions, cfg.ChunkSize = "count-chunks", "count-keys", 2, 8<<10
	promReg := prometheus.NewRegistry()
	cfg.Observer = observe.Multi(observe.NewMetrics(promReg))
	rep, err := runJob(t, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	keys := int64(len(readParts(t, cfg.Output, 2)))
	for _, want := range []struct {
		name  string
		value int64
	}{{"Chunks", int64(rep.Tasks)}, {"Words", words}, {"Keys", keys}} {
		if got, ok := counterOf(rep, "Go", want.name); !ok || got != want.value {
			t.Errorf("Go,%s = %d (present %v), want %d", want.name, got, ok, want.value)
		}
	}
	fams, err := promReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	metric := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "jetmr_user_counter_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			metric[labels["group"]+","+labels["name"]] = m.GetCounter().GetValue()
		}
	}
	if metric["Go,Words"] != float64(words) || metric["Go,Chunks"] != float64(rep.Tasks) || metric["Go,Keys"] != float64(keys) {
		t.Errorf("jetmr_user_counter_total: %v, want Go,Words %d, Go,Chunks %d and Go,Keys %d", metric, words, rep.Tasks, keys)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
