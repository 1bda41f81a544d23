package schema_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/schema"
)

// TestTaskErrorJSON checks that a TaskError is written with snake_case
// keys and read back from them and from the field names earlier versions
// wrote.
func TestTaskErrorJSON(t *testing.T) {
	t.Parallel()
	want := schema.TaskError{Message: "awk exited with status 3", Permanent: true, ExitStatus: 3, Signal: "", StderrTail: "poison\n"}
	data, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"message":`, `"permanent":`, `"exit_status":`, `"stderr_tail":`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("%s has no key %s", data, key)
		}
	}
	for _, tc := range []struct{ name, in string }{
		{"current", string(data)},
		{"earlier", `{"Message":"awk exited with status 3","Permanent":true,"ExitStatus":3,"Signal":"","StderrTail":"poison\n"}`},
	} {
		var got schema.TaskError
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != want {
			t.Errorf("%s: read %+v, want %+v", tc.name, got, want)
		}
	}
}
