package pipeline_test

import (
	"errors"
	"os"
	"testing"

	"github.com/jetmr/jetmr/pipeline"
)

// FuzzParse feeds the job file parser arbitrary bytes: it never panics,
// and every error it returns is an *Error, or *Errors joined in file
// order.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../examples/pipeline.yaml"); err == nil {
		f.Add(data)
	}
	for _, seed := range []string{
		"", "---\n", "stages: []", "stages:\n  - name: a\n", "stages: [{name: a, pipe: {input: x, command: [cat]}}]",
		"stages:\n  - name: a\n    pipe: {input: [stage:b], output: o, command: [cat]}\n  - name: b\n    pipe: {input: [stage:a], output: p, command: [cat]}\n",
		"stages:\n  - &x {name: a}\n  - *x\n", "a: b\n---\nc: d\n", "stages: !!binary aGVsbG8=", "[1, 2]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := pipeline.Parse("fuzz.yaml", data)
		var perr *pipeline.Error
		switch {
		case err != nil && !errors.As(err, &perr):
			t.Fatalf("error %v is a %T, not a *pipeline.Error", err, err)
		case err == nil && len(file.Stages) == 0:
			t.Fatal("a file without stages parsed")
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			line := 0
			for _, e := range j.Unwrap() {
				if !errors.As(e, &perr) || perr.Line < line {
					t.Fatalf("problem %v (%T) is not an *Error in file order:\n%v", e, e, err)
				}
				line = perr.Line
			}
		}
	})
}
