package fold

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// final adds values to a new accumulator of fold and returns its output.
func final(t testing.TB, fold Fold, values ...string) string {
	t.Helper()
	acc := fold.New()
	for _, v := range values {
		if err := acc.Add([]byte(v)); err != nil {
			t.Fatalf("%s: Add(%q): %v", fold.Name(), v, err)
		}
	}
	return string(acc.AppendFinal(nil))
}

func TestFolds(t *testing.T) {
	tests := []struct {
		fold   Fold
		values []string
		want   string
	}{
		{Sum, nil, "0"},
		{Sum, []string{"1", "2", "3"}, "6"},
		{Sum, []string{"-5", "+2"}, "-3"},
		{Sum, []string{"1.5", "2"}, "3.5"},
		{Sum, []string{"1e3", "1"}, "1001"},
		{Sum, []string{"0.1", "0.2"}, "0.30000000000000004"},
		{Sum, []string{"1.", ".5", "2E-1"}, "1.7"},
		{Sum, []string{"9223372036854775807", "1"}, "9.223372036854776e+18"},
		{Sum, []string{"9223372036854775807", "1", "-1"}, "9.223372036854776e+18"},
		{Sum, []string{"-9223372036854775808", "-1"}, "-9.223372036854776e+18"},
		{Sum, []string{"9223372036854775807", "-1"}, "9223372036854775806"},
		{Sum, []string{"99999999999999999999"}, "1e+20"},
		{Sum, []string{"000000000000000000000000012", "3"}, "15"},
		{Sum, []string{"1e308", "1e308"}, "+Inf"},
		{Count, nil, "0"},
		{Count, []string{"a", "", "not a number", "a"}, "4"},
		{Min, nil, ""},
		{Min, []string{"3", "2.5", "10"}, "2.5"},
		{Max, []string{"3", "2.5", "10"}, "10"},
		{Min, []string{"-1e2", "-99"}, "-100"},
		{Max, []string{"9007199254740993", "9007199254740992.0"}, "9007199254740993"},
		{Min, []string{"9007199254740993", "9007199254740992.0"}, "9.007199254740992e+15"},
		{Max, []string{"9223372036854775807", "9.3e18"}, "9.3e+18"},
		{Min, []string{"0", "-0.0", "0.0"}, "-0"},
		{Max, []string{"0", "-0.0", "0.0"}, "0"},
		{Max, []string{"-0.0", "0"}, "0"},
		{Concat, nil, ""},
		{Concat, []string{"b", "a,x", "c", ""}, ",a,x,b,c"},
		{Concat, []string{"b", "a", "b"}, "a,b,b"},
	}
	for _, tt := range tests {
		if got := final(t, tt.fold, tt.values...); got != tt.want {
			t.Errorf("%s of %q = %q, want %q", tt.fold.Name(), tt.values, got, tt.want)
		}
	}
}

func TestNumericFoldErrors(t *testing.T) {
	for _, fold := range []Fold{Sum, Min, Max} {
		for _, v := range []string{"abc", "", "-", "+", ".", "1e", "1e+", "0x10", "Inf", "+Inf", "NaN", " 1", "1 ", "1_000", "1.2.3", "e5", "1,5"} {
			err := fold.New().Add([]byte(v))
			want := fmt.Sprintf("value %q is not a number: %s needs numeric values", v, fold.Name())
			if err == nil || err.Error() != want {
				t.Errorf("%s: Add(%q) = %v, want %q", fold.Name(), v, err, want)
			}
		}
		if err := fold.New().Add([]byte("1e400")); err == nil || !strings.Contains(err.Error(), "out of the range") {
			t.Errorf("%s: Add(1e400) = %v, want out of range", fold.Name(), err)
		}
	}
	long := strings.Repeat("x", 1000)
	if err := Sum.New().Add([]byte(long)); err == nil || len(err.Error()) > 200 {
		t.Errorf("the error for a long value should be short: %v", err)
	}
}

