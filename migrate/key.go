package migrate

import (
	"fmt"
	"strconv"
)

// KeyKind is the type of a key column, as jetmr splits it.
type KeyKind uint8

// Key kinds. The zero KeyKind is invalid, so that a Key that was never set
// is caught.
const (
	// KindInteger: SQLite INTEGER affinity; PostgreSQL smallint, integer,
	// bigint (or a domain over them).
	KindInteger KeyKind = 1
	// KindText: SQLite TEXT affinity; PostgreSQL text, varchar, char, name,
	// citext (any type of the string category), compared with the column's
	// collation.
	KindText KeyKind = 2
)

func (k KeyKind) String() string {
	switch k {
	case KindInteger:
		return "integer"
	case KindText:
		return "text"
	}
	return fmt.Sprintf("KeyKind(%d)", uint8(k))
}

// Key is one value of a key column, or the open end of the last batch. It
// survives msgpack and JSON as is.
type Key struct {
	// Kind says which of Int and Text holds the value. It is set for an
	// unbounded Key too.
	Kind KeyKind `msgpack:"k" json:"kind"`
	Int  int64   `msgpack:"i,omitempty" json:"int,omitempty"`
	Text string  `msgpack:"s,omitempty" json:"text,omitempty"`
	// Unbounded marks the end of the last batch: above every key, including
	// the keys inserted after splitting. The SQL never receives it: it
	// gets a real key above every key instead (see [Part.Bound]).
	Unbounded bool `msgpack:"u,omitempty" json:"unbounded,omitempty"`
}

// IntKey is an integer key.
func IntKey(v int64) Key { return Key{Kind: KindInteger, Int: v} }

// TextKey is a text key.
func TextKey(s string) Key { return Key{Kind: KindText, Text: s} }

// Unbounded is the open end of a batch of keys of kind k.
func Unbounded(k KeyKind) Key { return Key{Kind: k, Unbounded: true} }

// String formats k for people: 42, "abc", or end.
func (k Key) String() string {
	switch {
	case k.Unbounded:
		return "end"
	case k.Kind == KindText:
		return strconv.Quote(k.Text)
	}
	return strconv.FormatInt(k.Int, 10)
}

// value is k as a database/sql argument: int64, string, or nil when
// unbounded.
func (k Key) value() any {
	switch {
	case k.Unbounded:
		return nil
	case k.Kind == KindText:
		return k.Text
	}
	return k.Int
}

// text is k as stored in the progress table and as sent to PostgreSQL in
// text format; ok is false when unbounded (NULL).
func (k Key) text() (string, bool) {
	switch {
	case k.Unbounded:
		return "", false
	case k.Kind == KindText:
		return k.Text, true
	}
	return strconv.FormatInt(k.Int, 10), true
}

// textOrNil is k.text as an argument: nil for NULL.
func (k Key) textOrNil() any {
	if s, ok := k.text(); ok {
		return s
	}
	return nil
}

// parseKey reads a key of kind kind from its text form.
func parseKey(kind KeyKind, s string) (Key, error) {
	if kind == KindText {
		return TextKey(s), nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return Key{}, fmt.Errorf("parsing the integer key %q: %w", s, err)
	}
	return IntKey(v), nil
}

// Batch is one unit of migration work: the rows whose key k satisfies
// Lo <= k < Hi, in the database's order for the key column (its
// collation, for text).
//
// Lo is always a real key: the first key at or above it when the batch was
// split. Hi is the next batch's Lo, so consecutive batches are contiguous
// and together cover every key from the first batch's Lo upwards exactly
// once, including keys that fall into gaps or are inserted after
// splitting. The last batch's Hi is [Unbounded]; its SQL still receives a
// real $2, a key above every key of the table read in the batch's
// transaction, so that
//
//	key >= $1 AND key < $2
//
// selects the rows of every batch, rows appended after splitting (a
// growing serial key) included. Only keys below the first batch's Lo,
// inserted after splitting, and keys above the last batch's $2, inserted
// after its transaction read it, belong to no batch.
type Batch struct {
	// Index numbers the batches of a split from 0, in key order.
	Index uint64 `msgpack:"i" json:"index"`
	Lo    Key    `msgpack:"lo" json:"lo"`
	Hi    Key    `msgpack:"hi" json:"hi"`
}

// Range formats the batch's key range for people: [100, 200) or
// [100, end).
func (b Batch) Range() string {
	return "[" + b.Lo.String() + ", " + b.Hi.String() + ")"
}

// validate checks that b is a batch Batches could have produced.
func (b Batch) validate() error {
	switch {
	case b.Lo.Kind != KindInteger && b.Lo.Kind != KindText:
		return fmt.Errorf("batch %d: its lower key has no kind: was it produced by Batches?", b.Index)
	case b.Lo.Unbounded:
		return fmt.Errorf("batch %d: its lower key is unbounded: was it produced by Batches?", b.Index)
	case b.Hi.Kind != b.Lo.Kind:
		return fmt.Errorf("batch %d: its keys are of kinds %v and %v", b.Index, b.Lo.Kind, b.Hi.Kind)
	}
	return nil
}
