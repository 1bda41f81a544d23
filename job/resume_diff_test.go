package job_test

import (
	"testing"

	"github.com/jetmr/jetmr/job"
)

// TestInputsDiffNamesTheFiles: a resume refused for other inputs names the
// files added and dropped, not every path twice.
func TestInputsDiffNamesTheFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		was, now []string
		want     string
	}{
		{[]string{"d/a", "d/b"}, []string{"d/a", "d/b", "d/c"}, "the inputs differ: new input(s) d/c"},
		{[]string{"d/a", "d/b"}, []string{"d/b"}, "the inputs differ: input(s) gone d/a"},
		{[]string{"a"}, []string{"b"}, "the inputs differ: new input(s) b; input(s) gone a"},
		{[]string{"a", "b"}, []string{"b", "a"}, "the inputs are the same files in another order"},
	} {
		if got := job.InputsDiff(tc.was, tc.now); got != tc.want {
			t.Errorf("InputsDiff(%q, %q) = %q, want %q", tc.was, tc.now, got, tc.want)
		}
	}
}
