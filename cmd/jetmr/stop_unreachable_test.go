package main_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopWithNATSGone: a --nats job whose server went away stops soon
// after SIGINT or SIGTERM (exit 130), says at once that NATS is
// unreachable, naming the server, and prints a resume command that
// completes the job, with the output of a sequential run, once the server
// is back (restarted on the same store and port, or resumed). The server
// is stopped, or silent: its process suspended (SIGSTOP), its connections
// open, either still taken for up when the job stops or already given up
// by the client, which keeps reconnecting to the suspended process. The
// credentials the printed command leaves out come from JETMR_TOKEN.
func TestStopWithNATSGone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		local  string // --local-workers
		worker bool   // a jetmr worker runs the tasks
		gone   goneMode
		sig    syscall.Signal
	}{
		{"local workers", "2", false, serverStopped, syscall.SIGTERM},
		{"jetmr worker", "0", true, serverStopped, syscall.SIGTERM},
		{"server silent", "2", false, serverSilent, syscall.SIGINT},
		{"server silent client reconnecting", "2", false, serverSilentReconnecting, syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stopWithNATSGone(t, tt.local, tt.worker, tt.gone, tt.sig)
		})
	}
}

// goneMode is how the server of a stopped job went away.
type goneMode int

const (
	serverStopped            goneMode = iota // SIGTERM: the connections close
	serverSilent                             // SIGSTOP: the job stops before its client notices
	serverSilentReconnecting                 // SIGSTOP: the job stops once its client reconnects
)

// stopBound bounds the stop of a job whose server is gone: its writes
// share 5 s. It is generous, as the machine may be loaded; the fault was a
// wait of 25 s to 50 s.
const stopBound = 10 * time.Second

// warnBound bounds the time from the signal to the warning that NATS is
// unreachable; generous, as stopBound.
const warnBound = 4 * time.Second

// whenWarned waits for p to say that NATS is unreachable, or to end, or
// for timeout, and returns the time it took to say so (or the time it
// waited, when it did not).
func whenWarned(p *proc, timeout time.Duration) time.Duration {
	start := time.Now()
	deadline := time.After(timeout)
	for !strings.Contains(p.Stderr.String(), "NATS is unreachable") {
		select {
		case <-p.Done():
			return time.Since(start)
		case <-deadline:
			return time.Since(start)
		case <-time.After(pollInterval):
		}
	}
	return time.Since(start)
}

func stopWithNATSGone(t *testing.T, local string, worker bool, gone goneMode, sig syscall.Signal) {
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
	switch gone {
	case serverStopped:
		if code := srv.stop(t); code != 0 {
			t.Fatalf("server exit %d on SIGTERM; stderr:\n%s", code, srv.Stderr)
		}
	case serverSilent, serverSilentReconnecting:
		srv.Signal(syscall.SIGSTOP)
		// However the test ends, the server must not stay suspended: its
		// cleanup would wait for it in vain.
		t.Cleanup(func() { srv.Signal(syscall.SIGCONT) })
	}
	if gone != serverSilent {
		// A suspended server is noticed by the client's pings (about
		// 20 s); the client then reconnects, and the suspended process's
		// listener takes the connections and answers nothing.
		eventually(t, 2*runTimeout, "disconnection", func() (bool, string) {
			return strings.Contains(p.Stderr.String(), "disconnected from NATS"), p.Stderr.String()
		})
	}
	start := time.Now()
	p.Signal(sig)
	warned := whenWarned(p, 2*runTimeout)
	code := p.Wait(t, 2*runTimeout)
	took := time.Since(start)
	t.Logf("warned %s and stopped %s after %s", warned.Round(time.Millisecond), took.Round(time.Millisecond), sig)
	if took > stopBound {
		t.Errorf("took %s to stop after %s with NATS gone, want at most %s", took.Round(time.Second), sig, stopBound)
	}
	// The check takes a round trip of a second at most; the fault was a
	// warning 12 s late, once the job's workers had waited for the
	// connection.
	if warned > warnBound {
		t.Errorf("said NATS was unreachable %s after %s, want at once (within %s)", warned.Round(time.Millisecond), sig, warnBound)
	}
	stderr := p.Stderr.String()
	if code != 130 {
		t.Fatalf("exit %d after %s, want 130; stderr:\n%s", code, sig, stderr)
	}
	if warning := lineWith(stderr, "NATS is unreachable"); !strings.Contains(warning, addr) {
		t.Errorf("stderr does not say that NATS at %s is unreachable:\n%s", addr, stderr)
	}
	if strings.Contains(stderr, token) {
		t.Errorf("stderr shows the token:\n%s", stderr)
	}
	hint := hintAfter(stderr, "continue it with:")
	if hint == "" {
		t.Fatalf("no resume command; stderr:\n%s", stderr)
	}

	g.release()
	if gone == serverStopped {
		again := startServer(t, "--listen", addr, "--store", store, "--token", token)
		stopServer(t, again)
	} else {
		srv.Signal(syscall.SIGCONT)
	}
	runHintCommand(t, stateHome{env: append(h.env, "JETMR_TOKEN="+token), root: h.root}, dir, hint)
	checkPipeOutput(t, dir, []string{"tr", "a-z", "A-Z"}, in)
}

// lineWith is the first line of text that holds s, or "".
func lineWith(text, s string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
