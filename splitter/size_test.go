package splitter_test

import (
	"math"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/splitter"
)

func TestDefaultChunkSize(t *testing.T) {
	t.Parallel()
	const (
		min = splitter.MinDefaultChunk
		max = splitter.MaxDefaultChunk
	)
	tests := []struct {
		name  string
		total int64
		slots int
		want  int64
	}{
		{"no input", 0, 4, min},
		{"negative input", -1, 4, min},
		{"small input", 1 << 20, 4, min},
		{"8 tasks per slot", 64 << 20, 4, 2 << 20},
		{"rounds up", 64<<20 + 1, 4, 2<<20 + 1},
		{"large input", 1 << 40, 4, max},
		{"zero slots is one", 32 << 20, 0, 4 << 20},
		{"negative slots is one", 32 << 20, -3, 4 << 20},
		{"many slots", 1 << 40, math.MaxInt, min},
		{"largest input one slot", math.MaxInt64, 1, max},
		{"just above min", 8 * (min + 1), 1, min + 1},
		{"just below max", 8 * (max - 1), 1, max - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := splitter.DefaultChunkSize(tt.total, tt.slots); got != tt.want {
				t.Errorf("DefaultChunkSize(%d, %d) = %d, want %d", tt.total, tt.slots, got, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"65536", 65536},
		{"1", 1},
		{"  42\t", 42},
		{"10B", 10},
		{"64KiB", 64 << 10},
		{"64kib", 64 << 10},
		{"64 KiB", 64 << 10},
		{"8MiB", 8 << 20},
		{"8mib", 8 << 20},
		{"1.5MiB", 3 << 19},
		{"2GiB", 2 << 30},
		{"1TiB", 1 << 40},
		{"1KB", 1000},
		{"1kb", 1000},
		{"5MB", 5_000_000},
		{"2 GB", 2_000_000_000},
		{"1TB", 1_000_000_000_000},
		{"1k", 1 << 10},
		{"1K", 1 << 10},
		{"3M", 3 << 20},
		{"3m", 3 << 20},
		{"1G", 1 << 30},
		{"0.5KiB", 512},
		{".5k", 512},
		{"1.0009765625KiB", 1025},
		{"1.5", 1},
		{"9223372036854775807", math.MaxInt64},
		{"8388607.99999999999TiB", math.MaxInt64 - 10}, // 2^63 - 10.99…, rounded down
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := splitter.ParseSize(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseSizeErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", " ", "abc", "0", "0KiB", "0.0001", "-1", "-1KiB", "+5", "1.2.3", "1e3", "KiB",
		"1 KiB B", "1XB", "1 k b", "1_000", "0x10", "NaN", "Inf", ".", "1KiBB", "5 5",
		"9223372036854775808", "8388608TiB", "99999999999999999999999999GB",
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			got, err := splitter.ParseSize(in)
			if err == nil {
				t.Fatalf("ParseSize(%q) = %d, want an error", in, got)
			}
			for _, s := range []string{`"` + in + `"`, "65536", "64KiB"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("ParseSize(%q) error %q does not contain %q", in, err, s)
				}
			}
		})
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"65536", "1.5MiB", "64 kb", "0", "-1", "", "1e3", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := splitter.ParseSize(s)
		if err == nil && n < 1 {
			t.Errorf("ParseSize(%q) = %d without an error, want at least 1", s, n)
		}
		if err != nil && n != 0 {
			t.Errorf("ParseSize(%q) = %d with error %v, want 0", s, n, err)
		}
	})
}
