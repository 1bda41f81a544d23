package splitter

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// SizerConfig configures a [Sizer]. Zero fields take the documented
// defaults.
type SizerConfig struct {
	// Target is the time one task should take. Required.
	Target time.Duration
	// Initial is the chunk size used until the first task is observed.
	Initial int64
	// Min and Max bound every size the sizer returns.
	Min, Max int64
	// Growth caps how much one observation changes the size: it grows to at
	// most Growth times, and shrinks to no less than 1/Growth of, the
	// current size. Default 2.
	Growth float64
	// Smoothing is the weight of a new observation in the moving average of
	// throughput, in (0, 1]. Default 0.3.
	Smoothing float64
}

// Sizer sizes chunks adaptively so that tasks take about Target: it keeps
// an exponentially weighted moving average of the throughput observed in
// finished tasks (units per second: bytes for files, rows for key ranges,
// items for item lists), and after each observation moves the chunk size
// toward throughput x Target. A step is capped (see SizerConfig.Growth) so
// that one slow or fast task cannot swing the size, and every size is
// clamped to [Min, Max]. This is the control of pt-online-schema-change's
// --chunk-time and of batched background migrations, per task instead of
// per batch.
//
// Because the per-task overhead is part of every observed duration, the
// sizer settles where a task's whole time, overhead included, is Target.
//
// A Sizer is safe for concurrent use: the splitter asks for sizes while
// the reducer reports finished tasks.
type Sizer struct {
	cfg SizerConfig

	mu   sync.Mutex
	size int64
	rate float64 // smoothed units per second; 0 until the first observation
	n    int     // observations so far
}

// NewSizer returns a sizer for cfg. It panics on a non-positive Target or
// an empty [Min, Max] range: those are programming errors, checked by the
// callers' validation.
func NewSizer(cfg SizerConfig) *Sizer {
	if cfg.Target <= 0 {
		panic(fmt.Sprintf("splitter: sizer target %s is not positive", cfg.Target))
	}
	if cfg.Min < 1 {
		cfg.Min = 1
	}
	if cfg.Max < cfg.Min {
		panic(fmt.Sprintf("splitter: sizer bounds [%d, %d] are empty", cfg.Min, cfg.Max))
	}
	if cfg.Growth <= 1 {
		cfg.Growth = 2
	}
	if cfg.Smoothing <= 0 || cfg.Smoothing > 1 {
		cfg.Smoothing = 0.3
	}
	if cfg.Initial <= 0 {
		cfg.Initial = cfg.Min
	}
	return &Sizer{cfg: cfg, size: clamp(cfg.Initial, cfg.Min, cfg.Max)}
}

// Size returns the size of the next chunk.
func (s *Sizer) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Observe records a finished task of units that took d, and moves the size
// one step toward the target. Observations without units or time carry no
// information and are ignored.
func (s *Sizer) Observe(units int64, d time.Duration) {
	if units <= 0 || d <= 0 {
		return
	}
	rate := float64(units) / d.Seconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		s.rate = rate
	} else {
		s.rate += s.cfg.Smoothing * (rate - s.rate)
	}
	s.n++
	want := s.rate * s.cfg.Target.Seconds()
	cur := float64(s.size)
	want = math.Min(math.Max(want, cur/s.cfg.Growth), cur*s.cfg.Growth)
	s.size = clamp(int64(math.Round(want)), s.cfg.Min, s.cfg.Max)
}

// Observed is the number of tasks observed so far.
func (s *Sizer) Observed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func clamp(v, lo, hi int64) int64 { return min(max(v, lo), hi) }
