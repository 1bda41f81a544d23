package pipeline

import (
	"fmt"
	"testing"
	"time"
)

func TestAllocate(t *testing.T) {
	t.Parallel()
	stage := func(name string, rest time.Duration) *StagePlan {
		return &StagePlan{Stage: &Stage{Name: name}, Estimate: rest, Rest: rest}
	}
	s := time.Second
	for _, tc := range []struct {
		name  string
		free  int
		ready []*StagePlan
		caps  map[string]int
		want  string
	}{
		{"nothing free", 0, []*StagePlan{stage("a", s)}, nil, ""},
		{"nothing ready", 4, nil, nil, ""},
		{"one stage takes all", 4, []*StagePlan{stage("a", s)}, nil, "a:4"},
		{"equal work splits evenly", 4, []*StagePlan{stage("a", s), stage("b", s)}, nil, "a:2 b:2"},
		{"odd slot to the first (critical) stage", 5, []*StagePlan{stage("a", s), stage("b", s)}, nil, "a:3 b:2"},
		{"shares follow work", 8, []*StagePlan{stage("a", 3*s), stage("b", s)}, nil, "a:6 b:2"},
		{"short of slots: the first start", 2, []*StagePlan{stage("a", s), stage("b", s), stage("c", s)}, nil, "a:1 b:1"},
		{"work ahead counts, not the stage's own", 4, []*StagePlan{
			{Stage: &Stage{Name: "a"}, Estimate: s, Rest: 9 * s}, {Stage: &Stage{Name: "b"}, Estimate: 3 * s, Rest: 3 * s},
		}, nil, "a:3 b:1"},
		{"caps hold", 8, []*StagePlan{stage("a", 3*s), stage("b", s)}, map[string]int{"a": 2}, "a:2 b:6"},
		{"all capped leaves slots free", 8, []*StagePlan{stage("a", s)}, map[string]int{"a": 3}, "a:3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ""
			for i, a := range allocate(tc.free, tc.ready, tc.caps) {
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("%s:%d", a.stage.Name, a.slots)
			}
			if got != tc.want {
				t.Errorf("allocate = %q, want %q", got, tc.want)
			}
		})
	}
}
