package job

import (
	"strconv"
	"strings"
)

// ParseHalt reads a --halt value: never, soon,fail=N or now,fail=N (GNU
// parallel's syntax; "soon" and "now" alone mean fail=1).
func ParseHalt(s string) (Halt, error) {
	when, rest, _ := strings.Cut(s, ",")
	h := Halt{When: when, Fail: 1}
	if rest != "" {
		v, ok := strings.CutPrefix(rest, "fail=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 1 {
			return Halt{}, badInput("--halt %q is not valid: use never, soon,fail=N or now,fail=N with N >= 1", s)
		}
		h.Fail = n
	}
	if h.When == HaltNever && rest != "" {
		return Halt{}, badInput("--halt never takes no fail=N")
	}
	return h, h.validate()
}
