package mapper

import (
	"bytes"
	"context"
	"fmt"
	"github.com/jetmr/jetmr/fold"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// emitAll emits pairs through one reused key and value buffer, as map
// functions may.
func emitAll(t *testing.T, c *Combiner, pairs ...string) {
	t.Helper()
	var k, v []byte
	for i := 0; i < len(pairs); i += 2 {
		k = append(k[:0], pairs[i]...)
		v = append(v[:0], pairs[i+1]...)
		if err := c.Emit(k, v); err != nil {
			t.Fatalf("Emit(%q, %q): %v", k, v, err)
		}
		clear(k)
		clear(v)
	}
}

func runString(run []schema.Pair) string {
	var sb strings.Builder
	for _, p := range run {
		fmt.Fprintf(&sb, "%s=%s ", p.Key, p.Value)
	}
	return strings.TrimSpace(sb.String())
}

func TestCombinerWithFold(t *testing.T) {
	c := NewCombiner(fold.Sum)
	emitAll(t, c, "b", "1", "a", "2", "b", "3", "c", "-1", "a", "0.5")
	if c.Len() != 3 {
		t.Errorf("Len = %d, want 3", c.Len())
	}
	runs, err := c.Runs(1)
	if err != nil {
		t.Fatal(err)
	}
	// Partials of sum: ints as is, floats with an exponent.
	if got, want := runString(runs[0]), "a=2.5e+00 b=4 c=-1"; got != want {
		t.Errorf("run = %q, want %q", got, want)
	}
	if err := c.Emit([]byte("a"), []byte("abc")); err == nil || !strings.Contains(err.Error(), `"abc"`) {
		t.Errorf("Emit of a non-number: err = %v", err)
	}
}

func TestCombinerWithoutFold(t *testing.T) {
	c := NewCombiner(nil)
	emitAll(t, c, "b", "1", "a", "z", "b", "3", "a", "y", "a", "x", "", "empty")
	if c.Len() != 6 {
		t.Errorf("Len = %d, want 6", c.Len())
	}
	runs, err := c.Runs(1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := runString(runs[0]), "=empty a=z a=y a=x b=1 b=3"; got != want {
		t.Errorf("run = %q, want %q", got, want)
	}
}

func TestCombinerPartitions(t *testing.T) {
	for _, fd := range []fold.Fold{nil, fold.Count, fold.Concat} {
		c := NewCombiner(fd)
		rng := rand.New(rand.NewPCG(3, 4))
		emitted := 0
		for range 1000 {
			emitAll(t, c, fmt.Sprint(rng.IntN(300)), fmt.Sprint(rng.IntN(10)))
			emitted++
		}
		const parts = 7
		runs, err := c.Runs(parts)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != parts {
			t.Fatalf("%d runs, want %d", len(runs), parts)
		}
		total := 0
		for p, run := range runs {
			for i, pair := range run {
				if schema.Partition(pair.Key, parts) != p {
					t.Errorf("key %q in run %d", pair.Key, p)
				}
				if i > 0 {
					c := bytes.Compare(run[i-1].Key, pair.Key)
					if c > 0 || (c == 0 && fd != nil) {
						t.Errorf("run %d: key %q after %q", p, pair.Key, run[i-1].Key)
					}
				}
			}
			total += len(run)
			// Every run encodes and decodes.
			var buf bytes.Buffer
			if err := schema.EncodeRun(&buf, run); err != nil {
				t.Fatal(err)
			}
			if _, err := schema.DecodeRun(buf.Bytes()); err != nil {
				t.Errorf("run %d does not decode: %v", p, err)
			}
		}
		if total != c.Len() {
			t.Errorf("fold %v: %d pairs in runs, Len %d", fd, total, c.Len())
		}
		if fd == nil && total != emitted {
			t.Errorf("%d pairs in runs, %d emitted", total, emitted)
		}
	}
	if _, err := NewCombiner(nil).Runs(0); err == nil {
		t.Error("Runs(0) should fail")
	}
}

// TestWordcountCombined runs Wordcount into a sum combiner and checks the
// finals against the reference.
func TestWordcountCombined(t *testing.T) {
	text := englishText(1 << 20)
	c := NewCombiner(fold.Sum)
	if err := Wordcount(context.Background(), text, c); err != nil {
		t.Fatal(err)
	}
	runs, err := c.Runs(1)
	if err != nil {
		t.Fatal(err)
	}
	want := referenceWordcount(text)
	if len(runs[0]) != len(want) {
		t.Fatalf("%d words, want %d", len(runs[0]), len(want))
	}
	if !slices.IsSortedFunc(runs[0], func(a, b schema.Pair) int { return bytes.Compare(a.Key, b.Key) }) {
		t.Error("run is not sorted")
	}
	for _, p := range runs[0] {
		acc := fold.Sum.New()
		if err := acc.Merge(p.Value); err != nil {
			t.Fatal(err)
		}
		if got, want := string(acc.AppendFinal(nil)), fmt.Sprint(want[string(p.Key)]); got != want {
			t.Errorf("%q: %s, want %s", p.Key, got, want)
		}
	}
}
