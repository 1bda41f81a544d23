package schema_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// The decoders read bytes from the network: whatever arrives, they return
// a value or an error, never panic.

func FuzzDecodeTask(f *testing.F) {
	good, _ := schema.EncodeTask(schema.Task{Job: "j", Index: 1, Path: "/a", Offset: 1, Length: 2})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := schema.DecodeTask(data)
		if err != nil {
			return
		}
		again, err := schema.EncodeTask(task)
		if err != nil {
			t.Fatalf("re-encoding a decoded task: %v", err)
		}
		if _, err := schema.DecodeTask(again); err != nil {
			t.Fatalf("a re-encoded task does not decode: %v", err)
		}
	})
}

func FuzzDecodeRangeRequest(f *testing.F) {
	good, _ := schema.EncodeRangeRequest(schema.RangeRequest{Index: 3, Path: "/a", Offset: 1, Length: 2})
	f.Add(good)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := schema.DecodeRangeRequest(data)
		if err == nil && (r.Path == "" || r.Offset < 0 || r.Length <= 0) {
			t.Fatalf("accepted the range %q %d+%d", r.Path, r.Offset, r.Length)
		}
	})
}

func FuzzDecodeResult(f *testing.F) {
	good, _ := schema.EncodeResult(schema.Result{Job: "j", Index: 1, Start: 1, End: 2, Payload: []byte("x"), Err: &schema.TaskError{Message: "m"}})
	f.Add(good)
	f.Add([]byte{0x81, 0xa1, 'v', 0x01})
	bad := []schema.BadRecord{{Offset: 4, Length: 2, Preview: []byte("x\n"), Data: []byte("x\n"), Err: schema.TaskError{Message: "m", ExitStatus: 3}}}
	skipped, _ := schema.EncodeResult(schema.Result{Job: "j", Index: 1, Start: 1, End: 2, Payload: []byte("x"), Skipped: bad})
	f.Add(skipped)
	isolated, _ := schema.EncodeResult(schema.Result{Job: "j", Index: 1, Start: 1, End: 2, Err: &schema.TaskError{Message: "m"},
		Isolation: &schema.Isolation{Records: bad, Attempts: 3, Outcome: schema.IsolatedRecords}})
	f.Add(isolated)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := schema.DecodeResult(data)
		if err == nil && r.End < r.Start {
			t.Fatalf("accepted a result that ends before it starts")
		}
	})
}

func FuzzDecodeJobRecord(f *testing.F) {
	good, _ := schema.EncodeJobRecord(schema.JobRecord{ID: "j", Kind: schema.KindPipe, Partitions: 1, Command: []string{"cat"}})
	f.Add(good)
	skip, _ := schema.EncodeJobRecord(schema.JobRecord{ID: "j", Kind: schema.KindPipe, Partitions: 1, Command: []string{"cat"}, SkipBad: 3})
	f.Add(skip)
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := schema.DecodeJobRecord(data)
		if err == nil && j.SkipBad < 0 {
			t.Fatalf("accepted a record skipping %d bad records", j.SkipBad)
		}
	})
}

func FuzzDecodeRun(f *testing.F) {
	var buf bytes.Buffer
	_ = schema.EncodeRun(&buf, []schema.Pair{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}})
	f.Add(buf.Bytes())
	f.Add([]byte{0xdd, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, err := schema.DecodeRun(data)
		if err != nil {
			return
		}
		for i := 1; i < len(pairs); i++ {
			if bytes.Compare(pairs[i-1].Key, pairs[i].Key) > 0 {
				t.Fatalf("accepted an unsorted run")
			}
		}
	})
}

func FuzzDecodeItemBatch(f *testing.F) {
	good, _ := schema.EncodeItemBatch(schema.ItemBatch{First: 3, Items: []string{"a b", "$(x)", "-rf"}})
	f.Add(good)
	f.Add([]byte{0x83, 0xa1, 'v', 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := schema.DecodeItemBatch(data)
		if err != nil {
			return
		}
		if len(b.Items) == 0 {
			t.Fatal("accepted a batch without items")
		}
		again, err := schema.EncodeItemBatch(b)
		if err != nil {
			t.Fatalf("re-encoding a decoded batch: %v", err)
		}
		if _, err := schema.DecodeItemBatch(again); err != nil {
			t.Fatalf("a re-encoded batch does not decode: %v", err)
		}
	})
}

func FuzzDecodeItemResults(f *testing.F) {
	good, _ := schema.EncodeItemResults(schema.ItemResults{Items: []schema.ItemResult{{Seq: 1, Item: "x", Exit: 2, Start: 1, End: 2, Output: []byte("out\n")}, {Seq: 2, Item: "y", Accepted: 5}}})
	f.Add(good)
	f.Add([]byte{0x82, 0xa1, 'v', 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := schema.DecodeItemResults(data)
		if err != nil {
			return
		}
		for _, it := range r.Items {
			if it.End < it.Start {
				t.Fatal("accepted an item that ends before it starts")
			}
		}
	})
}

