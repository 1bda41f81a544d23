package main_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPipelineRefusesExistingRejects: a stage with skip_bad_records whose
// rejects file (OUTPUT.rejected) exists is refused before any stage runs
// (exit 2), naming the file, as pipe refuses it; with --force the
// pipeline runs.
func TestPipelineRefusesExistingRejects(t *testing.T) {
	t.Parallel()
	h, dir := newStateHome(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "a\nb\nc\n")
	writeFile(t, filepath.Join(dir, "out.txt.rejected"), "old\n")
	writeJobFile(t, dir, `
stages:
  - name: up
    pipe: {input: [in.txt], output: out.txt, command: [tr, a-z, A-Z], skip_bad_records: 2}
`)
	r := h.run(t, dir, "pipeline", "--job", "prej", "job.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "out.txt.rejected") || strings.Contains(r.stderr, "started") ||
		strings.Contains(r.stderr, "jetmr: pipeline prej") {
		t.Fatalf("existing rejects file: exit %d, want 2 naming it before any stage started or the pipeline was announced; stderr:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
		t.Errorf("the refused pipeline wrote out.txt")
	}
	if r := h.run(t, dir, "pipeline", "--job", "prej", "--force", "job.yaml"); r.code != 0 {
		t.Fatalf("with --force: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if got := fileText(t, filepath.Join(dir, "out.txt")); got != "A\nB\nC\n" {
		t.Errorf("out.txt with --force: %q", got)
	}
}

// TestDiscardPipelineRemovesStagedOutputs: jetmr discard PIPELINE_ID, the
// command a failed pipeline prints, removes what its failed stage staged
// next to its output, as discarding the stage's job would. Status of the
// pipeline ID lists its stages, and status of the stage's job advises
// resuming the pipeline, and the same discard. Each printed command
// carries the flags that reach the store the pipeline ran in (its own
// under the default root, --store DIR, or --nats URL with its credentials
// file), and is run as printed.
func TestDiscardPipelineRemovesStagedOutputs(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "--token", "s3cret")
	stopServer(t, srv)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, "s3cret\n")
	tests := []struct {
		name  string
		flags func(t *testing.T) []string
		env   []string
	}{
		{"own store", func(*testing.T) []string { return nil }, nil},
		{"--store", func(t *testing.T) []string { return []string{"--store", t.TempDir()} }, nil},
		{"--nats, JETMR_TOKEN", func(*testing.T) []string { return []string{"--nats", srv.printed} }, []string{"JETMR_TOKEN=s3cret"}},
		{"--nats --token-file", func(*testing.T) []string { return []string{"--nats", srv.printed, "--token-file", tokenFile} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, dir, flags := newStateHome(t), t.TempDir(), tt.flags(t)
			h.env = append(h.env, tt.env...)
			run := flags
			if len(tt.env) > 0 || slices.Contains(flags, "--token-file") {
				run = append(slices.Clone(flags), "--local-workers", "1") // a server has no workers of its own
			}
			id := "pdis" + strings.NewReplacer(" ", "", "-", "", ",", "", "_", "").Replace(strings.ToLower(tt.name))
			writeFile(t, filepath.Join(dir, "in.txt"), "a\nb\n")
			writeJobFile(t, dir, `
retries: 0
stages:
  - name: f
    pipe: {input: [in.txt], output: f.txt, command: ["false"]}
`)
			r := h.run(t, dir, slices.Concat([]string{"pipeline", "-q", "--job", id}, run, []string{"job.yaml"})...)
			if r.code != 1 {
				t.Fatalf("failing stage: exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			if names := dirNames(t, dir); len(names) != 3 {
				t.Fatalf("after the failed stage the folder holds %q, want the staged output too", names)
			}
			hint := discardHint(t, r.stderr)
			if want := strings.Join(slices.Concat([]string{"jetmr discard", id}, flags), " "); hint != want {
				t.Errorf("the pipeline prints %q, want %q", hint, want)
			}
			resume := hintAfter(r.stderr, "run the failed tasks again, once fixed, with:")
			if resume == "" {
				t.Fatalf("no resume command printed:\n%s", r.stderr)
			}
			if pr := runHintEnv(t, dir, h.env, resume); pr.code != 1 || !strings.Contains(pr.stderr, "stage f failed: 1 task(s) of job "+id+"-f failed") {
				t.Fatalf("the printed resume %q: exit %d, want 1 (the stage still fails in the same store); stderr:\n%s", resume, pr.code, pr.stderr)
			}
			if ps := h.run(t, dir, slices.Concat([]string{"status", id}, flags)...); ps.code != 0 ||
				!strings.Contains(ps.stdout, "pipeline "+id+": 1 stage job(s)") || !strings.Contains(ps.stdout, id+"-f") {
				t.Errorf("status of the pipeline ID: exit %d, want its stages; stdout:\n%s\nstderr:\n%s", ps.code, ps.stdout, ps.stderr)
			}
			st := h.run(t, dir, slices.Concat([]string{"status", id + "-f"}, flags)...)
			if st.code != 0 || !strings.Contains(st.stdout, "of pipeline "+id+": continue the pipeline: run its jetmr pipeline command again with --job "+id+" --resume --retry-failed added") ||
				strings.Contains(st.stdout, "--job "+id+"-f") {
				t.Errorf("status of a stage: exit %d, want the pipeline's resume advised; stdout:\n%s", st.code, st.stdout)
			}
			if got := discardHint(t, st.stdout); got != hint {
				t.Errorf("status advises %q, the pipeline %q", got, hint)
			}
			runHintCommand(t, h, dir, hint)
			if names := dirNames(t, dir); strings.Join(names, " ") != "in.txt job.yaml" {
				t.Errorf("after %s the folder holds %q, want in.txt and job.yaml alone", hint, names)
			}
			if ps := h.run(t, dir, slices.Concat([]string{"status", id}, flags)...); ps.code != 2 || !strings.Contains(ps.stderr, "unknown job "+id) {
				t.Errorf("status of the discarded pipeline: exit %d, want 2 naming it; stdout:\n%s\nstderr:\n%s", ps.code, ps.stdout, ps.stderr)
			}
		})
	}
}

// TestPipelineItemsFileFromStage: an each stage's items_file may be
// stage:NAME, that stage's output, as docs/pipeline.md says: the stage
// runs after it, over the items it wrote.
func TestPipelineItemsFileFromStage(t *testing.T) {
	t.Parallel()
	h, dir := newStateHome(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "a\nb\nc\n")
	writeJobFile(t, dir, `
stages:
  - name: up
    pipe: {input: [in.txt], output: items.txt, command: [tr, a-z, A-Z]}
  - name: each
    each: {items_file: "stage:up", keep_order: true, command: [echo, "item {}"]}
`)
	r := h.run(t, dir, "pipeline", "--job", "pitems", "job.yaml")
	if r.code != 0 {
		t.Fatalf("items_file stage:up: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if r.stdout != "item A\nitem B\nitem C\n" {
		t.Errorf("stdout: %q, want a line per item of stage up's output", r.stdout)
	}
}
