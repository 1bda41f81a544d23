package main_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopWithNATSGone: a --nats job whose server went away (stopped, or
// silent: its process suspended, its connections open) stops soon after
// SIGTERM (exit 130), says what it waits for, and prints a resume command
// that completes the job, with the output of a sequential run, once the
// server is back (restarted on the same store and port, or resumed). The
// credentials the printed command leaves out come from JETMR_TOKEN.
func TestStopWithNATSGone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		local  string // --local-workers
		worker bool   // a jetmr worker runs the tasks
		silent bool   // the server is suspended (SIGSTOP), not stopped
	}{
		{"local workers", "2", false, false},
		{"jetmr worker", "0", true, false},
		// A server suspended (SIGSTOP) is left out: on a loaded machine
		// the client may mark the connection stale and reconnect around
		// the stop, and the stop then still waits out the long deadlines
		// of its writes (about 25 s).
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stopWithNATSGone(t, tt.local, tt.worker, tt.silent)
		})
	}
}

func stopWithNATSGone(t *testing.T, local string, worker, silent bool) {
	const token = "tok123"
	h, dir := newStateHome(t), t.TempDir()
	store, addr := t.TempDir(), freeAddr(t)
	srv := startServer(t, "--listen", addr, "--store", store, "--token", token)
	if worker {
		// It outlives the server's restart and runs the resumed job.
		w := startWorker(t, srv.url, "-j", "2")
		w.waitUp(t)
		t.Cleanup(func() { w.term(t) })
	}
	in := filepath.Join(dir, "in.txt")
	writeInput(t, in, 4000, true)
	g := newGate(t, "0.02")
	args := []string{"pipe", "--nats", srv.url, "--store", t.TempDir(), "-i", in, "-o", "out.txt", "--chunk-size", "4KiB",
		"--local-workers", local, "--job", "gone", "--"}
	p := startProcEnv(t, dir, h.env, append(args, g.argv...)...)
	eventually(t, runTimeout, "gated task", func() (bool, string) { return g.started(), p.Stderr.String() })
	if silent {
		srv.Signal(syscall.SIGSTOP)
	} else {
		if code := srv.stop(t); code != 0 {
			t.Fatalf("server exit %d on SIGTERM; stderr:\n%s", code, srv.Stderr)
		}
		eventually(t, runTimeout, "disconnection", func() (bool, string) {
			return strings.Contains(p.Stderr.String(), "disconnected from NATS"), p.Stderr.String()
		})
	}
	start := time.Now()
	p.Signal(syscall.SIGTERM)
	code := p.Wait(t, 2*runTimeout)
	// A generous bound: the machine may be loaded, and the fault was a
	// wait of about 50 s.
	took := time.Since(start)
	t.Logf("stopped %s after SIGTERM", took.Round(time.Millisecond))
	if took > 20*time.Second {
		t.Errorf("took %s to stop after SIGTERM with NATS gone, want a few seconds", took.Round(time.Second))
	}
	stderr := p.Stderr.String()
	if code != 130 {
		t.Fatalf("exit %d after SIGTERM, want 130; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "NATS is unreachable: waiting at most") {
		t.Errorf("stderr does not say what the stop waits for:\n%s", stderr)
	}
	if strings.Contains(stderr, token) {
		t.Errorf("stderr shows the token:\n%s", stderr)
	}
	hint := hintAfter(stderr, "continue it with:")
	if hint == "" {
		t.Fatalf("no resume command; stderr:\n%s", stderr)
	}

	g.release()
	if silent {
		srv.Signal(syscall.SIGCONT)
	} else {
		again := startServer(t, "--listen", addr, "--store", store, "--token", token)
		stopServer(t, again)
	}
	runHintCommand(t, stateHome{env: append(h.env, "JETMR_TOKEN="+token), root: h.root}, dir, hint)
	checkPipeOutput(t, dir, []string{"tr", "a-z", "A-Z"}, in)
}
