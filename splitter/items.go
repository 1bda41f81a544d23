package splitter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jetmr/jetmr/schema"
)

// MaxItem is the longest item, in bytes: an argument longer than this
// would not fit in a task message and is close to the kernel's limit on
// one argument.
const MaxItem = 32 << 10

// maxBatchBytes bounds the item text of one task, well below NATS's
// message size and below what a failure result repeats for
// --retry-failed.
const maxBatchBytes = 48 << 10

// ReadItems reads the items of an each job from r: one per line, or, with
// null, separated by NUL bytes (for items that hold newlines). Empty items
// are skipped; a line's trailing "\r" (a CRLF file) is dropped. An item
// holding a NUL byte, or longer than [MaxItem], is an error wrapping
// [ErrBadInput] naming its number; so is a list without items.
func ReadItems(r io.Reader, null bool) ([]string, error) {
	sep := byte('\n')
	if null {
		sep = 0
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var items []string
	for n := 1; ; n++ {
		raw, err := br.ReadBytes(sep)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading items: %w", err)
		}
		item := bytes.TrimSuffix(raw, []byte{sep})
		if !null {
			item = bytes.TrimSuffix(item, []byte{'\r'})
		}
		switch {
		case len(item) > MaxItem:
			return nil, badInput(nil, "item %d is %d bytes long, more than %d: pass such data in files and give their names as items", n, len(item), MaxItem)
		case bytes.IndexByte(item, 0) >= 0:
			return nil, badInput(nil, "item %d holds a NUL byte, which no argument can hold: separate items with NUL bytes and use -0", n)
		case len(item) > 0:
			items = append(items, string(item))
		}
		if err != nil {
			break
		}
	}
	if len(items) == 0 {
		return nil, badInput(nil, "no items: the list is empty")
	}
	return items, nil
}

// CheckItems checks items given directly (not read by [ReadItems]): at
// least one, none empty, holding a NUL byte or longer than [MaxItem].
func CheckItems(items []string) error {
	if len(items) == 0 {
		return badInput(nil, "no items: give --items FILE, items after :::, or items on stdin")
	}
	for i, it := range items {
		switch {
		case it == "":
			return badInput(nil, "item %d is empty", i+1)
		case len(it) > MaxItem:
			return badInput(nil, "item %d is %d bytes long, more than %d", i+1, len(it), MaxItem)
		case strings.IndexByte(it, 0) >= 0:
			return badInput(nil, "item %d holds a NUL byte, which no argument can hold", i+1)
		}
	}
	return nil
}

// DefaultItemsPerTask sizes the batches of an each job: about 16 tasks
// per slot, so that slots stay busy to the end while the per-task cost
// (a message each way, an ack) is shared by many items; at most 512
// items per task, at least 1.
func DefaultItemsPerTask(items, slots int) int64 {
	per := (items + 16*max(slots, 1) - 1) / (16 * max(slots, 1))
	return int64(min(max(per, 1), 512))
}

// Items is the source of an each job: consecutive items in batches of at
// most chunkSize items (and at most 48 KiB of item text, or one item),
// each carried in its task message as a [schema.ItemBatch]. It splits
// deterministically, so jobs reading it can be resumed.
type Items []string

// Split implements [Source]; chunkSize counts items.
func (it Items) Split(ctx context.Context, chunkSize int64, yield func(Chunk) error) error {
	bounds := it.Batches(chunkSize)
	for i, from := range bounds {
		if err := ctx.Err(); err != nil {
			return err
		}
		to := len(it)
		if i+1 < len(bounds) {
			to = bounds[i+1]
		}
		data, err := schema.EncodeItemBatch(schema.ItemBatch{First: uint64(from), Items: it[from:to]})
		if err != nil {
			return fmt.Errorf("encoding items %d-%d: %w", from+1, to, err)
		}
		if err := yield(Chunk{Data: data}); err != nil {
			return err
		}
	}
	return nil
}

// Batches returns the index of the first item of each task, in order.
func (it Items) Batches(chunkSize int64) []int {
	per := int(max(chunkSize, 1))
	var bounds []int
	size, n := 0, 0
	for i, item := range it {
		if n == 0 || n >= per || size+len(item) > maxBatchBytes {
			bounds = append(bounds, i)
			size, n = 0, 0
		}
		size += len(item)
		n++
	}
	return bounds
}

// Describe implements [Describer]: the item count and a digest of the
// items, so that a resume can check that it runs the same list.
func (it Items) Describe() ([]string, []int64) {
	h := sha256.New()
	var size int64
	for _, item := range it {
		h.Write([]byte(item))
		h.Write([]byte{0})
		size += int64(len(item))
	}
	return []string{fmt.Sprintf("%d items (sha256 %x)", len(it), h.Sum(nil)[:8])}, []int64{size}
}
