package fold

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/jetmr/jetmr/schema"
)

// FoldNames lists the built-in folds, for messages.
const FoldNames = "sum, count, min, max, concat"

// The built-in folds.
var (
	// Sum adds decimal numbers: as int64 while they are integers and the sum
	// fits, as float64 once a value has a fraction or exponent or the sum
	// overflows. The output is integer text or the shortest float text
	// (strconv 'g' format). The partial is the sum as integer text or, for
	// a float, in 'e' format (or +Inf, -Inf, NaN), so that it reads back as
	// a float.
	Sum Fold = sumFold{}
	// Count counts the values of a key, whatever they hold. The partial is
	// the count.
	Count Fold = countFold{}
	// Min keeps the least of decimal numbers, compared exactly, even an
	// int64 with a float64; the output and partial are formatted as Sum's.
	Min Fold = extremeFold{max: false}
	// Max keeps the greatest of decimal numbers, as Min does the least.
	Max Fold = extremeFold{max: true}
	// Concat joins the values of a key, sorted bytewise, with ",". The
	// partial is the values, each preceded by its length as a uvarint.
	Concat Fold = concatFold{}
)

// ParseFold returns the built-in fold called name, if there is one.
func ParseFold(name string) (Fold, bool) {
	for _, f := range []Fold{Sum, Count, Min, Max, Concat} {
		if f.Name() == name {
			return f, true
		}
	}
	return nil, false
}

// badPartial is the error of a Merge given a partial its fold never writes.
func badPartial(fold string, partial []byte) error {
	return fmt.Errorf("%s: %w: bad partial %q", fold, schema.ErrMalformed, clip(partial))
}

// clip shortens a value quoted in an error message.
func clip(b []byte) []byte {
	const limit = 64
	if len(b) <= limit {
		return b
	}
	return append(b[:limit:limit], "..."...)
}

// sum

type sumFold struct{}

func (sumFold) Name() string     { return "sum" }
func (sumFold) New() Accumulator { return &sumAcc{} }

type sumAcc struct{ n number }

func (a *sumAcc) Add(value []byte) error {
	x, err := parseValue("sum", value)
	if err != nil {
		return err
	}
	a.add(x)
	return nil
}

func (a *sumAcc) Merge(partial []byte) error {
	x, ok := parsePartial(partial, true)
	if !ok {
		return badPartial("sum", partial)
	}
	a.add(x)
	return nil
}

func (a *sumAcc) add(x number) {
	if !a.n.float && !x.float {
		s := a.n.i + x.i
		if (a.n.i^s)&(x.i^s) >= 0 { // no overflow
			a.n.i = s
			return
		}
	}
	a.n = number{float: true, f: a.n.float64() + x.float64()}
}

func (a *sumAcc) AppendPartial(dst []byte) []byte { return a.n.appendPartial(dst) }
func (a *sumAcc) AppendFinal(dst []byte) []byte   { return a.n.appendFinal(dst) }

// count

type countFold struct{}

func (countFold) Name() string     { return "count" }
func (countFold) New() Accumulator { return &countAcc{} }

type countAcc struct{ n int64 }

func (a *countAcc) Add([]byte) error { a.n++; return nil }

func (a *countAcc) Merge(partial []byte) error {
	x, ok := parsePartial(partial, false)
	if !ok || x.float || x.i < 0 {
		return badPartial("count", partial)
	}
	if a.n > math.MaxInt64-x.i {
		return fmt.Errorf("count: %w: count overflows int64", schema.ErrMalformed)
	}
	a.n += x.i
	return nil
}

func (a *countAcc) AppendPartial(dst []byte) []byte { return strconv.AppendInt(dst, a.n, 10) }
func (a *countAcc) AppendFinal(dst []byte) []byte   { return strconv.AppendInt(dst, a.n, 10) }

// min and max

type extremeFold struct{ max bool }

