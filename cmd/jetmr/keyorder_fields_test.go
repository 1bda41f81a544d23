package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyFieldsTextOrderByField sorts keys of two fields whose first
// field holds a byte below TAB: the default text order compares field by
// field, as LC_ALL=C sort -s -t$'\t' -k1,1 -k2,2 does, so "a" sorts before
// "a\x01" whatever follows, not the whole key bytewise. The reducer's
// input, a map-only job's part file and a resume's spilled runs agree.
func TestKeyFieldsTextOrderByField(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "ctl.tsv")
	if err := os.WriteFile(in, []byte("a\tb\tv1\na\x01\tz\tv2\na\x01\ta\tv3\na\tb\x01\tv4\na\ta\tv5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "v5 v1 v4 v3 v2" // sort -s -t$'\t' -k1,1 -k2,2
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"map-only", []string{"--reduce", "none"}},
		{"reducer", []string{"--reduce", "cat"}},
		{"map-only key-order text", []string{"--reduce", "none", "--key-order", "text"}},
		{"reducer partition-fields", []string{"--reduce", "cat", "--partition-fields", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := "out-" + strings.ReplaceAll(tc.name, " ", "-")
			args := append([]string{"mapreduce", "-q", "--store", t.TempDir(), "-i", in, "-o", out, "--map", "cat",
				"--key-fields", "2", "--partitions", "1"}, tc.args...)
			r := jetmr(t, dir, args...)
			if r.code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSuffix(fileText(t, filepath.Join(dir, out, "part-00000")), "\n"), "\n") {
				f := strings.Split(line, "\t")
				got = append(got, f[len(f)-1])
			}
			if strings.Join(got, " ") != want {
				t.Errorf("values in the order %q, want %q (field by field)", strings.Join(got, " "), want)
			}
		})
	}
}
