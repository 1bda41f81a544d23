package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the plan, as `jetmr pipeline --dry-run` prints it: the
// stages level by level with their inputs and estimated times, and the
// critical path.
func (p *Plan) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	levels := 0
	for _, s := range p.Stages {
		levels = max(levels, s.Level+1)
	}
	fmt.Fprintf(bw, "pipeline %s: %d stages in %d levels\n", p.File.Path, len(p.Stages), levels)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  level\tstage\tkind\twork\testimate\tafter")
	for _, s := range p.Stages {
		after := "-"
		if len(s.DependsOn) > 0 {
			after = strings.Join(s.DependsOn, ", ")
		}
		name := s.Name
		if s.Critical {
			name += " *"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", s.Level+1, name, s.Kind, workText(s), fmtSeconds(s.Estimate.Seconds()), after)
	}
	tw.Flush()
	fmt.Fprintf(bw, "critical path (*): %s, estimated %s\n", strings.Join(p.CriticalPath, " -> "), fmtSeconds(p.Critical.Seconds()))
	return bw.Flush()
}

func workText(s *StagePlan) string { return s.spec().workText(s.Work) }
