package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jetmr/jetmr/report"
)

// procResult is what one finished subprocess cost.
type procResult struct {
	Wall time.Duration
	// MaxRSSKiB is the child's rusage ru_maxrss (KiB on Linux). wait4
	// reports the larger of the child's own peak and that of the largest
	// of its reaped children, never their sum: for jetmr, its own peak,
	// since the commands it runs are far smaller. It cannot be below
	// FloorKiB (see [resetPeakRSS]).
	MaxRSSKiB int64
	// FloorKiB is the bench's own peak RSS when the child started.
	FloorKiB int64
	// CPU is the child's user and system time, its reaped children's
	// included.
	CPU    time.Duration
	Stderr string // the tail of its standard error
}

// resetPeakRSS lowers the bench's own peak RSS as far as it can and returns
// it in KiB (0 if unknown). os/exec starts a child with vfork, sharing the
// bench's memory until exec, and Linux's exec carries the high-water mark
// of that memory into the child's ru_maxrss: without this, every child
// would report at least the bench's peak (the in-process wordcount limit
// reads hundreds of MiB). So: collect, return freed memory to the system,
// and reset the high-water mark to the current RSS (clear_refs 5).
func resetPeakRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	if f, err := os.OpenFile("/proc/self/clear_refs", os.O_WRONLY, 0); err == nil {
		f.WriteString("5")
		f.Close()
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kib, _ := strconv.ParseInt(f[0], 10, 64)
				return kib
			}
		}
	}
	return 0
}

// stderrTail bounds the standard error kept from a subprocess.
const stderrTail = 16 << 10

// tailBuffer keeps the last stderrTail bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - stderrTail; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// runProc runs name with args, stdin read from the file stdinPath and stdout
// written to the file stdoutPath ("" for /dev/null either way), and returns
// its wall time, measured from just before start to just after exit, and
// peak RSS. A non-zero exit is an error carrying the stderr tail.
func runProc(ctx context.Context, stdinPath, stdoutPath, name string, args ...string) (procResult, error) {
	var res procResult
	cmd := exec.CommandContext(ctx, name, args...)
	// On interrupt, let the child clean up (jetmr stops its server) before
	// it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if stdinPath != "" {
		f, err := os.Open(stdinPath)
		if err != nil {
			return res, fmt.Errorf("%s: stdin: %w", name, err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	if stdoutPath != "" {
		f, err := os.Create(stdoutPath)
		if err != nil {
			return res, fmt.Errorf("%s: stdout: %w", name, err)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	res.FloorKiB = resetPeakRSS()
	start := time.Now()
	err := cmd.Run()
	res.Wall = time.Since(start)
	res.Stderr = string(stderr.b)
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.MaxRSSKiB = int64(ru.Maxrss)
		}
		res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return res, fmt.Errorf("%s %s: %w%s", name, strings.Join(quoteArgs(args), " "), err, indentTail(res.Stderr))
	}
	return res, nil
}

// selfCPU is the user and system time this process used so far (the
// bench's own, with the NATS server it runs).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runProcKill runs name with args like [runProc], stdin and stdout on
// /dev/null, but sends it SIGKILL once delay has passed since its start if
// it is still running. killed reports whether the signal ended it. Wall
// runs from just before the start until the child is reaped, killed or
// not. Dying of the signal is not an error; any other failure is.
func runProcKill(ctx context.Context, delay time.Duration, name string, args ...string) (res procResult, killed bool, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var stderr tailBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, false, fmt.Errorf("%s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(delay - time.Since(start))
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		// An error means it exited meanwhile: its wait status tells.
		cmd.Process.Kill()
		err = <-done
	}
	res.Wall = time.Since(start)
	res.Stderr = string(stderr.b)
	if cmd.ProcessState != nil {
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return res, true, nil
		}
	}
	if err != nil {
		return res, false, fmt.Errorf("%s %s: %w%s", name, strings.Join(quoteArgs(args), " "), err, indentTail(res.Stderr))
	}
	return res, false, nil
}

// sampleOf makes the sample of a finished run; report may be nil.
func sampleOf(res procResult, report *JobReport) Sample {
	return Sample{Seconds: res.Wall.Seconds(), MaxRSSKiB: res.MaxRSSKiB, FloorKiB: res.FloorKiB, CPUSeconds: res.CPU.Seconds(), Report: report}
}

// quoteArgs quotes the arguments that need it, for messages.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"\\$()<>|&;*?[]{}") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// indentTail formats a stderr tail to follow an error message.
func indentTail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "\n\tstderr: " + strings.Join(lines, "\n\tstderr: ")
}

// JobReport is jetmr's --report JSON, read with jetmr's own type.
type JobReport = report.Report

// runJetmr runs the jetmr binary with args plus a fresh --store and a
// --report file under the work directory, and returns its cost and report.
// The store is removed afterwards, so that big runs do not pile up on disk.
func (b *bench) runJetmr(args ...string) (procResult, *JobReport, error) {
	store := b.fresh("store")
	defer os.RemoveAll(store)
	return b.runJetmrIn(store, args...)
}

// runJetmrIn is [bench.runJetmr] with a given --store, which it leaves in
// place: a resume needs the store of the run it continues.
func (b *bench) runJetmrIn(store string, args ...string) (procResult, *JobReport, error) {
	return b.runJetmrStdin(store, "", args...)
}

// runJetmrStdin is [bench.runJetmrIn] with standard input read from the
// file stdinPath ("" for none).
func (b *bench) runJetmrStdin(store, stdinPath string, args ...string) (procResult, *JobReport, error) {
	reportPath := b.fresh("report") + ".json"
	defer os.Remove(reportPath)
	// Flags after "--" would belong to the command: put ours before it.
	dash := slices.Index(args, "--")
	if dash < 0 {
		dash = len(args)
	}
	full := slices.Concat(args[:dash], []string{"--store", store, "--report", reportPath}, args[dash:])
	res, err := runProc(b.ctx, stdinPath, "", b.jetmr, full...)
	if err != nil {
		return res, nil, err
	}
	data, err := os.ReadFile(reportPath)
	if err != nil {
		return res, nil, fmt.Errorf("jetmr report: %w%s", err, indentTail(res.Stderr))
	}
	var rep JobReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return res, nil, fmt.Errorf("jetmr report %s: %w", reportPath, err)
	}
	if rep.Failed > 0 {
		return res, &rep, fmt.Errorf("jetmr job %s: %d of %d tasks failed%s", rep.Job, rep.Failed, rep.Tasks, indentTail(res.Stderr))
	}
	return res, &rep, nil
}

// buildJetmr builds ./cmd/jetmr of the module the current directory is in
// into dir, and returns the binary's path.
func buildJetmr(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("build jetmr: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("build jetmr: not inside a Go module: run from the jetmr module or pass -jetmr")
	}
	bin := filepath.Join(dir, "jetmr")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/jetmr")
	cmd.Dir = filepath.Dir(gomod)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build jetmr: go build ./cmd/jetmr in %s: %w%s", cmd.Dir, err, indentTail(stderr.String()))
	}
	return bin, nil
}

// userHZ is the unit of the CPU times of /proc/PID/stat: the kernel's
// USER_HZ, 100 on every Linux architecture Go runs on.
const userHZ = 100

// procCPU is the user + system CPU time process pid has used so far (all
// its threads, those that exited included), from /proc/PID/stat; 0 when
// it cannot be read.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// the fields after it start at its last ')'. utime and stime are
	// fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * time.Second / userHZ
}
