package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/observe"
	"github.com/jetmr/jetmr/pipeline"
	"github.com/jetmr/jetmr/report"
)

// observeFlags are the flags that watch a run.
type observeFlags struct {
	progress bool
	metrics  string
	joblog   string
	trace    string
}

func (o *observeFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.BoolVar(&o.progress, "progress", false, "show progress on stderr: a bar on a terminal, else a line every few seconds (default: on when stderr is a terminal)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on this address while running, e.g. 127.0.0.1:9090")
	fs.StringVar(&o.joblog, "joblog", "", "write a GNU-parallel-style TSV job log: one row per task attempt")
	fs.StringVar(&o.trace, "trace", "", "write a Chrome/Perfetto trace of every task attempt (JSON)")
}

// watch is what a run reports to: the observers the flags ask for and a
// recorder of attempts for the run report.
type watch struct {
	observer observe.Observer
	recorder *observe.Recorder
	files    []*deferredFile
	closers  []io.Closer
	stop     func() error
	announce string // printed once the job has started
}

// start builds the observers. Output files are created only once the job
// has started (open), so that a run refused as bad input writes nothing.
func (o *observeFlags) start(ctx context.Context, cmd *cobra.Command) (*watch, error) {
	w := &watch{recorder: observe.NewRecorder(0), stop: func() error { return nil }}
	obs := []observe.Observer{w.recorder}
	stderr := cmd.ErrOrStderr()
	terminal := false
	if f, ok := stderr.(*os.File); ok {
		terminal = isatty.IsTerminal(f.Fd())
	}
	if o.progress || (terminal && !cmd.Flags().Changed("progress")) {
		p := observe.NewProgress(stderr, terminal)
		obs = append(obs, p)
		w.closers = append(w.closers, p)
	}
	for _, f := range []struct{ flag, path string }{{"--joblog", o.joblog}, {"--trace", o.trace}} {
		if err := checkFilePath(f.flag, f.path); err != nil {
			return nil, err
		}
	}
	if o.joblog != "" {
		f := &deferredFile{path: o.joblog}
		if resume, _ := cmd.Flags().GetBool("resume"); resume {
			// GNU parallel's --resume appends: the rows of the attempts
			// the earlier runs ended stay, under their header.
			f.appendAfter = observe.JobLogHeader
		}
		w.files = append(w.files, f)
		obs = append(obs, observe.NewJobLog(f))
	}
	if o.trace != "" {
		f := &deferredFile{path: o.trace}
		w.files = append(w.files, f)
		t := observe.NewTrace(f)
		obs = append(obs, t)
		w.closers = append(w.closers, t)
	}
	if o.metrics != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		obs = append(obs, observe.NewMetrics(reg))
		sctx, cancel := context.WithCancel(ctx)
		addr, wait, err := observe.Serve(sctx, o.metrics, reg)
		if err != nil {
			cancel()
			return nil, usageErr("--metrics %s: %v: give a free HOST:PORT", o.metrics, err)
		}
		w.announce = fmt.Sprintf("jetmr: metrics on http://%s/metrics", addr)
		w.stop = func() error { cancel(); return wait() }
	}
	w.observer = observe.Multi(obs...)
	return w, nil
}

// open creates the output files once the job has started.
func (w *watch) open(stderr io.Writer) error {
	if w.announce != "" {
		fmt.Fprintln(stderr, w.announce)
	}
	for _, f := range w.files {
		if err := f.open(); err != nil {
			return err
		}
	}
	return nil
}

// close flushes and closes everything, in order.
func (w *watch) close() error {
	var errs []error
	for _, c := range w.closers {
		errs = append(errs, c.Close())
	}
	for _, f := range w.files {
		errs = append(errs, f.Close())
	}
	errs = append(errs, w.stop())
	return errors.Join(errs...)
}

// deferredFile buffers writes until open creates the file; a file never
// opened is never created.
type deferredFile struct {
	path string
	buf  bytes.Buffer
	f    *os.File
	// appendAfter, when set, is the header of a file that open appends
	// to rather than replaces: a file that exists and is not empty keeps
	// its lines, and the header the new writes begin with is dropped.
	appendAfter string
}

func (d *deferredFile) Write(p []byte) (int, error) {
	if d.f == nil {
		return d.buf.Write(p)
	}
	return d.f.Write(p)
}

func (d *deferredFile) open() error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if d.appendAfter != "" {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(d.path, flags, 0o666)
	if err != nil {
		return fmt.Errorf("creating %s: %w", d.path, err)
	}
	d.f = f
	if d.appendAfter != "" {
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("appending to %s: %w", d.path, err)
		}
		if fi.Size() > 0 && bytes.HasPrefix(d.buf.Bytes(), []byte(d.appendAfter)) {
			d.buf.Next(len(d.appendAfter))
		}
	}
	_, err = d.buf.WriteTo(f)
	return err
}

// Close closes the file if it was opened.
func (d *deferredFile) Close() error {
	if d.f == nil {
		return nil
	}
	return d.f.Close()
}

// runFile is the JSON of --report: the run report's fields, plus every
// task attempt for the timeline of "jetmr report --html".
type runFile struct {
	*report.Report
	Attempts        []observe.Attempt `json:"attempts"`
	DroppedAttempts int64             `json:"dropped_attempts,omitempty"`
	// Stages are a pipeline's stages, for the page's critical path, and
	// Pipeline its own report.
	Stages   []observe.Stage  `json:"stages,omitempty"`
	Pipeline *pipeline.Report `json:"pipeline,omitempty"`
}
