// Package counter collects the user counters and status messages of a
// job's map, combine and reduce steps, as Hadoop Streaming defines them: a
// command writes reporter:counter:GROUP,NAME,AMOUNT or
// reporter:status:MSG lines on its stderr (see command.RunReporting), and
// a Go map or reduce function calls [Add] and [SetStatus] with the context
// it was given.
//
// A worker collects one attempt's counters in a [Set] and ships them with
// the attempt's result, which the reducer accepts exactly once: the
// counters of failed, timed-out or superseded attempts never count. A Set
// is safe for concurrent use.
package counter

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"

	"github.com/jetmr/jetmr/schema"
)

// Set is a sum of counters, and the last status message.
type Set struct {
	mu     sync.Mutex
	sums   map[key]sum
	status string
}

type key struct{ group, name string }

// sum is one counter's value; a sum that went past the range of an int64
// saturates: it stays at the bound it passed.
type sum struct {
	value     int64
	saturated bool
}

// add is s plus n, saturated at the bounds of an int64.
func (s sum) add(n int64, saturated bool) sum {
	switch {
	case s.saturated:
	case saturated:
		s = sum{value: n, saturated: true}
	case n > 0 && s.value > math.MaxInt64-n:
		s = sum{value: math.MaxInt64, saturated: true}
	case n < 0 && s.value < math.MinInt64-n:
		s = sum{value: math.MinInt64, saturated: true}
	default:
		s.value += n
	}
	return s
}

// Add adds n to the counter group/name. A sum that would go past the
// range of an int64 saturates instead of wrapping around: it stays at
// math.MaxInt64 (or math.MinInt64) and is listed as Saturated.
func (s *Set) Add(group, name string, n int64) { s.add(group, name, n, false) }

func (s *Set) add(group, name string, n int64, saturated bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sums == nil {
		s.sums = make(map[key]sum)
	}
	k := key{group, name}
	s.sums[k] = s.sums[k].add(n, saturated)
}

// Counter implements command.Reporter: it is Add.
func (s *Set) Counter(group, name string, n int64) { s.Add(group, name, n) }

// Status implements command.Reporter: msg becomes the set's status.
func (s *Set) Status(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = msg
}

// LastStatus is the last status message given, "" if none.
func (s *Set) LastStatus() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// AddList adds every counter of list; a saturated one saturates the
// set's.
func (s *Set) AddList(list []schema.Counter) {
	for _, c := range list {
		s.add(c.Group, c.Name, c.Value, c.Saturated)
	}
}

// List returns the counters sorted by group, then name; nil if none.
func (s *Set) List() []schema.Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sums) == 0 {
		return nil
	}
	out := make([]schema.Counter, 0, len(s.sums))
	for k, v := range s.sums {
		out = append(out, schema.Counter{Group: k.group, Name: k.name, Value: v.value, Saturated: v.saturated})
	}
	slices.SortFunc(out, func(a, b schema.Counter) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Name, b.Name))
	})
	return out
}

type ctxKey struct{}

// NewContext returns ctx carrying s, for the Go functions called with it.
func NewContext(ctx context.Context, s *Set) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the set ctx carries, or nil.
func FromContext(ctx context.Context) *Set {
	s, _ := ctx.Value(ctxKey{}).(*Set)
	return s
}

// Add adds n to the counter group/name of the task or reduce that ctx
// belongs to: the library's way for a Go map or reduce function to count,
// as a command does with reporter:counter:GROUP,NAME,AMOUNT. Outside a
// task it does nothing.
func Add(ctx context.Context, group, name string, n int64) {
	if s := FromContext(ctx); s != nil {
		s.Add(group, name, n)
	}
}

// SetStatus sets the status message of the task or reduce that ctx
// belongs to, as reporter:status:MSG does. Outside a task it does nothing.
func SetStatus(ctx context.Context, msg string) {
	if s := FromContext(ctx); s != nil {
		s.Status(msg)
	}
}
