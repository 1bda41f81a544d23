package clitest

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// ReadParts reads a keyed output directory of partitions part files,
// checking that it holds exactly those files, that each is sorted by key
// without duplicates, and that each key is in its partition. It returns
// the value of each key.
func ReadParts(t testing.TB, dir string, partitions int) map[string]string {
	t.Helper()
	var want []string
	for p := range partitions {
		want = append(want, reducer.PartName(p))
	}
	if got := DirNames(t, dir); !slices.Equal(got, want) {
		t.Fatalf("output directory holds %q, want %q", got, want)
	}
	out := map[string]string{}
	for p := range partitions {
		readPart(t, filepath.Join(dir, reducer.PartName(p)), p, partitions, out)
	}
	return out
}

// readPart adds the keys of part file p to out, checking them.
func readPart(t testing.TB, path string, p, partitions int, out map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	name := filepath.Base(path)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var last []byte
	line := 0
	for sc.Scan() {
		line++
		key, value, ok := bytes.Cut(sc.Bytes(), []byte("\t"))
		if !ok {
			t.Fatalf("%s line %d: %q has no tab", name, line, sc.Bytes())
		}
		if last != nil && bytes.Compare(last, key) >= 0 {
			t.Fatalf("%s line %d: key %q after %q: not sorted or duplicate", name, line, key, last)
		}
		if got := schema.Partition(key, partitions); got != p {
			t.Fatalf("%s line %d: key %q belongs to partition %d", name, line, key, got)
		}
		last = append(last[:0], key...)
		out[string(key)] = string(value)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// DirNames lists the names in dir, sorted; never nil.
func DirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