func FuzzDecodeWorkerStatus(f *testing.F) {
	good, _ := schema.EncodeWorkerStatus(schema.WorkerStatus{Name: "h:1", Slots: 2, Jobs: []string{"j"}, Refused: map[string]string{"k": "unknown function"}})
	f.Add(good)
	f.Add([]byte{0x81, 0xa1, 'v', 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := schema.DecodeWorkerStatus(data)
		if err != nil {
			return
		}
		again, err := schema.EncodeWorkerStatus(s)
		if err != nil {
			t.Fatalf("re-encoding a decoded status: %v", err)
		}
		if _, err := schema.DecodeWorkerStatus(again); err != nil {
			t.Fatalf("a re-encoded status does not decode: %v", err)
		}
	})
}

func FuzzDecodeAttemptNote(f *testing.F) {
	good, _ := schema.EncodeAttemptNote(schema.AttemptNote{Index: 3, Worker: "h:1", Slot: 1, Slots: 2, Start: 5, Ended: true, Backup: true})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x81, 0xa1, 'v', 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := schema.DecodeAttemptNote(data)
		if err != nil {
			return
		}
		if n.Worker == "" || n.Slot < 0 || n.Slots < 0 {
			t.Fatalf("accepted a note without a worker or with a negative slot: %+v", n)
		}
		again, err := schema.EncodeAttemptNote(n)
		if err != nil {
			t.Fatalf("re-encoding a decoded note: %v", err)
		}
		back, err := schema.DecodeAttemptNote(again)
		back.V, n.V = 0, 0 // encoding stamps the current version
		if err != nil || back != n {
			t.Fatalf("a re-encoded note decodes to %+v, %v; want %+v", back, err, n)
		}
	})
}

func FuzzDecodeAttemptEnd(f *testing.F) {
	good, _ := schema.EncodeAttemptEnd(schema.AttemptEnd{Index: 3, Attempt: 2, Worker: "h:1", Slot: 1, Start: 5, End: 9,
		BytesIn: 10, Exit: 3, Signal: "KILL", Failed: true, Retried: true, Backup: true})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x81, 0xa1, 'v', 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := schema.DecodeAttemptEnd(data)
		if err != nil {
			return
		}
		if e.Worker == "" || e.Slot < 0 || e.Attempt < 1 || e.End < e.Start {
			t.Fatalf("accepted an attempt end without a worker, with a negative slot or attempt, or ending before it started: %+v", e)
		}
		again, err := schema.EncodeAttemptEnd(e)
		if err != nil {
			t.Fatalf("re-encoding a decoded attempt end: %v", err)
		}
		back, err := schema.DecodeAttemptEnd(again)
		back.V, e.V = 0, 0 // encoding stamps version 1
		if err != nil || back != e {
			t.Fatalf("a re-encoded attempt end decodes to %+v, %v; want %+v", back, err, e)
		}
	})
}

func FuzzDecodeAttemptStart(f *testing.F) {
	good, _ := schema.EncodeAttemptStart(schema.AttemptStart{Index: 3, Attempt: 2, Task: 3, Delivery: 2, Round: 1, Worker: "h:1", Slot: 1, Slots: 2,
		Start: 5, BytesIn: 10, Backup: true})
	f.Add(good)
	item, _ := schema.EncodeAttemptStart(schema.AttemptStart{Index: 40, Attempt: 1, Task: 4, Delivery: 3, Worker: "w", Start: 5, Command: "echo x"})
	f.Add(item)
	f.Add([]byte{})
	f.Add([]byte{0x81, 0xa1, 'v', 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := schema.DecodeAttemptStart(data)
		if err != nil {
			return
		}
		if s.Worker == "" || s.Slot < 0 || s.Slots < 0 || s.Attempt < 1 || s.Delivery < 1 || s.BytesIn < 0 {
			t.Fatalf("accepted an attempt start without a worker, with a negative slot or size, or an attempt or delivery below 1: %+v", s)
		}
		again, err := schema.EncodeAttemptStart(s)
		if err != nil {
			t.Fatalf("re-encoding a decoded attempt start: %v", err)
		}
		back, err := schema.DecodeAttemptStart(again)
		back.V, s.V = 0, 0 // encoding stamps version 1
		if err != nil || back != s {
			t.Fatalf("a re-encoded attempt start decodes to %+v, %v; want %+v", back, err, s)
		}
	})
}

func FuzzDecodeReduceTask(f *testing.F) {
	good, _ := schema.EncodeReduceTask(schema.ReduceTask{Job: "j", Partition: 2, Tasks: 9, Dir: "/out/parts"})
	f.Add(good)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := schema.DecodeReduceTask(data)
		if err != nil {
			return
		}
		if task.Partition < 0 || task.Dir == "" {
			t.Fatalf("decoded an invalid reduce task: %+v", task)
		}
		again, _ := schema.EncodeReduceTask(task)
		if _, err := schema.DecodeReduceTask(again); err != nil {
			t.Fatalf("a re-encoded reduce task does not decode: %v", err)
		}
	})
}

func FuzzDecodePartitionDone(f *testing.F) {
	good, _ := schema.EncodePartitionDone(schema.PartitionDone{Job: "j", Partition: 1, Name: ".part-1.ab", Tasks: 3})
	f.Add(good)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := schema.DecodePartitionDone(data)
		if err != nil {
			return
		}
		if d.Partition < 0 || d.Name == "" && d.Err == "" || strings.ContainsRune(d.Name, '/') || d.Name == "." || d.Name == ".." {
			t.Fatalf("decoded an invalid done message: %+v", d)
		}
	})
}
