package schema_test

import (
	"bytes"
	"errors"
	"hash/fnv"
	"io"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/schema"
)

func TestTaskRoundTrip(t *testing.T) {
	t.Parallel()
	for _, task := range []schema.Task{
		{Job: "j1", Index: 7, Path: "/data/in.log", Offset: 4096, Length: 100},
		{Job: "j-2_x", Index: 0, Inline: []byte("a\nb\n")},
		{Job: "j3", Index: 2, Path: "/data/in.csv", Offset: 10, Length: 5, Header: []byte("id,name\n")},
	} {
		data, err := schema.EncodeTask(task)
		if err != nil {
			t.Fatal(err)
		}
		got, err := schema.DecodeTask(data)
		if err != nil {
			t.Fatalf("DecodeTask: %v", err)
		}
		// A task with a header is of the version that added headers, so
		// that older workers leave it; others stay readable by every
		// worker.
		task.V = 1
		if task.Header != nil {
			task.V = 2
		}
		if got.Job != task.Job || got.Index != task.Index || got.Path != task.Path ||
			got.Offset != task.Offset || got.Length != task.Length || !bytes.Equal(got.Inline, task.Inline) || got.V != task.V ||
			!bytes.Equal(got.Header, task.Header) {
			t.Errorf("round trip: got %+v, want %+v", got, task)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	t.Parallel()
	r := schema.Result{
		Job: "j", Index: 3, Partition: 2, Attempt: 1, Worker: "h:1", Slot: 1, Slots: 2,
		Start: 10, End: 20, BytesIn: 5, BytesOut: 6, Spill: "/tmp/x", Exit: 7,
		Err: &schema.TaskError{Message: "boom", ExitStatus: 3, StderrTail: "bad line"},
	}
	data, err := schema.EncodeResult(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := schema.DecodeResult(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Index != 3 || got.Partition != 2 || got.Spill != "/tmp/x" || got.Err == nil || got.Err.ExitStatus != 3 || got.Duration() != 10 {
		t.Errorf("round trip: got %+v", got)
	}
}

func TestJobRecordRoundTrip(t *testing.T) {
	t.Parallel()
	rec := schema.JobRecord{ID: "job1", Kind: schema.KindMapReduce, Inputs: []string{"/a"}, Map: "wordcount", Reduce: "sum", Partitions: 4}
	data, err := schema.EncodeJobRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := schema.DecodeJobRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != rec.ID || got.Partitions != 4 || got.Map != "wordcount" {
		t.Errorf("round trip: got %+v", got)
	}
	streaming := schema.JobRecord{ID: "job2", Kind: schema.KindMapReduce, Inputs: []string{"/a"}, MapCommand: []string{"cat"},
		ReduceCommand: []string{"uniq", "-c"}, Partitions: 4, KeyFields: 3, PartitionFields: 1, KeyOrder: "text,numeric-reverse", CombineCommand: []string{"uniq"}}
	if data, err = schema.EncodeJobRecord(streaming); err != nil {
		t.Fatal(err)
	}
	if got, err = schema.DecodeJobRecord(data); err != nil {
		t.Fatal(err)
	}
	got.V = 0
	if !reflect.DeepEqual(got, streaming) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, streaming)
	}
	order, _ := schema.ParseKeyOrder(streaming.KeyOrder)
	if k := got.Keys(); !reflect.DeepEqual(k, schema.Keys{Fields: 3, PartitionFields: 1, Order: order}) {
		t.Errorf("Keys() = %+v", k)
	}
}

// TestJobRecordFingerprints round-trips a record's input fingerprints,
// and decodes a record written before they existed (a map without the
// field, as an earlier jetmr wrote it) with none, so that its resume falls
// back to comparing sizes.
func TestJobRecordFingerprints(t *testing.T) {
	t.Parallel()
	rec := schema.JobRecord{ID: "fp", Kind: schema.KindPipe, Partitions: 1, Inputs: []string{"/a", "/b"}, InputSizes: []int64{3, 4},
		InputFingerprints: []schema.InputFingerprint{{Size: 3, ModTime: 10, Dev: 1, Ino: 2}, {Size: 4, ModTime: 11, Dev: 1, Ino: 5}}}
	data, err := schema.EncodeJobRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := schema.DecodeJobRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.InputFingerprints, rec.InputFingerprints) {
		t.Errorf("fingerprints round-trip as %+v, want %+v", got.InputFingerprints, rec.InputFingerprints)
	}
	old, err := msgpack.Marshal(map[string]any{"v": 1, "id": "old", "kind": "pipe", "parts": 1,
		"inputs": []string{"/a"}, "sizes": []int64{3}, "chunk": 65536, "retries": 3, "created": 1, "state": "running"})
	if err != nil {
		t.Fatal(err)
	}
	got, err = schema.DecodeJobRecord(old)
	if err != nil {
		t.Fatalf("decoding a record without fingerprints: %v", err)
	}
	if got.InputFingerprints != nil || !reflect.DeepEqual(got.InputSizes, []int64{3}) {
		t.Errorf("record without fingerprints decodes as fingerprints %+v, sizes %v", got.InputFingerprints, got.InputSizes)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	enc := func(v any) []byte {
		data, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	cases := []struct {
		name string
		data []byte
		want error
		dec  func([]byte) error
	}{
		{"empty task", nil, schema.ErrMalformed, decodeTask},
		{"garbage task", []byte{0xc1, 0xff, 0x00}, schema.ErrMalformed, decodeTask},
		{"task of a newer version", enc(map[string]any{"v": schema.Version + 1, "job": "j"}), schema.ErrNewerVersion, decodeTask},
		{"task without version", enc(map[string]any{"job": "j"}), schema.ErrMalformed, decodeTask},
		{"task with bad job", enc(map[string]any{"v": 1, "job": "a.b"}), schema.ErrMalformed, decodeTask},
		{"task with negative range", enc(map[string]any{"v": 1, "job": "j", "off": -1}), schema.ErrMalformed, decodeTask},
		{"task with wrong field type", enc(map[string]any{"v": "one", "job": "j"}), schema.ErrMalformed, decodeTask},
		{"fetched task without checksum", enc(map[string]any{"v": 3, "job": "j", "path": "/a", "len": 1, "fetch": true}), schema.ErrMalformed, decodeTask},
		{"fetched task without path", enc(map[string]any{"v": 3, "job": "j", "len": 1, "fetch": true, "sum": []byte{1, 2, 3, 4}}), schema.ErrMalformed, decodeTask},
		{"fetched task with inline data", enc(map[string]any{"v": 3, "job": "j", "path": "/a", "len": 1, "fetch": true, "sum": []byte{1, 2, 3, 4}, "data": []byte("x")}), schema.ErrMalformed, decodeTask},
		{"empty range request", nil, schema.ErrMalformed, decodeRange},
		{"range request without path", enc(map[string]any{"v": 3, "len": 1}), schema.ErrMalformed, decodeRange},
		{"range request of nothing", enc(map[string]any{"v": 3, "path": "/a"}), schema.ErrMalformed, decodeRange},
		{"range request at a negative offset", enc(map[string]any{"v": 3, "path": "/a", "off": -1, "len": 1}), schema.ErrMalformed, decodeRange},
		{"range request of a newer version", enc(map[string]any{"v": schema.Version + 1, "path": "/a", "len": 1}), schema.ErrNewerVersion, decodeRange},
		{"result ending before start", enc(map[string]any{"v": 1, "job": "j", "start": 5, "end": 1}), schema.ErrMalformed, decodeResult},
		{"result with negative partition", enc(map[string]any{"v": 1, "job": "j", "p": -1}), schema.ErrMalformed, decodeResult},
		{"result of a newer version", enc(map[string]any{"v": 99, "job": "j"}), schema.ErrNewerVersion, decodeResult},
		{"reduce task of a newer version", enc(map[string]any{"v": schema.Version + 1, "job": "j", "tasks": 1, "dir": "/p"}), schema.ErrNewerVersion, decodeReduce},
		{"reduce task without a folder", enc(map[string]any{"v": schema.Version, "job": "j", "tasks": 1}), schema.ErrMalformed, decodeReduce},
		{"reduce task of a negative partition", enc(map[string]any{"v": schema.Version, "job": "j", "p": -1, "tasks": 1, "dir": "/p"}), schema.ErrMalformed, decodeReduce},
		{"done message with a path", enc(map[string]any{"v": schema.Version, "job": "j", "name": "../x"}), schema.ErrMalformed, decodeDone},
		{"done message of a bad job", enc(map[string]any{"v": schema.Version, "job": "a b", "name": ".part-0.a"}), schema.ErrMalformed, decodeDone},
		{"record of unknown kind", enc(map[string]any{"v": 1, "id": "j", "kind": "x", "parts": 1}), schema.ErrMalformed, decodeRecord},
		{"record with an unknown key order", enc(map[string]any{"v": 4, "id": "j", "kind": "mapreduce", "parts": 1, "korder": "sideways"}), schema.ErrMalformed, decodeRecord},
		{"record with more partition fields than key fields", enc(map[string]any{"v": 4, "id": "j", "kind": "mapreduce", "parts": 1, "keyf": 2, "partf": 3}), schema.ErrMalformed, decodeRecord},
		{"record with negative key fields", enc(map[string]any{"v": 4, "id": "j", "kind": "mapreduce", "parts": 1, "keyf": -1}), schema.ErrMalformed, decodeRecord},
		{"record without partitions", enc(map[string]any{"v": 1, "id": "j", "kind": "pipe"}), schema.ErrMalformed, decodeRecord},
		{"record with fingerprints for other inputs", enc(map[string]any{"v": 1, "id": "j", "kind": "pipe", "parts": 1,
			"inputs": []string{"/a", "/b"}, "fprints": []map[string]any{{"size": 1}}}), schema.ErrMalformed, decodeRecord},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.dec(c.data); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, c.want)
			}
		})
	}
}

