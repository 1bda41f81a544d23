package splitter

// TaperShare is how many chunks per slot the rest of the input is cut
// into, at most, by a [Taper]: the chunks shrink as the input runs out.
const TaperShare = 2

// Taper sizes the chunks of an input of known size so that they shrink
// toward its end and every slot finishes at about the same time: each
// chunk is at most the bytes still to split / (TaperShare x slots), as in
// guided self-scheduling and factoring, never above the job's chunk size
// and never below a floor (an eighth of the chunk size, at least
// [MinDefaultChunk]) that keeps the per-task overhead small. Early chunks
// keep the full size; only the last few slots' worth shrink.
//
// Its sizes depend only on the total, the chunk size, the slots and the
// chunks cut so far, so splitting the same input again cuts the same
// chunks, which a resume relies on. A Taper is used by one split at a
// time: Size before each chunk, Took after it.
type Taper struct {
	remaining int64
	max       int64
	floor     int64
	parts     int64
}

// NewTaper returns the taper of total bytes cut into chunks of at most
// chunkSize for slots slots. chunkSize and slots below 1 count as 1.
func NewTaper(total, chunkSize int64, slots int) *Taper {
	chunkSize = max(chunkSize, 1)
	floor := min(chunkSize, max(chunkSize/8, MinDefaultChunk))
	return &Taper{remaining: total, max: chunkSize, floor: floor, parts: TaperShare * int64(max(slots, 1))}
}

// Size is the size of the next chunk.
func (t *Taper) Size() int64 {
	share := (max(t.remaining, 0) + t.parts - 1) / t.parts
	return min(max(share, t.floor), t.max)
}

// Took records a chunk of n bytes cut.
func (t *Taper) Took(n int64) { t.remaining -= n }
