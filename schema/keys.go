package schema

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// Keys says how a map-reduce job's keys are cut from its map output lines,
// which part of a key picks its reduce partition, and how keys sort: the
// Hadoop Streaming settings stream.num.map.output.key.fields,
// KeyFieldBasedPartitioner and KeyFieldBasedComparator. The zero value is
// the default: the key is a line up to its first TAB, the whole key picks
// the partition, and keys sort bytewise. Every worker and reducer of a job
// must agree on it, so it travels in the job record.
type Keys struct {
	// Fields is how many TAB-separated fields of a map output line form
	// the key (--key-fields); the value is the rest of the line. 0 means 1.
	Fields int
	// PartitionFields is how many of the key's first fields pick its
	// partition (--partition-fields), at most Fields; 0 means all of them.
	PartitionFields int
	// Order is how keys sort, field by field (--key-order); nil sorts them
	// as text: field by field with TextByField, else the whole key
	// bytewise. Field i sorts by Order[i], fields past the end of Order by
	// its last element.
	Order []FieldOrder
	// TextByField makes the text order (Order nil) of keys of 2 or more
	// fields compare them field by field, as sort -t TAB -k1,1 -k2,2 does.
	// It differs from the whole key bytewise only where a field holds a
	// byte below TAB: "a" sorts before "a\x01" whatever follows. Jobs
	// recorded before it sort bytewise, and their sorted runs with them.
	TextByField bool
}

// FieldOrder is how one key field sorts.
type FieldOrder struct {
	// Numeric compares the field's leading number (optional blanks, an
	// optional minus sign, digits, an optional fraction), as sort -n does;
	// a field without one counts as zero. Fields of equal value sort
	// bytewise, so that only equal fields compare equal.
	Numeric bool
	// Reverse reverses the field's order.
	Reverse bool
}

// Key order names, as --key-order takes them.
const (
	OrderText           = "text"
	OrderNumeric        = "numeric"
	OrderReverse        = "reverse"
	OrderNumericReverse = "numeric-reverse"
)

// OrderNames lists the key order names, for messages.
const OrderNames = "text, numeric, reverse or numeric-reverse"

// ParseKeyOrder parses a --key-order: one order name per key field,
// separated by commas (the last one applies to the fields after it). "" and
// "text" are the default, bytewise order, returned as nil.
func ParseKeyOrder(spec string) ([]FieldOrder, error) {
	if spec == "" {
		return nil, nil
	}
	var out []FieldOrder
	custom := false
	for _, name := range strings.Split(spec, ",") {
		var o FieldOrder
		switch strings.TrimSpace(name) {
		case OrderText:
		case OrderNumeric:
			o.Numeric = true
		case OrderReverse:
			o.Reverse = true
		case OrderNumericReverse:
			o.Numeric, o.Reverse = true, true
		default:
			return nil, fmt.Errorf("key order %q is not valid: use %s, or one per key field separated by commas (e.g. text,numeric-reverse)", name, OrderNames)
		}
		custom = custom || o != FieldOrder{}
		out = append(out, o)
	}
	if !custom {
		return nil, nil
	}
	return out, nil
}

// KeyOrderCount is how many field orders a --key-order spec gives: one
// per comma-separated name, 0 for "".
func KeyOrderCount(spec string) int {
	if spec == "" {
		return 0
	}
	return strings.Count(spec, ",") + 1
}

// FormatKeyOrder is the --key-order spec of order, "" for the default.
func FormatKeyOrder(order []FieldOrder) string {
	names := make([]string, len(order))
	for i, o := range order {
		switch {
		case o.Numeric && o.Reverse:
			names[i] = OrderNumericReverse
		case o.Numeric:
			names[i] = OrderNumeric
		case o.Reverse:
			names[i] = OrderReverse
		default:
			names[i] = OrderText
		}
	}
	return strings.Join(names, ",")
}

// Split cuts a map output line (without its newline) into key and value:
// the key is its first k.Fields TAB-separated fields, the value the rest
// (empty when the line has no more fields).
func (k Keys) Split(line []byte) (key, value []byte) {
	n := max(k.Fields, 1)
	at := 0
	for range n {
		i := bytes.IndexByte(line[at:], '\t')
		if i < 0 {
			return line, nil
		}
		at += i + 1
	}
	return line[:at-1], line[at:]
}

// Partition returns key's reduce partition: [Partition] of the key's
// first PartitionFields fields, or of the whole key.
func (k Keys) Partition(key []byte, partitions int) int {
	if k.PartitionFields > 0 {
		key = fieldsPrefix(key, k.PartitionFields)
	}
	return Partition(key, partitions)
}

