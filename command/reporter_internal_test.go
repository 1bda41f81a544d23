package command

import (
	"bytes"
	"fmt"
	"testing"
)

type recorded struct{ bytes.Buffer }

func (r *recorded) Counter(group, name string, n int64) {
	fmt.Fprintf(r, "c[%q %q %d]", group, name, n)
}
func (r *recorded) Status(msg string) { fmt.Fprintf(r, "s[%q]", msg) }

// FuzzReportFilter checks that a command's stderr is filtered the same
// way however its writes cut it, and that every byte is either passed on
// or reported.
func FuzzReportFilter(f *testing.F) {
	f.Add([]byte("reporter:counter:G,N,1\nplain\nreporter:status:x\n"), 5)
	f.Add([]byte("rep\nreporter:counter:G,N\nreporter:counter:,,-0"), 3)
	f.Add([]byte("reporter:status:\r\n\n\nreporter:"), 9)
	f.Fuzz(func(t *testing.T, data []byte, step int) {
		if step < 1 || len(data) > 1<<12 {
			return
		}
		run := func(step int) (string, string) {
			var rep recorded
			var out bytes.Buffer
			flt := &reportFilter{rep: &rep, next: &out}
			for i := 0; i < len(data); i += step {
				flt.Write(data[i:min(i+step, len(data))])
			}
			out.Write(flt.flush())
			return out.String(), rep.String()
		}
		whole, wholeRep := run(len(data) + 1)
		cut, cutRep := run(step)
		if whole != cut || wholeRep != cutRep {
			t.Fatalf("in one write: %q, %s; in writes of %d: %q, %s", whole, wholeRep, step, cut, cutRep)
		}
		if len(whole) > len(data) {
			t.Fatalf("passed on %d bytes of %d", len(whole), len(data))
		}
	})
}
