package main_test

import (
	"os"
	"path/filepath"
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
// stage's job advises resuming the pipeline, and the same discard.
func TestDiscardPipelineRemovesStagedOutputs(t *testing.T) {
	t.Parallel()
	h, dir := newStateHome(t), t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "a\nb\n")
	writeJobFile(t, dir, `
retries: 0
stages:
  - name: f
    pipe: {input: [in.txt], output: f.txt, command: ["false"]}
`)
	r := h.run(t, dir, "pipeline", "-q", "--job", "pdis", "job.yaml")
	if r.code != 1 {
		t.Fatalf("failing stage: exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if names := dirNames(t, dir); len(names) != 3 {
		t.Fatalf("after the failed stage the folder holds %q, want the staged output too", names)
	}
	if pr := h.run(t, dir, "pipeline", "-q", "--job", "pdis", "--resume", "--retry-failed", "job.yaml"); pr.code != 1 {
		t.Fatalf("the printed resume: exit %d, want 1 (the stage still fails); stderr:\n%s", pr.code, pr.stderr)
	}
	if ps := h.run(t, dir, "status", "pdis"); ps.code != 0 || !strings.Contains(ps.stdout, "pipeline pdis: 1 stage job(s)") || !strings.Contains(ps.stdout, "pdis-f") {
		t.Errorf("status of the pipeline ID: exit %d, want its stages; stdout:\n%s\nstderr:\n%s", ps.code, ps.stdout, ps.stderr)
	}
	st := h.run(t, dir, "status", "pdis-f")
	if st.code != 0 || !strings.Contains(st.stdout, "of pipeline pdis: continue the pipeline: run its jetmr pipeline command again with --job pdis --resume --retry-failed added") ||
		strings.Contains(st.stdout, "--job pdis-f") {
		t.Errorf("status of a stage: exit %d, want the pipeline's resume advised; stdout:\n%s", st.code, st.stdout)
	}
	if got, want := discardHint(t, st.stdout), discardHint(t, r.stderr); got != want {
		t.Errorf("status advises %q, the pipeline %q", got, want)
	}
	runHintCommand(t, h, dir, discardHint(t, st.stdout))
	if names := dirNames(t, dir); strings.Join(names, " ") != "in.txt job.yaml" {
		t.Errorf("after jetmr discard pdis the folder holds %q, want in.txt and job.yaml alone", names)
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