func decodeTask(b []byte) error   { _, err := schema.DecodeTask(b); return err }
func decodeResult(b []byte) error { _, err := schema.DecodeResult(b); return err }
func decodeRecord(b []byte) error { _, err := schema.DecodeJobRecord(b); return err }
func decodeRange(b []byte) error  { _, err := schema.DecodeRangeRequest(b); return err }
func decodeReduce(b []byte) error { _, err := schema.DecodeReduceTask(b); return err }
func decodeDone(b []byte) error   { _, err := schema.DecodePartitionDone(b); return err }

func TestRunRoundTrip(t *testing.T) {
	t.Parallel()
	pairs := []schema.Pair{{Key: []byte(""), Value: []byte("0")}, {Key: []byte("a"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")}, {Key: []byte("b\t"), Value: nil}}
	var buf bytes.Buffer
	if err := schema.EncodeRun(&buf, pairs); err != nil {
		t.Fatal(err)
	}
	got, err := schema.DecodeRun(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pairs) {
		t.Fatalf("got %d pairs, want %d", len(got), len(pairs))
	}
	for i := range pairs {
		if !bytes.Equal(got[i].Key, pairs[i].Key) || !bytes.Equal(got[i].Value, pairs[i].Value) {
			t.Errorf("pair %d: got %q=%q, want %q=%q", i, got[i].Key, got[i].Value, pairs[i].Key, pairs[i].Value)
		}
	}
}

func TestRunRejectsUnsortedAndTruncated(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := schema.EncodeRun(&buf, []schema.Pair{{Key: []byte("b")}, {Key: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.DecodeRun(buf.Bytes()); !errors.Is(err, schema.ErrMalformed) {
		t.Errorf("unsorted run: got %v, want ErrMalformed", err)
	}
	buf.Reset()
	if err := schema.EncodeRun(&buf, []schema.Pair{{Key: []byte("a"), Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.DecodeRun(buf.Bytes()[:buf.Len()-1]); !errors.Is(err, schema.ErrMalformed) {
		t.Errorf("truncated run: got %v, want ErrMalformed", err)
	}
	r := schema.NewRunReader(bytes.NewReader(nil))
	if _, err := r.Next(); !errors.Is(err, schema.ErrMalformed) || errors.Is(err, io.EOF) {
		t.Errorf("empty input: got %v, want ErrMalformed", err)
	}
}

func TestPartition(t *testing.T) {
	t.Parallel()
	counts := make([]int, 4)
	for i := range 10000 {
		p := schema.Partition([]byte{byte(i), byte(i >> 8), 'k'}, 4)
		if p < 0 || p >= 4 {
			t.Fatalf("partition %d out of range", p)
		}
		counts[p]++
	}
	for p, n := range counts {
		if n < 2000 {
			t.Errorf("partition %d got %d of 10000 keys: hash spreads badly", p, n)
		}
	}
	if got := schema.Partition([]byte("hello"), 1); got != 0 {
		t.Errorf("one partition: got %d", got)
	}
	// The hash is part of the wire format: it must stay FNV-1a.
	for _, key := range []string{"", "hello", "naïve", "\xff\x00"} {
		h := fnv.New32a()
		h.Write([]byte(key))
		if got, want := schema.Partition([]byte(key), 1000), int(h.Sum32()%1000); got != want {
			t.Errorf("Partition(%q, 1000) = %d, want FNV-1a's %d", key, got, want)
		}
	}
}

// TestJobRecordBuiltin checks that an each job's built-in item function
// travels in its own field, that records written before that field
// existed (the built-in under "map") still decode to it, and that new
// records keep "map" for workers that predate it.
func TestJobRecordBuiltin(t *testing.T) {
	t.Parallel()
	rec := schema.JobRecord{ID: "j", Kind: schema.KindEach, Partitions: 1, Builtin: "echo"}
	data, err := schema.EncodeJobRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := schema.DecodeJobRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Builtin != "echo" || got.Map != "" {
		t.Errorf("decoded Builtin %q, Map %q; want echo and nothing", got.Builtin, got.Map)
	}
	var legacy map[string]any
	if err := msgpack.Unmarshal(data, &legacy); err != nil {
		t.Fatal(err)
	}
	if legacy["map"] != "echo" {
		t.Errorf("encoded map = %v, want echo for older workers", legacy["map"])
	}
	// A record from before Builtin: the built-in under "map" only.
	delete(legacy, "builtin")
	old, err := msgpack.Marshal(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = schema.DecodeJobRecord(old); err != nil || got.Builtin != "echo" || got.Map != "" {
		t.Errorf("old record: Builtin %q, Map %q, err %v; want echo, nothing, nil", got.Builtin, got.Map, err)
	}
	// A mapreduce job's map stays where it is.
	mr := schema.JobRecord{ID: "m", Kind: schema.KindMapReduce, Partitions: 1, Map: "wordcount"}
	data, _ = schema.EncodeJobRecord(mr)
	if got, err = schema.DecodeJobRecord(data); err != nil || got.Map != "wordcount" || got.Builtin != "" {
		t.Errorf("mapreduce record: Map %q, Builtin %q, err %v", got.Map, got.Builtin, err)
	}
}

// TestMessagesVersion checks that the messages that carry an input
// header, fetched tasks, the records of jobs with Hadoop Streaming
// settings, the messages of skip mode, those of reduce partitions run
// on workers and the records of jobs run by their submitter only are
// stamped with the version
// that added them, which workers that predate it leave alone, and the
// others with version 1.
func TestMessagesVersion(t *testing.T) {
	t.Parallel()
	version := func(data []byte, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			V int `msgpack:"v"`
		}
		if err := msgpack.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		return m.V
	}
	rec := schema.JobRecord{ID: "j", Kind: schema.KindPipe, Partitions: 1, Command: []string{"cat"}}
	withHeader := rec
	withHeader.Header, withHeader.HeaderOnce = 1, true
	withSkip := rec
	withSkip.SkipBad = 2
	keyed := schema.JobRecord{ID: "j", Kind: schema.KindMapReduce, Partitions: 2, MapCommand: []string{"cat"}, ReduceCommand: []string{"cat"}}
	streaming := func(change func(*schema.JobRecord)) schema.JobRecord {
		r := keyed
		change(&r)
		return r
	}
	migration := schema.JobRecord{ID: "j", Kind: schema.KindMigrate, Partitions: 1, DB: "sqlite:/a.db", Table: "t", Key: "id", SQL: "x"}
	localOnly := migration
	localOnly.LocalOnly = true
	localSkipping := localOnly
	localSkipping.SkipBad = 1
	migrationRun := migration
	migrationRun.MigrationRun = "20261204T212323.123456789Z-5f0c9a1e"
	localRun := localOnly
	localRun.MigrationRun = migrationRun.MigrationRun
	cases := []struct {
		name string
		v    int
		want int
	}{
		{"task", version(schema.EncodeTask(schema.Task{Job: "j", Path: "/a", Length: 1})), 1},
		{"task with a header", version(schema.EncodeTask(schema.Task{Job: "j", Path: "/a", Length: 1, Header: []byte("h\n")})), 2},
		{"fetched task", version(schema.EncodeTask(schema.Task{Job: "j", Path: "/a", Length: 1, Fetch: true, Sum: []byte{1, 2, 3, 4}})), 3},
		{"fetched task with a header", version(schema.EncodeTask(schema.Task{Job: "j", Path: "/a", Length: 1, Fetch: true, Sum: []byte{1, 2, 3, 4}, Header: []byte("h\n")})), 3},
		{"range request", version(schema.EncodeRangeRequest(schema.RangeRequest{Path: "/a", Length: 1})), 3},
		{"result", version(schema.EncodeResult(schema.Result{Job: "j"})), 1},
		{"failure with a header", version(schema.EncodeResult(schema.Result{Job: "j", TaskHeader: []byte("h\n")})), 2},
		{"job record", version(schema.EncodeJobRecord(rec)), 1},
		{"job record with headers", version(schema.EncodeJobRecord(withHeader)), 2},
		{"map-reduce job record", version(schema.EncodeJobRecord(keyed)), 1},
		{"job record with key fields", version(schema.EncodeJobRecord(streaming(func(r *schema.JobRecord) { r.KeyFields = 2 }))), 4},
		{"job record with partition fields", version(schema.EncodeJobRecord(streaming(func(r *schema.JobRecord) { r.KeyFields, r.PartitionFields = 2, 1 }))), 4},
		{"job record with a key order", version(schema.EncodeJobRecord(streaming(func(r *schema.JobRecord) { r.KeyOrder = "numeric" }))), 4},
		{"job record with a combiner", version(schema.EncodeJobRecord(streaming(func(r *schema.JobRecord) { r.CombineCommand = []string{"uniq"} }))), 4},
		{"map-only job record", version(schema.EncodeJobRecord(streaming(func(r *schema.JobRecord) { r.ReduceCommand, r.Reduce = nil, schema.ReduceNone }))), 7},
		{"job record with reduce on workers", version(schema.EncodeJobRecord(streaming(func(r *schema.JobRecord) { r.ReduceOnWorkers = true }))), 6},
		{"job record with reduce on workers skipping", version(schema.EncodeJobRecord(streaming(func(r *schema.JobRecord) { r.ReduceOnWorkers, r.SkipBad = true, 1 }))), 6},
		{"reduce task", version(schema.EncodeReduceTask(schema.ReduceTask{Job: "j", Tasks: 1, Dir: "/p"})), 6},
		{"partition done", version(schema.EncodePartitionDone(schema.PartitionDone{Job: "j", Name: ".part-0.a"})), 6},
		{"split checkpoint", version(schema.EncodeCheckpoint(&schema.SplitCheckpoint{CursorPath: "/a"})), 1},
		{"split checkpoint with a header", version(schema.EncodeCheckpoint(&schema.SplitCheckpoint{CursorPath: "/a", CursorHeader: []byte("h\n")})), 2},
		{"job record skipping bad records", version(schema.EncodeJobRecord(withSkip)), 5},
		{"migrate job record", version(schema.EncodeJobRecord(migration)), 1},
		{"job record of tasks run by the submitter only", version(schema.EncodeJobRecord(localOnly)), 8},
		{"job record of tasks run by the submitter only, skipping", version(schema.EncodeJobRecord(localSkipping)), 8},
		{"migrate job record with a run", version(schema.EncodeJobRecord(migrationRun)), 9},
		{"job record of tasks run by the submitter only, with a run", version(schema.EncodeJobRecord(localRun)), 9},
		{"result that skipped records", version(schema.EncodeResult(schema.Result{Job: "j", Skipped: []schema.BadRecord{{Offset: 4, Length: 2}}})), 5},
		{"failure with isolated records", version(schema.EncodeResult(schema.Result{Job: "j", Err: &schema.TaskError{Message: "x"},
			Isolation: &schema.Isolation{Outcome: schema.IsolatedRecords, Records: []schema.BadRecord{{Offset: 4, Length: 2}}}})), 1},
	}
	for _, tc := range cases {
		if tc.v != tc.want || tc.want > schema.Version {
			t.Errorf("%s: version %d, want %d (Version %d)", tc.name, tc.v, tc.want, schema.Version)
		}
	}
}