func TestMergeRejectsBadPartials(t *testing.T) {
	bad := map[Fold][]string{
		Sum:    {"", "x", "1 2", "Infinity", "0x1p3", "1e400"},
		Count:  {"", "-1", "1.5", "1e3", "x", "99999999999999999999"},
		Min:    {"x", "+Inf", "NaN", "1e400"},
		Max:    {"x", "-Inf", "1.2.3"},
		Concat: {"\x05abc", "\x80", "\x01a\x02b", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"},
	}
	for fold, partials := range bad {
		for _, p := range partials {
			acc := fold.New()
			if err := acc.Add([]byte("7")); err != nil {
				t.Fatal(err)
			}
			before := string(acc.AppendFinal(nil))
			err := acc.Merge([]byte(p))
			if !errors.Is(err, schema.ErrMalformed) {
				t.Errorf("%s: Merge(%q) = %v, want ErrMalformed", fold.Name(), p, err)
			}
			if after := string(acc.AppendFinal(nil)); after != before {
				t.Errorf("%s: a failed Merge(%q) changed the final from %q to %q", fold.Name(), p, before, after)
			}
		}
	}
	acc := Count.New()
	if err := acc.Merge([]byte(strconv.FormatInt(math.MaxInt64, 10))); err != nil {
		t.Fatal(err)
	}
	if err := acc.Merge([]byte("1")); err == nil {
		t.Error("count: an overflowing Merge should fail")
	}
}

func TestParseFold(t *testing.T) {
	for _, name := range strings.Split(FoldNames, ", ") {
		f, ok := ParseFold(name)
		if !ok || f.Name() != name {
			t.Errorf("ParseFold(%q) = %v, %v", name, f, ok)
		}
	}
	for _, name := range []string{"", "Sum", "avg", "wordcount"} {
		if f, ok := ParseFold(name); ok || f != nil {
			t.Errorf("ParseFold(%q) = %v, %v; want not found", name, f, ok)
		}
	}
}

// randomValues returns n random raw values suited to fold. Numbers are
// chosen so that their sums are exact in any order (small integers and
// dyadic fractions), as float addition is not associative.
func randomValues(rng *rand.Rand, fold Fold, n int) []string {
	vals := make([]string, n)
	for i := range vals {
		switch fold {
		case Sum:
			switch rng.IntN(4) {
			case 0:
				vals[i] = strconv.Itoa(rng.IntN(2001) - 1000)
			case 1:
				vals[i] = strconv.FormatFloat(float64(rng.IntN(4001)-2000)/8, 'f', -1, 64)
			case 2:
				vals[i] = []string{"-0.0", "0", "1e3", "2.5e-1", "-7E+2", "1.", ".5"}[rng.IntN(7)]
			default:
				vals[i] = strconv.FormatInt(rng.Int64N(1<<40)-1<<39, 10)
			}
		case Min, Max:
			switch rng.IntN(3) {
			case 0:
				vals[i] = strconv.FormatInt(int64(rng.Uint64()), 10)
			case 1:
				vals[i] = strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(40)-20)), 'g', -1, 64)
			default:
				vals[i] = []string{"0", "-0.0", "0.0", "3", "3.0", "-3", "-3.0", "9223372036854775807", "9.223372036854775807e18", "-9223372036854775808", "-9.3e18", "9007199254740993", "9007199254740992.0"}[rng.IntN(13)]
			}
		default:
			b := make([]byte, rng.IntN(6))
			for j := range b {
				b[j] = ",ab\x00\xff"[rng.IntN(5)]
			}
			vals[i] = string(b)
		}
	}
	return vals
}