// fieldsPrefix is key's first n TAB-separated fields.
func fieldsPrefix(key []byte, n int) []byte {
	at := 0
	for range n {
		i := bytes.IndexByte(key[at:], '\t')
		if i < 0 {
			return key
		}
		at += i + 1
	}
	return key[:at-1]
}

// Default reports whether keys sort bytewise and partition by the whole
// key, as with the zero Keys: what a worker that predates Keys does.
func (k Keys) Default() bool {
	return len(k.Order) == 0 && k.PartitionFields == 0 && k.Fields <= 1
}

// Compare is the one comparison of keys, which every sort and merge of a
// job's keys uses: -1, 0 or +1 as a sorts before, equal to or after b.
// Only equal keys compare 0.
func (k Keys) Compare(a, b []byte) int {
	if len(k.Order) == 0 {
		if k.byField() {
			return compareTextFields(a, b)
		}
		return bytes.Compare(a, b)
	}
	for i := 0; ; i++ {
		o := k.Order[min(i, len(k.Order)-1)]
		fa, restA, moreA := bytes.Cut(a, []byte{'\t'})
		fb, restB, moreB := bytes.Cut(b, []byte{'\t'})
		c := compareField(fa, fb, o.Numeric)
		if c == 0 && moreA != moreB {
			c = -1 // a key of fewer fields first
			if moreA {
				c = 1
			}
		}
		if o.Reverse {
			c = -c
		}
		if c != 0 || !moreA {
			return c
		}
		a, b = restA, restB
	}
}

// Comparer returns k.Compare, or nil for bytewise order, which callers
// take as bytes.Compare without the indirection.
func (k Keys) Comparer() func(a, b []byte) int {
	switch {
	case len(k.Order) > 0:
		return k.Compare
	case k.byField():
		return compareTextFields
	}
	return nil
}

// byField reports whether the text order compares keys field by field:
// with one key field it is the same as bytewise.
func (k Keys) byField() bool { return k.TextByField && k.Fields > 1 }

// compareTextFields is the text order of keys field by field. It is the
// bytewise order but where the keys first differ by a TAB in one and a
// byte below TAB in the other: the field that ends at that TAB is a
// prefix of the other's, so its key sorts first.
func compareTextFields(a, b []byte) int {
	i := commonPrefix(a, b)
	if i == len(a) || i == len(b) {
		return cmp.Compare(len(a), len(b))
	}
	switch ca, cb := a[i], b[i]; {
	case ca == '\t' && cb < '\t':
		return -1
	case cb == '\t' && ca < '\t':
		return 1
	default:
		return cmp.Compare(ca, cb)
	}
}

// commonPrefix is the length of the longest common prefix of a and b,
// found eight bytes at a time.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

func compareField(a, b []byte, numeric bool) int {
	if numeric {
		if c := compareNumbers(a, b); c != 0 {
			return c
		}
	}
	return bytes.Compare(a, b)
}

// compareNumbers compares the leading numbers of a and b as sort -n does,
// exactly, whatever their number of digits.
func compareNumbers(a, b []byte) int {
	negA, intA, fracA := parseNumber(a)
	negB, intB, fracB := parseNumber(b)
	zeroA, zeroB := len(intA) == 0 && len(fracA) == 0, len(intB) == 0 && len(fracB) == 0
	if zeroA {
		negA = false
	}
	if zeroB {
		negB = false
	}
	if negA != negB {
		if negA {
			return -1
		}
		return 1
	}
	c := compareMagnitude(intA, fracA, intB, fracB)
	if negA {
		return -c
	}
	return c
}

// parseNumber returns the sign, integer digits (without leading zeros) and
// fraction digits (without trailing zeros) of b's leading number.
func parseNumber(b []byte) (neg bool, intDigits, frac []byte) {
	b = bytes.TrimLeft(b, " \t")
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	intDigits, b = bytes.TrimLeft(b[:i], "0"), b[i:]
	if len(b) > 0 && b[0] == '.' {
		j := 1
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		frac = bytes.TrimRight(b[1:j], "0")
	}
	return neg, intDigits, frac
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func compareMagnitude(intA, fracA, intB, fracB []byte) int {
	if len(intA) != len(intB) {
		if len(intA) < len(intB) {
			return -1
		}
		return 1
	}
	if c := bytes.Compare(intA, intB); c != 0 {
		return c
	}
	return bytes.Compare(fracA, fracB) // digits compare as bytes; a shorter prefix is smaller
}
