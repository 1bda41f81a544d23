package job

import (
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// Bounds of adaptive chunk sizes, per unit: bytes of input files, rows of a
// migration's key ranges.
const (
	minAdaptiveBytes = 4 << 10
	maxAdaptiveBytes = 64 << 20
	minAdaptiveRows  = 10
	maxAdaptiveRows  = 1_000_000
)

// newSizer returns the sizer of a job sized by --task-time, or nil. It
// follows the job's record, so a resumed job stays adaptive.
func (s *session) newSizer() *splitter.Sizer {
	if s.record.TaskTimeNanos <= 0 {
		return nil
	}
	lo, hi := int64(minAdaptiveBytes), int64(maxAdaptiveBytes)
	if s.record.Kind.Traits().Rows {
		lo, hi = minAdaptiveRows, maxAdaptiveRows
	}
	return splitter.NewSizer(splitter.SizerConfig{
		Target:  time.Duration(s.record.TaskTimeNanos),
		Initial: s.record.ChunkSize,
		Min:     lo, Max: hi,
	})
}

// observeTask feeds a merged task's size and time to the sizer.
func (s *session) observeTask(res *schema.Result) {
	if s.sizer == nil {
		return
	}
	units := res.BytesIn
	if s.record.Kind.Traits().Rows {
		var out mapper.BatchOutcome
		if msgpack.Unmarshal(res.Payload, &out) != nil {
			return
		}
		units = out.Rows // rows this attempt ran, in its duration
	}
	s.sizer.Observe(units, res.Duration())
}

// chunkSize is the size of the next chunk: the sizer's, or the job's fixed
// chunk size.
func (s *session) chunkSize() int64 {
	if s.sizer == nil {
		return s.record.ChunkSize
	}
	return s.sizer.Size()
}

// writeAhead reports whether each chunk is checkpointed before its task is
// published: for sources that change as the job runs, and for adaptive
// splits, which a resume cannot repeat.
func (s *session) writeAhead() bool {
	_, cursor := s.source.(splitter.CursorSource)
	return cursor || s.sizer != nil
}

// taper returns the sizes of a tapered split (schema.JobRecord's
// TaperSlots), or nil. It follows the job's record, so a resumed job cuts
// the same chunks.
func (s *session) taper() *splitter.Taper {
	if s.record.TaperSlots <= 0 || s.sizer != nil || !s.totalKnown {
		return nil
	}
	if _, ok := s.source.(splitter.AdaptiveSource); !ok {
		return nil
	}
	return splitter.NewTaper(s.total, s.record.ChunkSize, s.record.TaperSlots)
}

// taperSlots is the TaperSlots of a new job's record: its slots, for a
// job that cuts input files of known size into chunks of a fixed size.
func (p *plan) taperSlots() int {
	_, adaptive := p.source.(splitter.AdaptiveSource)
	if !adaptive || !p.totalKnown || p.cfg.TaskTime > 0 || p.cfg.Kind.Traits().Split != schema.SplitFiles {
		return 0
	}
	return p.cfg.Slots
}
