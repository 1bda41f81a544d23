package schema_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

func TestKeysSplit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fields     int
		line       string
		key, value string
	}{
		{0, "a\tb\tc", "a", "b\tc"},
		{1, "a\tb\tc", "a", "b\tc"},
		{2, "a\tb\tc", "a\tb", "c"},
		{3, "a\tb\tc", "a\tb\tc", ""},
		{4, "a\tb\tc", "a\tb\tc", ""},
		{2, "a", "a", ""},
		{2, "a\t", "a\t", ""},
		{2, "a\tb\t", "a\tb", ""},
		{1, "", "", ""},
	}
	for _, tc := range cases {
		k, v := schema.Keys{Fields: tc.fields}.Split([]byte(tc.line))
		if string(k) != tc.key || string(v) != tc.value {
			t.Errorf("Fields %d, Split(%q) = %q, %q; want %q, %q", tc.fields, tc.line, k, v, tc.key, tc.value)
		}
	}
}

func TestKeysPartitionOnTheFirstFields(t *testing.T) {
	t.Parallel()
	k := schema.Keys{Fields: 3, PartitionFields: 1}
	for _, key := range []string{"user1\t5\tx", "user1\t17\ty", "user1", "user1\t"} {
		if got, want := k.Partition([]byte(key), 7), schema.Partition([]byte("user1"), 7); got != want {
			t.Errorf("Partition(%q) = %d, want %d, that of its first field", key, got, want)
		}
	}
	two := schema.Keys{Fields: 3, PartitionFields: 2}
	if got, want := two.Partition([]byte("a\tb\tc"), 7), schema.Partition([]byte("a\tb"), 7); got != want {
		t.Errorf("two partition fields: %d, want %d", got, want)
	}
	whole := schema.Keys{Fields: 2}
	if got, want := whole.Partition([]byte("a\tb"), 7), schema.Partition([]byte("a\tb"), 7); got != want {
		t.Errorf("whole key: %d, want %d", got, want)
	}
}

func TestParseKeyOrder(t *testing.T) {
	t.Parallel()
	good := []struct {
		spec, formatted string
	}{
		{"", ""},
		{"text", ""},
		{"text,text", ""},
		{"numeric", "numeric"},
		{"reverse", "reverse"},
		{"numeric-reverse", "numeric-reverse"},
		{"text, numeric", "text,numeric"},
		{"reverse,numeric-reverse,text", "reverse,numeric-reverse,text"},
	}
	for _, tc := range good {
		order, err := schema.ParseKeyOrder(tc.spec)
		if err != nil {
			t.Errorf("ParseKeyOrder(%q): %v", tc.spec, err)
			continue
		}
		if got := schema.FormatKeyOrder(order); got != tc.formatted {
			t.Errorf("FormatKeyOrder(ParseKeyOrder(%q)) = %q, want %q", tc.spec, got, tc.formatted)
		}
	}
	for _, spec := range []string{"n", "numeric,", "desc", "-n", "text,,numeric", "NUMERIC"} {
		if _, err := schema.ParseKeyOrder(spec); err == nil || !strings.Contains(err.Error(), schema.OrderNames) {
			t.Errorf("ParseKeyOrder(%q) = %v, want an error naming the orders", spec, err)
		}
	}
}

// TestKeysCompareSorts sorts keys by each order and checks the result
// against the order sort(1) gives with LC_ALL=C and the matching -k
// options, written out here.
func TestKeysCompareSorts(t *testing.T) {
	t.Parallel()
	keys := []string{"10", "9", "-3", "0.5", "abc", "-0.25", "100", "9.0", "", "007", "1e3", " 4"}
	cases := []struct {
		order string
		want  []string
	}{
		{"text", []string{"", " 4", "-0.25", "-3", "0.5", "007", "10", "100", "1e3", "9", "9.0", "abc"}},
		{"reverse", []string{"abc", "9.0", "9", "1e3", "100", "10", "007", "0.5", "-3", "-0.25", " 4", ""}},
		// sort -n: no number counts as 0; equal numbers fall back to bytes.
		{"numeric", []string{"-3", "-0.25", "", "abc", "0.5", "1e3", " 4", "007", "9", "9.0", "10", "100"}},
		{"numeric-reverse", []string{"100", "10", "9.0", "9", "007", " 4", "1e3", "0.5", "abc", "", "-0.25", "-3"}},
	}
	for _, tc := range cases {
		order, err := schema.ParseKeyOrder(tc.order)
		if err != nil {
			t.Fatal(err)
		}
		k := schema.Keys{Order: order}
		got := slices.Clone(keys)
		slices.SortFunc(got, func(a, b string) int { return k.Compare([]byte(a), []byte(b)) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.order, got, tc.want)
		}
	}
}

func TestKeysCompareByField(t *testing.T) {
	t.Parallel()
	order, err := schema.ParseKeyOrder("text,numeric-reverse")
	if err != nil {
		t.Fatal(err)
	}
	k := schema.Keys{Fields: 2, Order: order}
	keys := []string{"b\t1", "a\t2", "a\t10", "b\t30", "a", "ab\t5", "a\t-1"}
	want := []string{"a", "a\t10", "a\t2", "a\t-1", "ab\t5", "b\t30", "b\t1"}
	slices.SortFunc(keys, func(a, b string) int { return k.Compare([]byte(a), []byte(b)) })
	if !slices.Equal(keys, want) {
		t.Errorf("got %q\nwant %q", keys, want)
	}
}

