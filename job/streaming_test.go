package job_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// TestStreamingSettingsRefused checks that each bad Hadoop Streaming
// setting is bad input naming its setting, before anything is written.
func TestStreamingSettingsRefused(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "streaming-refused.txt", 4<<10, 21, true)
	cases := []struct {
		name    string
		mr      job.MapReduceConfig
		setting string
		want    string
	}{
		{"negative key fields", job.MapReduceConfig{KeyFields: -1}, "Config.KeyFields", "1 or more"},
		{"negative partition fields", job.MapReduceConfig{KeyFields: 2, PartitionFields: -1}, "Config.PartitionFields", "give 1 to 2"},
		{"zero partition fields, one key field", job.MapReduceConfig{PartitionFields: -1}, "Config.PartitionFields", "leave Config.PartitionFields out"},
		{"more key orders than key fields", job.MapReduceConfig{KeyOrder: "text,numeric,numeric,reverse"}, "Config.KeyOrder", "4 orders for 1 key fields: give at most 1"},
		{"more key orders than two key fields", job.MapReduceConfig{KeyFields: 2, KeyOrder: "text,numeric,reverse"}, "Config.KeyOrder", "raise Config.KeyFields to 3"},
		{"partition fields above key fields", job.MapReduceConfig{KeyFields: 2, PartitionFields: 3}, "Config.PartitionFields", "at most 2"},
		{"partition fields above the default key fields", job.MapReduceConfig{PartitionFields: 2}, "Config.PartitionFields", "raise Config.KeyFields"},
		{"unknown key order", job.MapReduceConfig{KeyOrder: "upwards"}, "Config.KeyOrder", schema.OrderNames},
		{"combiner with a built-in reduce", job.MapReduceConfig{Reduce: "sum", Combiner: "cat"}, "Config.Combiner", "already combines"},
		{"combiner with reduce none", job.MapReduceConfig{Reduce: schema.ReduceNone, Combiner: "cat"}, "Config.Combiner", "map-only"},
		{"combiner not found", job.MapReduceConfig{Combiner: "jetmr-no-such-combiner"}, "Config.Combiner", "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.Kind, cfg.Inputs, cfg.Output = schema.KindMapReduce, []string{in}, filepath.Join(t.TempDir(), "out")
			cfg.MapReduceConfig = tc.mr
			cfg.Map = "cat"
			if cfg.Reduce == "" {
				cfg.Reduce = "cat"
			}
			_, err := runJob(t, cfg)
			var bad *errs.BadInputError
			if !errors.As(err, &bad) || bad.Setting != tc.setting || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want bad input of %s saying %q", err, tc.setting, tc.want)
			}
			if _, err := os.Stat(cfg.Output); !os.IsNotExist(err) {
				t.Errorf("the output was written: %v", err)
			}
		})
	}
}

// TestStreamingFoldInKeyOrder runs a built-in reduce with a key order
// and a memory budget small enough that the reduce spills sorted runs:
// the part files hold the sums in the order sort -t TAB -k1,1nr -k2,2
// gives, each key in the partition of its first field.
func TestStreamingFoldInKeyOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	want := map[string]int64{}
	for range 200_000 {
		key := fmt.Sprintf("%d\tk%d", r.IntN(20_000)-5_000, r.IntN(5))
		n := int64(1 + r.IntN(9))
		fmt.Fprintf(&b, "%s\t%d\n", key, n)
		want[key] += n
	}
	in := filepath.Join(dir, "in.tsv")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const partitions = 3
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Output = schema.KindMapReduce, []string{in}, filepath.Join(dir, "out")
	cfg.Map, cfg.Reduce, cfg.Partitions, cfg.ChunkSize, cfg.Memory = "cat", "sum", partitions, 256<<10, 3<<20
	cfg.KeyFields, cfg.PartitionFields, cfg.KeyOrder = 2, 1, "numeric-reverse,text"
	if _, err := runJob(t, cfg); err != nil {
		t.Fatalf("Run: %v", err)
	}
	keys := schema.Keys{Fields: 2, PartitionFields: 1}
	got := map[string]int64{}
	for p := range partitions {
		data, err := os.ReadFile(filepath.Join(cfg.Output, reducer.PartName(p)))
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			key, v := keys.Split([]byte(line))
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				t.Fatalf("part %d: line %q: %v", p, line, err)
			}
			if part := keys.Partition(key, partitions); part != p {
				t.Fatalf("key %q is in part %d, its first field's partition is %d", key, p, part)
			}
			got[string(key)] = n
			order = append(order, string(key))
		}
		sorted := slices.Clone(order)
		slices.SortStableFunc(sorted, func(a, b string) int {
			fa, ra, _ := strings.Cut(a, "\t")
			fb, rb, _ := strings.Cut(b, "\t")
			na, _ := strconv.Atoi(fa)
			nb, _ := strconv.Atoi(fb)
			if na != nb {
				return nb - na
			}
			return strings.Compare(ra, rb)
		})
		if !slices.Equal(order, sorted) {
			t.Errorf("part %d is not in numeric-reverse,text order", p)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d keys, want %d", len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("key %q: sum %d, want %d", k, got[k], n)
		}
	}
}

