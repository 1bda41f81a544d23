package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/internal/clitest"
	"github.com/jetmr/jetmr/internal/s3test"
)

// TestS3OutputUploadFailsStdin takes the S3 server down while a job that
// reads standard input runs: the job fails with exit 3, keeps its staged
// output, names it and prints the command that uploads it; that command,
// run once the server is back, uploads the output without reading
// standard input again. Over NATS, status says at once that the job
// stopped, not that it runs.
func TestS3OutputUploadFailsStdin(t *testing.T) {
	t.Parallel()
	gate := "touch started; while [ ! -e go ]; do sleep 0.02; done; cat"
	var in strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&in, "k%d\t%d\n", i%7, i)
	}
	sums := map[string]int{}
	for i := range 3000 {
		sums[fmt.Sprintf("k%d", i%7)] += i
	}
	for _, tc := range []struct {
		name string
		kind string
		nats bool
		args []string // after the output
		out  string
		keys []string // the objects written
	}{
		{"pipe", "pipe", false, []string{"--", "sh", "-c", gate}, "s3://results/out.txt", []string{"out.txt"}},
		{"pipe over NATS", "pipe", true, []string{"--", "sh", "-c", gate}, "s3://results/out.txt", []string{"out.txt"}},
		{"mapreduce", "mapreduce", false, []string{"--map", "sh -c '" + gate + "'", "--reduce", "sum", "--partitions", "2"}, "s3://results/sums/",
			[]string{"sums/part-00000", "sums/part-00001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := s3test.Start(t)
			s.Bucket(t, "results")
			dir, state := t.TempDir(), t.TempDir()
			// The staged output is in the store, or with --nats in the
			// default store root, which the printed command finds again.
			env := append([]string{"XDG_STATE_HOME=" + state}, s.Env()...)
			store, where := t.TempDir(), []string{}
			if tc.nats {
				where = []string{"--nats", plainNATS(t)}
				store = filepath.Join(state, "jetmr")
			} else {
				where = []string{"--store", store}
			}
			args := append(append([]string{tc.kind, "--job", "up", "-i", "-", "-o", tc.out, "--chunk-size", "8KiB", "-j", "2"}, where...), tc.args...)
			if tc.nats {
				args = append(args[:len(args)-len(tc.args)], append([]string{"--local-workers", "2"}, tc.args...)...)
			}
			cmd := exec.Command(bin, args...)
			cmd.Dir, cmd.Stdin = dir, strings.NewReader(in.String())
			cmd.Env = append(os.Environ(), env...)
			var stderr clitest.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			eventually(t, runTimeout, "the tasks", func() (bool, string) {
				_, err := os.Stat(filepath.Join(dir, "started"))
				return err == nil, stderr.String()
			})
			s.Down(true)
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if code := clitest.ExitCode(cmd.Wait()); code != 3 {
				t.Fatalf("upload to a server that is down: exit %d, want 3; stderr:\n%s", code, stderr.String())
			}
			s.Down(false)
			if keys := s.Keys(t, "results", ""); len(keys) != 0 {
				t.Fatalf("objects after the failed upload: %q", keys)
			}
			staged := filepath.Join(store, "s3-output", "up", "out")
			if !strings.Contains(stderr.String(), "the output is kept in "+staged) {
				t.Errorf("stderr does not name the staged output %s:\n%s", staged, stderr.String())
			}
			if _, err := os.Stat(staged); err != nil {
				t.Fatalf("the staged output is gone: %v; stderr:\n%s", err, stderr.String())
			}
			st := jetmr(t, dir, append([]string{"status", "up"}, where...)...)
			if st.code != 0 || !regexp.MustCompile(`state:\s+stopped\n`).MatchString(st.stdout) || !strings.Contains(st.stdout, "not uploaded") {
				t.Errorf("status of a job whose upload failed: exit %d, want it stopped and saying how to upload:\n%s%s", st.code, st.stdout, st.stderr)
			}

			line := hintAfter(stderr.String(), "upload it with:")
			if line == "" {
				t.Fatalf("no upload command printed:\n%s", stderr.String())
			}
			if r := runHintEnv(t, dir, env, line); r.code != 0 {
				t.Fatalf("printed command %q: exit %d; stderr:\n%s", line, r.code, r.stderr)
			}
			if keys := s.Keys(t, "results", ""); !slices.Equal(keys, tc.keys) {
				t.Fatalf("objects after the printed command: %q, want %q", keys, tc.keys)
			}
			if tc.kind == "pipe" {
				if got, _ := s.Get(t, "results", "out.txt"); string(got) != in.String() {
					t.Errorf("the object holds %d bytes, want the input's %d", len(got), in.Len())
				}
			} else {
				got := map[string]int{}
				for _, k := range tc.keys {
					data, _ := s.Get(t, "results", k)
					for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
						var key string
						var n int
						if _, err := fmt.Sscanf(l, "%s\t%d", &key, &n); err != nil {
							t.Fatalf("output line %q: %v", l, err)
						}
						got[key] += n
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(sums) {
					t.Errorf("sums %v, want %v", got, sums)
				}
			}
			if names := dirNames(t, filepath.Join(store, "s3-output")); len(names) != 0 {
				t.Errorf("staging folders left behind: %q", names)
			}
		})
	}
}
