package job

import (
	"context"
	"sync"

	"github.com/jetmr/jetmr/reducer"
)

// window bounds the tasks published by this run and not yet retired by the
// reducer. It tracks indices, not a count, so that tasks retired twice, or
// published by an earlier run of a resumed job, never free a place twice.
type window struct {
	mu      sync.Mutex
	limit   int
	open    map[uint64]struct{}
	changed chan struct{} // closed and replaced whenever a place frees
}

func newWindow(limit int) *window {
	return &window{limit: limit, open: make(map[uint64]struct{}), changed: make(chan struct{})}
}

// acquire waits for a free place and gives it to task i.
func (w *window) acquire(ctx context.Context, i uint64) error {
	for {
		w.mu.Lock()
		if len(w.open) < w.limit {
			w.open[i] = struct{}{}
			w.mu.Unlock()
			return nil
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// retire frees the places of the tasks in s.
func (w *window) retire(s reducer.Span) {
	if s.To <= s.From {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	before := len(w.open)
	if s.To-s.From <= uint64(before) {
		for i := s.From; i < s.To; i++ {
			delete(w.open, i)
		}
	} else {
		for i := range w.open {
			if i >= s.From && i < s.To {
				delete(w.open, i)
			}
		}
	}
	if len(w.open) < before {
		close(w.changed)
		w.changed = make(chan struct{})
	}
}