func (f extremeFold) Name() string {
	if f.max {
		return "max"
	}
	return "min"
}

func (f extremeFold) New() Accumulator { return &extremeAcc{max: f.max} }

// extremeAcc keeps the least (or greatest) number. Equal numbers of
// different forms (int 0, float -0 and +0, int 3 and float 3) are ordered
// by [number.rank], so that the result does not depend on the order of the
// values.
type extremeAcc struct {
	max bool
	has bool
	n   number
}

func (a *extremeAcc) name() string { return extremeFold{max: a.max}.Name() }

func (a *extremeAcc) Add(value []byte) error {
	x, err := parseValue(a.name(), value)
	if err != nil {
		return err
	}
	a.add(x)
	return nil
}

// Merge reads a partial; an empty one is an accumulator that saw no value.
func (a *extremeAcc) Merge(partial []byte) error {
	if len(partial) == 0 {
		return nil
	}
	x, ok := parsePartial(partial, false)
	if !ok {
		return badPartial(a.name(), partial)
	}
	a.add(x)
	return nil
}

func (a *extremeAcc) add(x number) {
	if !a.has {
		a.has, a.n = true, x
		return
	}
	c := compareNumbers(x, a.n)
	if c == 0 {
		c = cmp.Compare(x.rank(), a.n.rank())
	}
	if (a.max && c > 0) || (!a.max && c < 0) {
		a.n = x
	}
}

func (a *extremeAcc) AppendPartial(dst []byte) []byte {
	if !a.has {
		return dst
	}
	return a.n.appendPartial(dst)
}

func (a *extremeAcc) AppendFinal(dst []byte) []byte {
	if !a.has {
		return dst
	}
	return a.n.appendFinal(dst)
}

// concat

type concatFold struct{}

func (concatFold) Name() string     { return "concat" }
func (concatFold) New() Accumulator { return &concatAcc{} }

// concatAcc keeps the values back to back in buf, value i ending at ends[i].
// Its partial is each value preceded by its length as a uvarint.
type concatAcc struct {
	buf  []byte
	ends []int
}

func (a *concatAcc) Add(value []byte) error {
	a.buf = append(a.buf, value...)
	a.ends = append(a.ends, len(a.buf))
	return nil
}

func (a *concatAcc) Merge(partial []byte) error {
	nbuf, nends := len(a.buf), len(a.ends)
	for p := partial; len(p) > 0; {
		n, size := binary.Uvarint(p)
		if size <= 0 || n > uint64(len(p)-size) {
			a.buf, a.ends = a.buf[:nbuf], a.ends[:nends]
			return badPartial("concat", partial)
		}
		p = p[size:]
		a.buf = append(a.buf, p[:n]...)
		a.ends = append(a.ends, len(a.buf))
		p = p[n:]
	}
	return nil
}

func (a *concatAcc) values() [][]byte {
	vals := make([][]byte, len(a.ends))
	start := 0
	for i, end := range a.ends {
		vals[i] = a.buf[start:end:end]
		start = end
	}
	return vals
}

func (a *concatAcc) AppendPartial(dst []byte) []byte {
	for _, v := range a.values() {
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

func (a *concatAcc) AppendFinal(dst []byte) []byte {
	vals := a.values()
	slices.SortFunc(vals, bytes.Compare)
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, v...)
	}
	return dst
}

// numbers

// number is an int64 or, once float is set, a float64.
type number struct {
	float bool
	i     int64
	f     float64
}

func (n number) float64() float64 {
	if n.float {
		return n.f
	}
	return float64(n.i)
}

// rank orders the forms of equal numbers: -0.0 before integers before
// other floats.
func (n number) rank() int {
	switch {
	case !n.float:
		return 1
	case math.Signbit(n.f):
		return 0
	}
	return 2
}