// TestFoldsAssociative checks that adding all values into one accumulator
// gives the same final as adding random groups of them into accumulators
// whose partials are merged, in any order, directly or through an
// intermediate accumulator.
func TestFoldsAssociative(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, fold := range []Fold{Sum, Count, Min, Max, Concat} {
		for range 500 {
			vals := randomValues(rng, fold, rng.IntN(30))
			want := final(t, fold, vals...)

			// Split into groups, each added into its own accumulator.
			var partials [][]byte
			for rest := vals; len(rest) > 0 || rng.IntN(4) == 0; {
				k := rng.IntN(len(rest) + 1)
				acc := fold.New()
				for _, v := range rest[:k] {
					if err := acc.Add([]byte(v)); err != nil {
						t.Fatal(err)
					}
				}
				partials = append(partials, acc.AppendPartial(nil))
				rest = rest[k:]
			}
			rng.Shuffle(len(partials), func(i, j int) { partials[i], partials[j] = partials[j], partials[i] })

			flat := fold.New()
			for _, p := range partials {
				if err := flat.Merge(p); err != nil {
					t.Fatalf("%s: Merge(%q): %v", fold.Name(), p, err)
				}
			}
			if got := string(flat.AppendFinal(nil)); got != want {
				t.Fatalf("%s of %q: merged partials give %q, want %q", fold.Name(), vals, got, want)
			}

			// Merge the first half into an intermediate accumulator, whose
			// partial is merged with the rest, and raw values too.
			mid, top := fold.New(), fold.New()
			for i, p := range partials {
				dst := top
				if i < len(partials)/2 {
					dst = mid
				}
				if err := dst.Merge(p); err != nil {
					t.Fatal(err)
				}
			}
			if err := top.Merge(mid.AppendPartial(nil)); err != nil {
				t.Fatal(err)
			}
			if got := string(top.AppendFinal(nil)); got != want {
				t.Fatalf("%s of %q: two-level merge gives %q, want %q", fold.Name(), vals, got, want)
			}
		}
	}
}

// fuzzMerge checks that Merge of any bytes never panics, and that an
// accepted partial's state round-trips through AppendPartial.
func fuzzMerge(f *testing.F, fold Fold, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, partial []byte) {
		acc := fold.New()
		if err := acc.Merge(partial); err != nil {
			if !errors.Is(err, schema.ErrMalformed) {
				t.Fatalf("Merge(%q) = %v, not ErrMalformed", partial, err)
			}
			return
		}
		again := fold.New()
		p2 := acc.AppendPartial(nil)
		if err := again.Merge(p2); err != nil {
			t.Fatalf("Merge(%q) accepted, but its partial %q is rejected: %v", partial, p2, err)
		}
		if a, b := acc.AppendFinal(nil), again.AppendFinal(nil); string(a) != string(b) {
			t.Fatalf("Merge(%q): final %q, after a round trip %q", partial, a, b)
		}
	})
}

func FuzzSumMerge(f *testing.F) {
	fuzzMerge(f, Sum, "12", "-3", "2.5e+00", "+Inf", "NaN", "9223372036854775807", "1e308")
}
func FuzzCountMerge(f *testing.F) { fuzzMerge(f, Count, "0", "12", "9223372036854775807") }
func FuzzMinMerge(f *testing.F)   { fuzzMerge(f, Min, "", "12", "-0e+00", "2.5e+00") }
func FuzzMaxMerge(f *testing.F)   { fuzzMerge(f, Max, "", "12", "-0e+00", "2.5e+00") }
func FuzzConcatMerge(f *testing.F) {
	fuzzMerge(f, Concat, "", "\x01a\x03b,c", "\x00\x00", "\x80\x01"+strings.Repeat("x", 128))
}

// decimal is the syntax the numeric folds accept.
var decimal = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// FuzzSumAdd checks the number parser against the decimal syntax and
// strconv.
func FuzzSumAdd(f *testing.F) {
	for _, s := range []string{"1", "-1.5", "1e3", ".5", "1.", "abc", "0x10", "Inf", "99999999999999999999", "1e400", "-0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		acc := &sumAcc{}
		err := acc.Add(value)
		want, perr := strconv.ParseFloat(string(value), 64)
		valid := decimal.Match(value) && perr == nil
		switch {
		case err != nil && valid:
			t.Fatalf("Add(%q) = %v, but it is a finite decimal number", value, err)
		case err == nil && !valid:
			t.Fatalf("Add(%q) accepted a value that is not a finite decimal number", value)
		case err == nil && acc.n.float64() != want && !(acc.n.float && math.IsNaN(want)):
			t.Fatalf("Add(%q) = %v, want %v", value, acc.n, want)
		}
	})
}
