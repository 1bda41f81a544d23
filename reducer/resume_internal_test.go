package reducer

import (
	"errors"
	"reflect"
	"testing"
)

// TestManifestRoundTrip encodes manifests and decodes them back, and
// checks that a manifest cut anywhere, altered, or naming another run is
// refused with ErrBadManifest.
func TestManifestRoundTrip(t *testing.T) {
	t.Parallel()
	good := runManifest{
		Job: "nightly@1733300000", Fold: "sum", Keys: "fields=1 partition-fields=0 order=numeric-reverse",
		Partitions: 4, Partition: 2, Seq: 7, Run: foldRunName(2, 7), Size: 123456,
		Tasks: []runTask{{Index: 3, Pairs: 10, Done: true}, {Index: 9, Pairs: 4}},
	}
	for _, m := range []runManifest{good, {Job: "j@1", Fold: "count", Partitions: 1, Run: foldRunName(0, 0), Tasks: []runTask{}}} {
		data, err := encodeManifest(&m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeManifest(data)
		if err != nil {
			t.Fatalf("decoding %s: %v", data, err)
		}
		if !reflect.DeepEqual(*back, m) {
			t.Errorf("round trip gave %+v, want %+v", *back, m)
		}
		for n := range len(data) {
			if _, err := decodeManifest(data[:n]); !errors.Is(err, ErrBadManifest) {
				t.Fatalf("manifest cut to %d of %d bytes: error %v, want ErrBadManifest", n, len(data), err)
			}
		}
	}
	data, err := encodeManifest(&good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)-5] ^= 1
	tests := []struct {
		name string
		edit func(m *runManifest)
		data []byte
	}{
		{name: "a bit flipped", data: flipped},
		{name: "empty", data: []byte{}},
		{name: "header only", data: []byte(manifestMagic + "00000000\n")},
		{name: "data after it", data: append(append([]byte(nil), data...), " {}"...)},
		{name: "another run's name", edit: func(m *runManifest) { m.Run = foldRunName(2, 8) }},
		{name: "partition out of range", edit: func(m *runManifest) { m.Partition, m.Run = 4, foldRunName(4, 7) }},
		{name: "negative size", edit: func(m *runManifest) { m.Size = -1 }},
		{name: "task twice", edit: func(m *runManifest) { m.Tasks = append(m.Tasks, runTask{Index: 3}) }},
	}
	for _, tc := range tests {
		in := tc.data
		if tc.edit != nil {
			m := good
			m.Tasks = append([]runTask(nil), good.Tasks...)
			tc.edit(&m)
			if in, err = encodeManifest(&m); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := decodeManifest(in); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: error %v, want ErrBadManifest", tc.name, err)
		}
	}
}

// FuzzDecodeManifest feeds the manifest decoder, which reads files from
// disk, arbitrary bytes: it must never panic, and what it accepts must
// encode back to a manifest it decodes to the same.
func FuzzDecodeManifest(f *testing.F) {
	for _, m := range []runManifest{
		{Job: "j@1", Fold: "sum", Partitions: 2, Partition: 1, Seq: 3, Run: foldRunName(1, 3), Size: 10, Tasks: []runTask{{Index: 1, Pairs: 2, Done: true}}},
		{Job: "j@1", Fold: "count", Partitions: 1, Run: foldRunName(0, 0), Tasks: []runTask{}},
	} {
		data, err := encodeManifest(&m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(manifestMagic + "00000000\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeManifest(data)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("error %v does not wrap ErrBadManifest", err)
			}
			return
		}
		again, err := encodeManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeManifest(again)
		if err != nil {
			t.Fatalf("re-encoded manifest refused: %v", err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip gave %+v, want %+v", back, m)
		}
	})
}
