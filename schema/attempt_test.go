package schema_test

import (
	"errors"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/schema"
)

func TestAttemptEndRoundTrip(t *testing.T) {
	t.Parallel()
	for _, e := range []schema.AttemptEnd{
		{Index: 0, Attempt: 1, Worker: "h:1", Start: 1, End: 1},
		{Index: 9, Attempt: 3, Round: 2, Worker: "w", Slot: 4, Slots: 6, Start: 10, End: 20, BytesIn: 5, BytesOut: 6, Rows: 7,
			Exit: 2, Signal: "KILL", Failed: true, Retried: true, Stopped: true, Backup: true},
		{Index: 1, Attempt: 1, Worker: "w", Start: 3, End: 4, Superseded: true},
	} {
		data, err := schema.EncodeAttemptEnd(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := schema.DecodeAttemptEnd(data)
		if err != nil {
			t.Fatalf("decoding %+v: %v", e, err)
		}
		if got.V != 1 {
			t.Errorf("attempt end stamped version %d, want 1", got.V)
		}
		got.V = 0
		if got != e {
			t.Errorf("round trip gave %+v, want %+v", got, e)
		}
	}
}

func TestDecodeAttemptEndRefuses(t *testing.T) {
	t.Parallel()
	enc := func(m map[string]any) []byte {
		data, err := msgpack.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, schema.ErrMalformed},
		{"garbage", []byte{0xc1, 0x00}, schema.ErrMalformed},
		{"newer version", enc(map[string]any{"v": schema.Version + 1, "w": "w", "att": 1}), schema.ErrNewerVersion},
		{"no worker", enc(map[string]any{"v": 1, "att": 1}), schema.ErrMalformed},
		{"attempt 0", enc(map[string]any{"v": 1, "w": "w"}), schema.ErrMalformed},
		{"negative slot", enc(map[string]any{"v": 1, "w": "w", "att": 1, "slot": -1}), schema.ErrMalformed},
		{"end before start", enc(map[string]any{"v": 1, "w": "w", "att": 1, "start": 5, "end": 4}), schema.ErrMalformed},
	} {
		if _, err := schema.DecodeAttemptEnd(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestAttemptStartRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []schema.AttemptStart{
		{Index: 0, Attempt: 1, Task: 0, Delivery: 1, Worker: "h:1", Start: 1},
		{Index: 9, Attempt: 3, Task: 9, Delivery: 3, Round: 2, Worker: "w", Slot: 4, Slots: 6, Start: 10, BytesIn: 5, Backup: true},
		{Index: 41, Attempt: 2, Task: 4, Delivery: 1, Worker: "w", Slot: 1, Slots: 2, Start: 3, BytesIn: 4, Command: "echo 'a b'"},
	} {
		data, err := schema.EncodeAttemptStart(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := schema.DecodeAttemptStart(data)
		if err != nil {
			t.Fatalf("decoding %+v: %v", s, err)
		}
		if got.V != 1 {
			t.Errorf("attempt start stamped version %d, want 1", got.V)
		}
		got.V = 0
		if got != s {
			t.Errorf("round trip gave %+v, want %+v", got, s)
		}
	}
}

func TestDecodeAttemptStartRefuses(t *testing.T) {
	t.Parallel()
	enc := func(m map[string]any) []byte {
		data, err := msgpack.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, schema.ErrMalformed},
		{"garbage", []byte{0xc1, 0x00}, schema.ErrMalformed},
		{"wrong type", enc(map[string]any{"v": 1, "w": 7, "att": 1, "dlv": 1}), schema.ErrMalformed},
		{"newer version", enc(map[string]any{"v": schema.Version + 1, "w": "w", "att": 1, "dlv": 1}), schema.ErrNewerVersion},
		{"no worker", enc(map[string]any{"v": 1, "att": 1, "dlv": 1}), schema.ErrMalformed},
		{"attempt 0", enc(map[string]any{"v": 1, "w": "w", "dlv": 1}), schema.ErrMalformed},
		{"delivery 0", enc(map[string]any{"v": 1, "w": "w", "att": 1}), schema.ErrMalformed},
		{"negative slot", enc(map[string]any{"v": 1, "w": "w", "att": 1, "dlv": 1, "slot": -1}), schema.ErrMalformed},
		{"negative slots", enc(map[string]any{"v": 1, "w": "w", "att": 1, "dlv": 1, "slots": -2}), schema.ErrMalformed},
		{"negative size", enc(map[string]any{"v": 1, "w": "w", "att": 1, "dlv": 1, "in": -3}), schema.ErrMalformed},
	} {
		if _, err := schema.DecodeAttemptStart(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}
