package splitter_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

func TestReadItems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		null bool
		want []string
	}{
		{"a\nb c\n", false, []string{"a", "b c"}},
		{"a\r\nb\r\n", false, []string{"a", "b"}},
		{"\n\na\n\nb", false, []string{"a", "b"}}, // blank lines skipped, last line without newline kept
		{"new\nline\x00two\x00", true, []string{"new\nline", "two"}},
		{" lead\t", false, []string{" lead\t"}},
	}
	for _, tc := range cases {
		got, err := splitter.ReadItems(strings.NewReader(tc.in), tc.null)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q (null %v): %q, %v; want %q", tc.in, tc.null, got, err, tc.want)
		}
	}
}

func TestReadItemsBad(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, words string
	}{
		{"", "no items"},
		{"\n\n", "no items"},
		{"a\nb\x00c\n", "item 2 holds a NUL byte"},
		{strings.Repeat("x", splitter.MaxItem+1), "item 1 is"},
	}
	for _, tc := range cases {
		_, err := splitter.ReadItems(strings.NewReader(tc.in), false)
		if !errors.Is(err, splitter.ErrBadInput) || !strings.Contains(err.Error(), tc.words) {
			t.Errorf("%.20q: %v, want ErrBadInput with %q", tc.in, err, tc.words)
		}
	}
}

// TestItemsSplit checks that batches cover every item once, in order, at
// most chunkSize items and 48 KiB each, and match Batches.
func TestItemsSplit(t *testing.T) {
	t.Parallel()
	items := splitter.Items{}
	for i := range 1000 {
		items = append(items, strings.Repeat("i", 1+i%300))
	}
	bounds := items.Batches(64)
	var got []string
	n := 0
	err := items.Split(context.Background(), 64, func(c splitter.Chunk) error {
		b, err := schema.DecodeItemBatch(c.Data)
		if err != nil {
			return err
		}
		if int(b.First) != bounds[n] || int(b.First) != len(got) {
			t.Errorf("batch %d starts at %d, want %d", n, b.First, bounds[n])
		}
		if len(b.Items) > 64 {
			t.Errorf("batch %d has %d items", n, len(b.Items))
		}
		n++
		got = append(got, b.Items...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, items) || n != len(bounds) {
		t.Errorf("batches do not cover the items once, in order (%d batches, %d bounds)", n, len(bounds))
	}
	if a, _ := items.Describe(); len(a) != 1 || !strings.HasPrefix(a[0], "1000 items (sha256 ") {
		t.Errorf("Describe: %q", a)
	}
}

func TestDefaultItemsPerTask(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ items, slots, want int }{
		{3, 2, 1}, {2000, 2, 63}, {100000, 2, 512}, {32, 2, 1}, {33, 2, 2},
	} {
		if got := splitter.DefaultItemsPerTask(tc.items, tc.slots); got != int64(tc.want) {
			t.Errorf("%d items, %d slots: %d per task, want %d", tc.items, tc.slots, got, tc.want)
		}
	}
}