// appendFinal formats n for the output: integer text, or the shortest
// float text that reads back as n.
func (n number) appendFinal(dst []byte) []byte {
	if n.float {
		return strconv.AppendFloat(dst, n.f, 'g', -1, 64)
	}
	return strconv.AppendInt(dst, n.i, 10)
}

// appendPartial formats n for a partial: as appendFinal, but a float always
// has an exponent (or is Inf or NaN) so that it reads back as a float.
func (n number) appendPartial(dst []byte) []byte {
	if n.float {
		return strconv.AppendFloat(dst, n.f, 'e', -1, 64)
	}
	return strconv.AppendInt(dst, n.i, 10)
}

// errNotNumber and errRange are the errors of parseNumber.
var (
	errNotNumber = errors.New("not a number")
	errRange     = errors.New("out of range")
)

// parseValue parses a raw value for the fold called fold.
func parseValue(fold string, value []byte) (number, error) {
	x, err := parseNumber(value)
	switch {
	case errors.Is(err, errRange):
		return number{}, schema.Permanent(fmt.Errorf("value %q is out of the range of float64: %s needs finite values", clip(value), fold))
	case err != nil:
		return number{}, schema.Permanent(fmt.Errorf("value %q is not a number: %s needs numeric values", clip(value), fold))
	}
	return x, nil
}

// parsePartial parses a number written by appendPartial; special allows the
// +Inf, -Inf and NaN a float sum may reach.
func parsePartial(b []byte, special bool) (number, bool) {
	if special {
		switch string(b) {
		case "+Inf":
			return number{float: true, f: math.Inf(1)}, true
		case "-Inf":
			return number{float: true, f: math.Inf(-1)}, true
		case "NaN":
			return number{float: true, f: math.NaN()}, true
		}
	}
	x, err := parseNumber(b)
	return x, err == nil
}

// parseNumber parses a decimal number: an optional sign, digits with an
// optional decimal point (and digits on at least one side of it), and an
// optional exponent. Integers without point or exponent that fit an int64
// are ints; other numbers are floats, which must be finite.
func parseNumber(b []byte) (number, error) {
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	intStart := i
	var u uint64
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		u = u*10 + uint64(b[i]-'0')
		i++
	}
	intDigits := i - intStart
	if i == len(b) {
		switch {
		case intDigits == 0:
			return number{}, errNotNumber
		case intDigits <= 18: // fits without overflow
			if b[0] == '-' {
				return number{i: -int64(u)}, nil
			}
			return number{i: int64(u)}, nil
		}
		if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return number{i: v}, nil
		}
		return parseFloat(b) // an integer beyond int64
	}
	fracDigits := 0
	if b[i] == '.' {
		i++
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return number{}, errNotNumber
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		expStart := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == expStart {
			return number{}, errNotNumber
		}
	}
	if i != len(b) {
		return number{}, errNotNumber
	}
	return parseFloat(b)
}

// parseFloat parses b, which parseNumber checked is a decimal number.
func parseFloat(b []byte) (number, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) {
		return number{}, errRange
	}
	return number{float: true, f: f}, nil
}

// compareNumbers compares a and b exactly, even an int64 with a float64.
// NaN is less than any other number, as in [cmp.Compare].
func compareNumbers(a, b number) int {
	switch {
	case !a.float && !b.float:
		return cmp.Compare(a.i, b.i)
	case a.float && b.float:
		return cmp.Compare(a.f, b.f)
	case !a.float:
		return compareIntFloat(a.i, b.f)
	}
	return -compareIntFloat(b.i, a.f)
}

func compareIntFloat(i int64, f float64) int {
	switch {
	case math.IsNaN(f):
		return 1
	case f >= 0x1p63:
		return -1
	case f < -0x1p63:
		return 1
	}
	t := math.Trunc(f)
	if c := cmp.Compare(i, int64(t)); c != 0 {
		return c
	}
	switch frac := f - t; {
	case frac > 0:
		return -1
	case frac < 0:
		return 1
	}
	return 0
}
