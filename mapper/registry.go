package mapper

import (
	"fmt"
	"github.com/jetmr/jetmr/fold"
	"slices"
	"strings"
	"sync"

	"github.com/jetmr/jetmr/reducer"
)

// Registry names the map functions and reduces a worker can run. A job
// names its functions; every process that runs the job's tasks resolves
// those names in its own registry, so a job submitted by one process runs
// Go functions in worker processes built with the same registrations.
//
// A Registry is safe for concurrent use. Registering an empty name, a nil
// function or a name twice is a programming error and panics.
type Registry struct {
	mu      sync.RWMutex
	maps    map[string]MapFunc
	folds   map[string]fold.Fold
	reduces map[string]reducer.ReduceFunc
}

// NewRegistry returns a registry holding the built-ins: the maps wordcount,
// lines and grep:REGEX, and the folds sum, count, min, max and concat.
func NewRegistry() *Registry {
	r := &Registry{
		maps:    map[string]MapFunc{"wordcount": Wordcount, "lines": Lines},
		folds:   map[string]fold.Fold{},
		reduces: map[string]reducer.ReduceFunc{},
	}
	for _, f := range []fold.Fold{fold.Sum, fold.Count, fold.Min, fold.Max, fold.Concat} {
		r.folds[f.Name()] = f
	}
	return r
}

// RegisterMap adds a map function under name.
func (r *Registry) RegisterMap(name string, fn MapFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkNew(name, fn == nil)
	r.maps[name] = fn
}

// RegisterFold adds a fold (an associative reduce, also run map-side as a
// combiner) under its name.
func (r *Registry) RegisterFold(f fold.Fold) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkNew(f.Name(), f == nil)
	r.folds[f.Name()] = f
}

// RegisterReduce adds a reduce over all the values of one key under name.
func (r *Registry) RegisterReduce(name string, fn reducer.ReduceFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checkNew(name, fn == nil)
	r.reduces[name] = fn
}

func (r *Registry) checkNew(name string, isNil bool) {
	switch {
	case name == "" || strings.ContainsAny(name, " \t\n"):
		panic(fmt.Sprintf("mapper.Registry: bad function name %q", name))
	case isNil:
		panic(fmt.Sprintf("mapper.Registry: nil function for %q", name))
	case strings.HasPrefix(name, grepPrefix):
		panic(fmt.Sprintf("mapper.Registry: %q is reserved for the built-in grep", name))
	}
	_, m := r.maps[name]
	_, f := r.folds[name]
	_, d := r.reduces[name]
	if m || f || d {
		panic(fmt.Sprintf("mapper.Registry: %q is registered twice", name))
	}
}

// Map returns the map function called name. ok is false when there is
// none; err is set for a grep:REGEX whose expression does not compile.
func (r *Registry) Map(name string) (fn MapFunc, ok bool, err error) {
	if strings.HasPrefix(name, grepPrefix) {
		return ParseBuiltinMap(name)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok = r.maps[name]
	return fn, ok, nil
}

// Reduce returns the fold or the reduce function called name (one of them
// is nil); ok is false when there is neither.
func (r *Registry) Reduce(name string) (f fold.Fold, fn reducer.ReduceFunc, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if f, ok = r.folds[name]; ok {
		return f, nil, true
	}
	fn, ok = r.reduces[name]
	return nil, fn, ok
}

// MapNames lists the registered map functions, for messages.
func (r *Registry) MapNames() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return listNames(r.maps, grepPrefix+"REGEX")
}

// ReduceNames lists the registered reduces, for messages.
func (r *Registry) ReduceNames() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make(map[string]bool, len(r.folds)+len(r.reduces))
	for n := range r.folds {
		names[n] = true
	}
	for n := range r.reduces {
		names[n] = true
	}
	return listNames(names)
}

func listNames[V any](m map[string]V, extra ...string) string {
	names := make([]string, 0, len(m)+len(extra))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(append(names, extra...), ", ")
}
