package pipeline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/pipeline"
)

func TestCriticalPath(t *testing.T) {
	t.Parallel()
	s := time.Second
	node := func(name string, work time.Duration, deps ...string) pipeline.Node {
		return pipeline.Node{Name: name, Work: work, DependsOn: deps}
	}
	for _, tc := range []struct {
		name  string
		nodes []pipeline.Node
		path  string
		total time.Duration
	}{
		{"one stage", []pipeline.Node{node("a", 3*s)}, "a", 3 * s},
		{"chain", []pipeline.Node{node("a", s), node("b", 2*s, "a"), node("c", 3*s, "b")}, "a b c", 6 * s},
		{"diamond, heavy left", []pipeline.Node{
			node("a", s), node("b", 5*s, "a"), node("c", 2*s, "a"), node("d", s, "b", "c"),
		}, "a b d", 7 * s},
		{"diamond, heavy right", []pipeline.Node{
			node("a", s), node("b", 2*s, "a"), node("c", 5*s, "a"), node("d", s, "b", "c"),
		}, "a c d", 7 * s},
		{"independent chains", []pipeline.Node{
			node("x", 4*s), node("a", s), node("b", s, "a"), node("c", s, "b"), node("y", 4*s, "x"),
		}, "x y", 8 * s},
		{"longest chain is not the one with most stages", []pipeline.Node{
			node("a", s), node("b", s, "a"), node("c", s, "b"), node("d", s, "c"), node("big", 10*s),
		}, "big", 10 * s},
		{"listed out of order", []pipeline.Node{
			node("d", s, "b", "c"), node("c", 3*s, "a"), node("b", 2*s, "a"), node("a", s),
		}, "a c d", 5 * s},
		{"wide fan-in", []pipeline.Node{
			node("a", s), node("b", 2*s), node("c", 7*s), node("e", 4*s), node("join", s, "a", "b", "c", "e"), node("tail", 2*s, "join"),
		}, "c join tail", 10 * s},
		{"ties go to the first", []pipeline.Node{node("a", 2*s), node("b", 2*s)}, "a", 2 * s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, total := pipeline.CriticalPath(tc.nodes)
			if got := strings.Join(path, " "); got != tc.path || total != tc.total {
				t.Errorf("critical path %q %s, want %q %s", got, total, tc.path, tc.total)
			}
		})
	}
}
