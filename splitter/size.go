package splitter

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// MinDefaultChunk is the smallest chunk size DefaultChunkSize returns:
// below it the per-task overhead shows.
const MinDefaultChunk = 256 << 10

// MaxDefaultChunk is the largest chunk size DefaultChunkSize returns: it
// bounds the memory of a task and the cost of retrying one.
const MaxDefaultChunk = 8 << 20

// tasksPerSlot is how many tasks DefaultChunkSize aims for per worker
// slot, so that uneven tasks balance out.
const tasksPerSlot = 8

// DefaultChunkSize picks a chunk size for totalBytes of input and the given
// number of worker slots: about 8 tasks per slot, so that uneven tasks
// balance out, but never below MinDefaultChunk nor above MaxDefaultChunk.
// slots < 1 is treated as 1.
func DefaultChunkSize(totalBytes int64, slots int) int64 {
	tasks := int64(tasksPerSlot)
	if slots > 1 {
		tasks = min(int64(slots), math.MaxInt64/tasksPerSlot) * tasksPerSlot
	}
	chunk := int64(0)
	if totalBytes > 0 {
		chunk = (totalBytes-1)/tasks + 1 // ceiling division
	}
	return min(max(chunk, MinDefaultChunk), MaxDefaultChunk)
}

// sizeUnits maps the lower-cased units ParseSize accepts to their value in
// bytes.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// ParseSize parses a size given on the command line: plain bytes ("65536")
// or a number with a unit: KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB,
// TB (powers of 1000), or k, M, G, T (powers of 1024); B means bytes. The
// unit is case-insensitive and may follow a space. The number may have a
// fraction ("1.5MiB"); the result is rounded down to whole bytes. Zero,
// negative, empty, unparsable or too large values return an error naming
// the value and the accepted forms.
func ParseSize(s string) (int64, error) {
	trimmed := strings.TrimSpace(s)
	if strings.HasPrefix(trimmed, "-") {
		return 0, sizeError(s, "it must be at least 1 byte; ")
	}
	number, unit := splitSize(trimmed)
	scale, ok := sizeUnits[strings.ToLower(unit)]
	if !ok || !isDecimal(number) {
		return 0, sizeError(s, "")
	}
	value, ok := new(big.Rat).SetString(number)
	if !ok {
		return 0, sizeError(s, "")
	}
	value.Mul(value, new(big.Rat).SetInt64(scale))
	n := new(big.Int).Quo(value.Num(), value.Denom())
	switch {
	case !n.IsInt64():
		return 0, sizeError(s, "it is too large; ")
	case n.Sign() <= 0:
		return 0, sizeError(s, "it must be at least 1 byte; ")
	}
	return n.Int64(), nil
}

// splitSize splits s into its leading number and its unit, dropping the
// spaces between them.
func splitSize(s string) (number, unit string) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " ")
}

// isDecimal reports whether s is digits with at most one '.', and at least
// one digit.
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for _, r := range s {
		switch {
		case r == '.':
			dots++
		case r >= '0' && r <= '9':
			digits++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// sizeError describes an invalid size s, with an optional reason.
func sizeError(s, reason string) error {
	return fmt.Errorf("chunk size %q is not valid: %suse bytes (65536) or a size with a unit (64KiB, 8MiB)", s, reason)
}
