package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/jetmr/jetmr/schema"
)

// stderrTailSize is how much of a failed command's stderr a result keeps.
const stderrTailSize = 4 << 10

// Run runs argv in dir ("" for the current directory; a relative
// program path such as ./x is found there too) with stdin and stdout
// attached, in its own process group: cancelling ctx kills the command
// and every child it started, and once the command exits, children it
// left in the background are killed (they would hold its output open).
// A non-zero exit, a signal or a failure to start returns a *schema.TaskError.
func Run(ctx context.Context, argv []string, dir string, stdin io.Reader, stdout io.Writer) error {
	return runTee(ctx, argv, dir, stdin, stdout, io.Discard)
}

// RunTee is Run in the current directory with the command's stderr also
// written to stderr as it comes, for a command whose messages the user
// reads (a join).
func RunTee(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runTee(ctx, argv, "", stdin, stdout, stderr)
}

func runTee(ctx context.Context, argv []string, dir string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout = stdin, stdout
	tail := &tailBuffer{max: stderrTailSize}
	cmd.Stderr = tail
	if stderr != io.Discard {
		cmd.Stderr = io.MultiWriter(stderr, tail)
	}
	return run(ctx, cmd, argv, tail)
}

// RunCombined runs argv in dir ("" for the current directory) with an
// empty stdin, writing its stdout and stderr to out through one pipe, so
// that they keep the order the command wrote them in. A failure's
// StderrTail is the tail of that combined output.
//
// A dir that does not exist or is not a directory is a permanent
// *schema.TaskError that says so, and nothing runs.
func RunCombined(ctx context.Context, argv []string, dir string, out io.Writer) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	tail := &tailBuffer{max: stderrTailSize}
	w := io.MultiWriter(out, tail)
	cmd.Stdout, cmd.Stderr = w, w // one writer: exec gives both one pipe
	return run(ctx, cmd, argv, tail)
}

// checkDir checks the working directory a command is to run in, so that a
// missing one is not reported as the program missing (which is what
// exec says, naming the program).
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &schema.TaskError{Permanent: true, Message: fmt.Sprintf("working directory %s does not exist: create it, or fix --dir", dir)}
	case err != nil:
		return &schema.TaskError{Permanent: true, Message: fmt.Sprintf("working directory %s cannot be used: %v", dir, err)}
	case !fi.IsDir():
		return &schema.TaskError{Permanent: true, Message: fmt.Sprintf("working directory %s is not a directory: fix --dir", dir)}
	}
	return nil
}

func run(ctx context.Context, cmd *exec.Cmd, argv []string, tail *tailBuffer) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var feed *feeder
	if in, ok := cmd.Stdin.(*Bytes); ok {
		var err error
		if feed, err = newFeeder(in); err != nil {
			return &schema.TaskError{Message: fmt.Sprintf("running %s: %v", argv[0], err)}
		}
		cmd.Stdin = feed.r
	}
	if err := cmd.Start(); err != nil {
		if feed != nil {
			feed.abandon()
		}
		return &schema.TaskError{Message: fmt.Sprintf("running %s: %v", argv[0], err), StderrTail: tail.String()}
	}
	if feed != nil {
		feed.start()
	}
	awaitExit(cmd)
	err := cmd.Wait()
	// Whatever the way it ended, no process of the attempt outlives it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if feed != nil {
		if ferr := feed.finish(); err == nil {
			err = ferr
		}
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return &schema.TaskError{Message: fmt.Sprintf("%s: stopped: %v", argv[0], context.Cause(ctx)), Signal: "KILL", StderrTail: tail.String()}
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		te := &schema.TaskError{ExitStatus: exitErr.ExitCode(), StderrTail: tail.String()}
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			te.Signal = ws.Signal().String()
			te.Message = fmt.Sprintf("%s killed by signal %s", argv[0], te.Signal)
		} else {
			te.Message = fmt.Sprintf("%s exited with status %d", argv[0], te.ExitStatus)
		}
		return te
	}
	return &schema.TaskError{Message: fmt.Sprintf("running %s: %v", argv[0], err), StderrTail: tail.String()}
}

// Accept returns nil for err, the result of running a command, when the
// command exited with one of the statuses ok (--ok-exit), which count as
// success like 0; otherwise it returns err. A command killed by a signal,
// or that could not start, is never accepted.
func Accept(err error, ok []int) error {
	_, err = Accepted(err, ok)
	return err
}

// Accepted is [Accept] that also returns the exit status it accepted: the
// command's own status, one of ok, when err is accepted, else 0. A job log
// shows the status a command exited with, even when it counts as success.
func Accepted(err error, ok []int) (status int, _ error) {
	if err == nil || len(ok) == 0 {
		return 0, err
	}
	var te *schema.TaskError
	if !errors.As(err, &te) || te.Signal != "" || te.Permanent || te.ExitStatus <= 0 {
		return 0, err
	}
	if slices.Contains(ok, te.ExitStatus) {
		return te.ExitStatus, nil
	}
	return 0, err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		p = p[len(p)-t.max:]
		t.buf = append(t.buf[:0], p...)
		return n, nil
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return n, nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
