package job_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/job"
)

func TestSlots(t *testing.T) {
	t.Parallel()
	gib := func(n int64) func() (int64, error) { return func() (int64, error) { return n << 30, nil } }
	for _, c := range []struct {
		spec string
		o    job.SlotOptions
		want int
		why  string
	}{
		{"4", job.SlotOptions{Cores: 2}, 4, "-j 4"},
		{"50%", job.SlotOptions{Cores: 8}, 4, "50%"},
		{"1%", job.SlotOptions{Cores: 8}, 1, "1%"},
		{"auto", job.SlotOptions{Cores: 8, Memory: gib(64)}, 8, "8 cores"},
		{"", job.SlotOptions{Cores: 8, Memory: gib(64)}, 8, "8 cores"},
		{"auto", job.SlotOptions{Cores: 4, IO: true, Command: true, Memory: gib(64)}, 12, "--io"},
		// 1 GiB / (32 MiB + 2 x 64 MiB) = 6 tasks, not 12.
		{"auto", job.SlotOptions{Cores: 4, IO: true, Command: true, ChunkSize: 64 << 20, Memory: gib(1)}, 6, "1024 MiB available / 160 MiB per task"},
		// 100 MiB / (8 MiB + 2 x 8 MiB) = 4 tasks, not 8.
		{"auto", job.SlotOptions{Cores: 8, Memory: func() (int64, error) { return 100 << 20, nil }}, 4, "not 8 cores"},
		{"auto", job.SlotOptions{Cores: 2, Memory: func() (int64, error) { return 0, errors.New("no") }}, 2, "unknown"},
	} {
		n, why, err := job.Slots(c.spec, c.o)
		if err != nil || n != c.want || !strings.Contains(why, c.why) {
			t.Errorf("Slots(%q, %+v) = %d, %q, %v; want %d and a reason naming %q", c.spec, c.o, n, why, err, c.want, c.why)
		}
	}
	for _, bad := range []string{"0", "-2", "x", "0%", "abc%"} {
		if _, _, err := job.Slots(bad, job.SlotOptions{}); !errors.Is(err, job.ErrBadInput) {
			t.Errorf("Slots(%q): got %v, want ErrBadInput", bad, err)
		}
	}
}

func TestSlotsReadsThisMachine(t *testing.T) {
	t.Parallel()
	n, why, err := job.Slots("auto", job.SlotOptions{})
	if err != nil || n < 1 || !strings.HasPrefix(why, "auto: ") {
		t.Fatalf("Slots(auto) on this machine = %d, %q, %v", n, why, err)
	}
}
