package pipeline

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jetmr/jetmr/schema"
)

// Throughput is the work a stage of each kind does per second: input
// bytes for pipe and mapreduce, items for each, whole stages for migrate
// (whose row count is unknown until it runs).
type Throughput map[schema.Kind]float64

// DefaultThroughput is the throughput assumed for a kind until a stage of
// that kind has finished in this run.
func DefaultThroughput() Throughput {
	return Throughput{
		schema.KindPipe:      64 << 20,
		schema.KindMapReduce: 16 << 20,
		schema.KindEach:      4,
		schema.KindMigrate:   1.0 / 30,
	}
}

// StageOverhead is the time estimated for a stage on top of its work:
// recording the job, provisioning its streams, starting workers.
const StageOverhead = 200 * time.Millisecond

// Plan is a job file ordered and estimated, ready to run.
type Plan struct {
	File   *File
	Stages []*StagePlan // in level order, file order within a level
	// CriticalPath names the chain of stages with the most estimated
	// work, first stage first; Critical is that work.
	CriticalPath []string
	Critical     time.Duration
	byName       map[string]*StagePlan
}

// StagePlan is a stage with its place in the plan and its estimate.
type StagePlan struct {
	*Stage
	// Level is 0 for stages that depend on none, else one more than the
	// highest level of the stages they depend on.
	Level int
	// Work is the estimated work: input bytes (pipe, mapreduce), items
	// (each) or 1 (migrate). OutputBytes is the output it is expected to
	// write, the input size until the stage has run.
	Work        float64
	OutputBytes int64
	// Estimate is the estimated run time; Rest the estimated work along
	// the longest chain of stages starting with this one.
	Estimate, Rest time.Duration
	Critical       bool
	// measured is set once the stage ran: OutputBytes is the real size.
	measured bool
}

// Stage returns the named stage of the plan, nil if there is none.
func (p *Plan) Stage(name string) *StagePlan { return p.byName[name] }

// NewPlan orders the stages, checks that every input either exists or is
// written by a stage it depends on, and estimates the stages with tp
// (DefaultThroughput when nil).
func NewPlan(f *File, tp Throughput) (*Plan, error) {
	p := newPlan(f)
	if err := joinErrors(p.checkInputs()); err != nil {
		return nil, err
	}
	var plans []*StagePlan
	for _, s := range f.Stages {
		plans = append(plans, p.byName[s.Name])
	}
	g := analyze(nodesOf(plans))
	for _, i := range g.order {
		plans[i].Level = g.level[i]
		p.Stages = append(p.Stages, plans[i])
	}
	p.Estimate(tp)
	return p, nil
}

// newPlan is the plan of f before it is ordered: its stages by name.
func newPlan(f *File) *Plan {
	p := &Plan{File: f, byName: map[string]*StagePlan{}}
	for _, s := range f.Stages {
		if p.byName[s.Name] == nil { // the first of two stages of one name, as validate names them
			p.byName[s.Name] = &StagePlan{Stage: s}
		}
	}
	return p
}

func nodesOf(stages []*StagePlan) []Node {
	nodes := make([]Node, len(stages))
	for i, s := range stages {
		nodes[i] = Node{Name: s.Name, DependsOn: s.DependsOn, Work: s.Estimate}
	}
	return nodes
}

// Estimate re-estimates every stage with tp, using the measured output of
// stages that ran, and recomputes the critical path.
func (p *Plan) Estimate(tp Throughput) {
	def := DefaultThroughput()
	for _, s := range p.Stages { // level order: upstream stages first
		s.Work = p.work(s)
		if !s.measured {
			s.OutputBytes = int64(s.Work)
			if s.Kind.Traits().Split != schema.SplitFiles { // writes no file a stage reads
				s.OutputBytes = 0
			}
		}
		rate := tp[s.Kind]
		if rate <= 0 {
			rate = def[s.Kind]
		}
		s.Estimate = StageOverhead + time.Duration(s.Work/rate*float64(time.Second))
	}
	nodes := nodesOf(p.Stages)
	g := analyze(nodes)
	p.CriticalPath, p.Critical = g.critical(nodes)
	for i, s := range p.Stages {
		s.Rest = g.rest[i]
		s.Critical = false
	}
	for _, name := range p.CriticalPath {
		p.byName[name].Critical = true
	}
}

// work estimates a stage's work from its inputs.
func (p *Plan) work(s *StagePlan) float64 { return s.spec().work(p, s) }

// inputBytes is the size of a stage's inputs: files, or the expected
// output of the stages upstream that write them.
func (p *Plan) inputBytes(s *StagePlan) float64 {
	var total int64
	for _, in := range s.Inputs() {
		if up := p.producer(s.Stage, in); up != nil {
			total += up.OutputBytes
			continue
		}
		total += pathSize(in)
	}
	return float64(total)
}

// producer is the stage upstream of s that writes in, nil if none does.
func (p *Plan) producer(s *Stage, in string) *StagePlan {
	if name, ok := strings.CutPrefix(in, StageRef); ok {
		return p.byName[name]
	}
	ups, _ := p.upstream(s)
	for _, up := range ups {
		if out := up.Output(); out != "" && within(in, out) {
			return up
		}
	}
	return nil
}

// upstream lists the stages s depends on, directly or not; known is
// false when a dependency names no stage (in a file with problems).
func (p *Plan) upstream(s *Stage) (out []*StagePlan, known bool) {
	seen := map[string]bool{}
	known = true
	var walk func(s *Stage)
	walk = func(s *Stage) {
		for _, d := range s.DependsOn {
			if seen[d] {
				continue
			}
			seen[d] = true
			up := p.byName[d]
			if up == nil {
				known = false
				continue
			}
			out = append(out, up)
			walk(up.Stage)
		}
	}
	walk(s)
	return out, known
}

// checkInputs refuses inputs that do not exist and that no upstream stage
// writes, and outputs whose folder does not exist. It is also run on the
// stages of a file with problems, and skips the inputs of a stage whose
// upstream is not known.
func (p *Plan) checkInputs() []error {
	var errs []error
	for _, s := range p.File.Stages {
		if out := s.Output(); out != "" {
			dir := filepath.Dir(filepath.Clean(out))
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				errs = append(errs, &Error{File: p.File.Path, Line: s.line(string(s.Kind) + ".output"), Msg: fmt.Sprintf(
					"stage %s: the folder of output %s (%s) does not exist: create it first", s.Name, out, dir)})
			}
		}
		paths, field := s.Inputs(), string(s.Kind)+".input"
		if s.Each != nil && s.Each.ItemsFile != "" {
			paths, field = []string{s.Each.ItemsFile}, "each.items_file"
		}
		if _, known := p.upstream(s); !known {
			continue // a missing input may be the unknown stage's output
		}
		for _, in := range paths {
			if strings.HasPrefix(in, StageRef) || p.producer(s, in) != nil {
				continue
			}
			if _, err := os.Stat(in); err != nil {
				errs = append(errs, &Error{File: p.File.Path, Line: s.line(field), Msg: fmt.Sprintf(
					"stage %s: input %s does not exist and no stage it depends on writes it: check the path, or add the stage that writes it to depends_on", s.Name, in)})
			}
		}
	}
	return errs
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// pathSize is the size of a file, or of the files under a directory; 0
// when it cannot be read.
func pathSize(path string) int64 {
	var total int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// countLines counts the non-empty lines of a file, 0 if it cannot be read.
func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			n++
		}
	}
	return n
}
