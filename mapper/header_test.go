package mapper

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// TestHeaderStripper writes outputs to a headerStripper in pieces of
// every size: an output that begins with the header loses exactly it; one
// that does not fails the task for good, whatever the pieces.
func TestHeaderStripper(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, want, output, kept string
		ok                       bool
	}{
		{"header then records", "id,name\n", "id,name\n1,a\n2,b\n", "1,a\n2,b\n", true},
		{"no header printed", "", "1,a\n", "1,a\n", true},
		{"only the header", "h\n", "h\n", "", true},
		{"header of two lines", "a\nb\n", "a\nb\nc\n", "c\n", true},
		{"other first line", "id,name\n", "1,a\nid,name\n", "", false},
		{"output shorter than the header", "id,name\n", "id,n", "", false},
		{"no output", "h\n", "", "", false},
	}
	for _, tc := range cases {
		for size := 1; size <= len(tc.output)+1; size++ {
			var out bytes.Buffer
			h := &headerStripper{want: []byte(tc.want), w: &out}
			for rest := tc.output; rest != ""; {
				n := min(size, len(rest))
				if k, err := h.Write([]byte(rest[:n])); k != n || err != nil {
					t.Fatalf("%s, pieces of %d: Write = %d, %v", tc.name, size, k, err)
				}
				rest = rest[n:]
			}
			err := h.check(&schema.Task{Index: 3})
			var te *schema.TaskError
			switch {
			case tc.ok && err != nil:
				t.Errorf("%s, pieces of %d: %v", tc.name, size, err)
			case tc.ok && out.String() != tc.kept:
				t.Errorf("%s, pieces of %d: kept %q, want %q", tc.name, size, out.String(), tc.kept)
			case !tc.ok && (!errors.As(err, &te) || !te.Permanent || !strings.Contains(te.Message, "--header-once")):
				t.Errorf("%s, pieces of %d: error %v, want a permanent task error naming --header-once", tc.name, size, err)
			}
		}
	}
}
