package pipeline_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetmr/jetmr/pipeline"
)

func ExampleCriticalPath() {
	path, total := pipeline.CriticalPath([]pipeline.Node{
		{Name: "fetch", Work: 2 * time.Second},
		{Name: "index", Work: 5 * time.Second, DependsOn: []string{"fetch"}},
		{Name: "thumbnails", Work: 3 * time.Second, DependsOn: []string{"fetch"}},
		{Name: "publish", Work: time.Second, DependsOn: []string{"index", "thumbnails"}},
	})
	fmt.Println(strings.Join(path, " -> "), total)
	// Output: fetch -> index -> publish 8s
}

func ExampleParse() {
	_, err := pipeline.Parse("build.yaml", []byte(`
stages:
  - name: a
    pipe: {input: [stage:b], output: a.txt, command: [cat]}
  - name: b
    pipe: {input: [stage:a], output: b.txt, command: [cat]}
`))
	var perr *pipeline.Error
	if errors.As(err, &perr) {
		fmt.Println(perr.File, perr.Line)
		fmt.Println(perr.Msg)
	}
	// Output:
	// build.yaml 3
	// the stages depend on each other in a cycle: a -> b -> a: remove one of these dependencies
}