// FuzzKeysCompare checks that every order is a total order whose only
// ties are equal keys: the merges group equal keys by bytes.Equal and
// would split a group otherwise.
func FuzzKeysCompare(f *testing.F) {
	f.Add("numeric", []byte("10\tx"), []byte("010\tx"), []byte("9"))
	f.Add("text,numeric-reverse", []byte("a\t-0"), []byte("a\t0"), []byte("a\t.0"))
	f.Add("reverse", []byte(""), []byte("\t"), []byte("\t\t"))
	f.Fuzz(func(t *testing.T, spec string, a, b, c []byte) {
		order, err := schema.ParseKeyOrder(spec)
		if err != nil {
			return
		}
		k := schema.Keys{Order: order}
		ab, ba := k.Compare(a, b), k.Compare(b, a)
		if ab != -ba {
			t.Fatalf("Compare(%q, %q) = %d but Compare(b, a) = %d", a, b, ab, ba)
		}
		if (ab == 0) != bytes.Equal(a, b) {
			t.Fatalf("Compare(%q, %q) = %d", a, b, ab)
		}
		if ab <= 0 && k.Compare(b, c) <= 0 && k.Compare(a, c) > 0 {
			t.Fatalf("not transitive: %q <= %q <= %q but a > c", a, b, c)
		}
		// The text order field by field, by its fast comparison, is the
		// order of text fields compared one by one.
		fast := schema.Keys{Fields: 2, TextByField: true}
		slow := schema.Keys{Fields: 2, Order: []schema.FieldOrder{{}}}
		for _, p := range [][2][]byte{{a, b}, {b, c}, {a, c}} {
			if got, want := fast.Compare(p[0], p[1]), slow.Compare(p[0], p[1]); got != want {
				t.Fatalf("text order by field: Compare(%q, %q) = %d, want %d", p[0], p[1], got, want)
			}
			if got, want := fast.Comparer()(p[0], p[1]), slow.Compare(p[0], p[1]); got != want {
				t.Fatalf("text order by field: Comparer()(%q, %q) = %d, want %d", p[0], p[1], got, want)
			}
		}
	})
}

// TestKeysTextByField sorts keys of two fields in the text order: field
// by field (sort -s -t TAB -k1,1 -k2,2) with TextByField, bytewise for a
// job recorded before it, whose sorted runs are bytewise.
func TestKeysTextByField(t *testing.T) {
	t.Parallel()
	keys := []string{"a\tb", "a\x01\tz", "a\x01\ta", "a\tb\x01", "a\ta", "a", "a\x01", "a\t", "\t", "", "a\x08b\tc", "a\x09"}
	cases := []struct {
		name string
		rec  schema.JobRecord
		want []string
	}{
		{"by field", schema.JobRecord{KeyFields: 2, KeyTextByField: true},
			[]string{"", "\t", "a", "a\t", "a\t", "a\ta", "a\tb", "a\tb\x01", "a\x01", "a\x01\ta", "a\x01\tz", "a\x08b\tc"}},
		{"recorded before", schema.JobRecord{KeyFields: 2},
			[]string{"", "\t", "a", "a\x01", "a\x01\ta", "a\x01\tz", "a\x08b\tc", "a\t", "a\t", "a\ta", "a\tb", "a\tb\x01"}},
		{"one field", schema.JobRecord{KeyTextByField: true},
			[]string{"", "\t", "a", "a\x01", "a\x01\ta", "a\x01\tz", "a\x08b\tc", "a\t", "a\t", "a\ta", "a\tb", "a\tb\x01"}},
	}
	for _, tc := range cases {
		k := tc.rec.Keys()
		got := slices.Clone(keys)
		slices.SortStableFunc(got, func(a, b string) int { return k.Compare([]byte(a), []byte(b)) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		if cmp := k.Comparer(); cmp != nil {
			slices.SortStableFunc(got, func(a, b string) int { return -cmp([]byte(a), []byte(b)) })
			slices.Reverse(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: Comparer sorts otherwise than Compare: %q", tc.name, got)
			}
		}
	}
}

// TestKeyTextByFieldVersion checks that a record sorting by field is
// stamped with a version a worker that predates it refuses, and that the
// setting survives a round trip.
func TestKeyTextByFieldVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rec   schema.JobRecord
		newer bool
	}{
		{schema.JobRecord{ID: "j", Kind: schema.KindMapReduce, Partitions: 1, KeyFields: 2, KeyTextByField: true}, true},
		{schema.JobRecord{ID: "j", Kind: schema.KindMapReduce, Partitions: 1, KeyFields: 2, KeyTextByField: true, KeyOrder: "text,numeric"}, false},
		{schema.JobRecord{ID: "j", Kind: schema.KindMapReduce, Partitions: 1, KeyFields: 2}, false},
	} {
		data, err := schema.EncodeJobRecord(tc.rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := schema.DecodeJobRecord(data)
		if err != nil {
			t.Fatal(err)
		}
		if got.KeyTextByField != tc.rec.KeyTextByField {
			t.Errorf("%+v: KeyTextByField %v after a round trip", tc.rec, got.KeyTextByField)
		}
		if newer := got.V >= 10; newer != tc.newer {
			t.Errorf("%+v: stamped version %d, want 10 or later: %v", tc.rec, got.V, tc.newer)
		}
	}
}