// TestStreamingResumeRefusesOtherKeys checks that a resume with other key
// settings than the job started with is refused, naming them: the
// results already merged were cut, partitioned and sorted by the old ones.
func TestStreamingResumeRefusesOtherKeys(t *testing.T) {
	t.Parallel()
	in := generatedText(t, "streaming-resume.txt", 16<<10, 22, true)
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Output, cfg.ID = schema.KindMapReduce, []string{in}, filepath.Join(t.TempDir(), "out"), "keys"
	cfg.Map, cfg.Reduce, cfg.Retries = "false", "cat", -1
	cfg.KeyFields, cfg.KeyOrder = 2, "numeric"
	if _, err := runJob(t, cfg); !errors.As(err, new(*job.TasksFailedError)) {
		t.Fatalf("first run: got %v, want failed tasks", err)
	}
	cases := []struct {
		name        string
		retryFailed bool // which may change the commands, not the keys
		edit        func(*job.Config)
		want        string
	}{
		{"key fields", true, func(c *job.Config) { c.KeyFields = 3 }, "--key-fields was 2, now 3"},
		{"partition fields", true, func(c *job.Config) { c.PartitionFields = 1 }, "--partition-fields was the whole key, now 1"},
		{"key order", true, func(c *job.Config) { c.KeyOrder = "reverse" }, "--key-order was numeric, now reverse"},
		{"combiner", false, func(c *job.Config) { c.Combiner = "cat" }, `--combiner was none, now ["cat"]`},
	}
	for _, tc := range cases {
		resume := cfg
		resume.Resume, resume.RetryFailed = true, tc.retryFailed
		if tc.retryFailed {
			resume.Map = "cat"
		}
		tc.edit(&resume)
		_, err := runJob(t, resume)
		if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a refusal saying %q", tc.name, err, tc.want)
		}
	}
	resume := cfg
	resume.Resume, resume.RetryFailed, resume.Map = true, true, "cat"
	if _, err := runJob(t, resume); err != nil {
		t.Fatalf("resume with the job's own settings: %v", err)
	}
}

// TestStreamingMapOnlyPartitions runs a map-only job (reduce none) with 3
// partitions: each part file holds the lines of its keys' partition,
// sorted by key, lines of one key in input order, and the parts together
// hold every line the map printed, a line without a value as it was.
func TestStreamingMapOnlyPartitions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	r := rand.New(rand.NewPCG(5, 6))
	var lines []string
	for i := range 3000 {
		line := fmt.Sprintf("k%d\tv%d", r.IntN(300), i)
		if i%7 == 0 {
			line = fmt.Sprintf("bare%d", r.IntN(50))
		}
		lines = append(lines, line)
		b.WriteString(line + "\n")
	}
	in := filepath.Join(dir, "in.tsv")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const partitions = 3
	cfg := baseConfig(t)
	cfg.Kind, cfg.Inputs, cfg.Output = schema.KindMapReduce, []string{in}, filepath.Join(dir, "out")
	cfg.Map, cfg.Reduce, cfg.Partitions, cfg.ChunkSize = "cat", schema.ReduceNone, partitions, 4<<10
	if _, err := runJob(t, cfg); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The expected parts: the input's lines by partition, stably sorted by
	// key (the chunks are in input order, so a key's lines are too).
	want := make([][]string, partitions)
	for _, line := range lines {
		key, _, _ := strings.Cut(line, "\t")
		p := schema.Partition([]byte(key), partitions)
		want[p] = append(want[p], line)
	}
	for p := range partitions {
		slices.SortStableFunc(want[p], func(a, b string) int {
			ka, _, _ := strings.Cut(a, "\t")
			kb, _, _ := strings.Cut(b, "\t")
			return strings.Compare(ka, kb)
		})
		data, err := os.ReadFile(filepath.Join(cfg.Output, reducer.PartName(p)))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(want[p], "\n") + "\n"; string(data) != got {
			t.Errorf("part %d: %d bytes, want %d:\n%.300s\nwant:\n%.300s", p, len(data), len(got), data, got)
		}
	}
}
