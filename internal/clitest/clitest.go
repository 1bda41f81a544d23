package clitest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the main package in pkgDir into a fresh temporary
// directory and returns the binary's path and a function that removes it.
// It is meant for TestMain, so it reports failures as errors.
func Build(pkgDir string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "jetmr-cli-test-*")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "jetmr")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-o", bin, pkgDir)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building jetmr: %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Proc is a running jetmr process.
type Proc struct {
	Args []string
	Cmd  *exec.Cmd
	// Stdout and Stderr collect the process's output as it arrives.
	Stdout, Stderr *Buffer

	done chan struct{}
	code int
	err  error
}

// Start starts bin with args in dir (a new temporary directory when
// empty), with XDG_STATE_HOME set to a private directory and env added to
// this process's environment. The process is killed and waited for when
// the test ends.
func Start(t testing.TB, bin, dir string, env []string, args ...string) *Proc {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	p := &Proc{Args: args, Cmd: exec.Command(bin, args...), Stdout: new(Buffer), Stderr: new(Buffer), done: make(chan struct{})}
	p.Cmd.Dir = dir
	p.Cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+t.TempDir()), env...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		p.err = p.Cmd.Wait()
		p.code = ExitCode(p.err)
	}()
	t.Cleanup(func() {
		p.Cmd.Process.Kill()
		<-p.done
	})
	return p
}

// Done is closed once the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Code is the exit code: 128+N for a death by signal N, -1 when it could
// not be known. It is valid once Done is closed.
func (p *Proc) Code() int { return p.code }

// Err is what waiting for the process returned. It is valid once Done is
// closed.
func (p *Proc) Err() error { return p.err }

// Killed reports whether the process died of sig. It is valid once Done
// is closed.
func (p *Proc) Killed(sig syscall.Signal) bool { return p.code == 128+int(sig) }

// Wait returns the exit code, killing the process and failing the test if
// it does not end within timeout.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.Cmd.Process.Kill()
		<-p.done
		t.Fatalf("jetmr %q did not finish within %s; stderr:\n%s", p.Args, timeout, p.Stderr)
		return -1
	}
}

// Signal sends sig to the process; a process that has ended is left alone.
func (p *Proc) Signal(sig syscall.Signal) { p.Cmd.Process.Signal(sig) }

// Result is how a finished run of jetmr ended.
type Result struct {
	Code           int
	Stdout, Stderr string
	Took           time.Duration
}

// Run runs bin with args in dir, as Start does, and waits for it, failing
// the test if it does not end within timeout.
func Run(t testing.TB, bin, dir string, timeout time.Duration, args ...string) Result {
	t.Helper()
	start := time.Now()
	p := Start(t, bin, dir, nil, args...)
	code := p.Wait(t, timeout)
	return Result{Code: code, Stdout: p.Stdout.String(), Stderr: p.Stderr.String(), Took: time.Since(start)}
}

// ExitCode is the exit code that err, returned by exec.Cmd.Wait, stands
// for: 0 for nil, 128+N for a death by signal N, -1 when the process did
// not run.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return -1
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return exitErr.ExitCode()
}

// Buffer collects what a process writes while it runs, for reading as it
// arrives. It is safe for concurrent use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len is the number of bytes written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Lines returns the complete lines written so far, without their newlines.
func (b *Buffer) Lines() []string {
	s := b.String()
	i := strings.LastIndexByte(s, '\n')
	if i < 0 {
		return nil
	}
	return strings.Split(s[:i], "\n")
}
