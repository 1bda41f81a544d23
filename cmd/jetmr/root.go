package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/errs"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "jetmr",
		Short: "Run large parallel jobs as chunks on NATS JetStream",
		Long: `jetmr splits large inputs into chunks on NATS JetStream, runs them on
bounded-concurrency mappers and merges the results exactly once.
It runs an embedded NATS server by default; --nats joins a real cluster.

Exit codes: 0 all tasks succeeded; 1 some tasks failed; 2 bad usage or
input (nothing started); 3 NATS or the store unreachable; 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = version()
	root.SetVersionTemplate("jetmr {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErr("%w (see %s --help)", err, cmd.CommandPath())
	})
	root.AddCommand(newPipeCommand(), newMapReduceCommand(), newEachCommand(), newMigrateCommand(), newPipelineCommand(), newReportCommand())
	root.AddCommand(newServerCommand(), newWorkerCommand(), newStatusCommand(), newDiscardCommand())
	// Wrong arguments to a command are bad usage, exit 2, like bad flags.
	for _, c := range root.Commands() {
		if check := c.Args; check != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				err := check(cmd, args)
				if err == nil || errors.Is(err, errs.ErrBadInput) {
					return err
				}
				return usageErr("%w (see %s --help)", err, cmd.CommandPath())
			}
		}
	}
	return root
}

// newLogger builds the zerolog logger the flags ask for: plain text lines
// (colored on a terminal), or JSON records with --log-format json;
// warnings and errors only by default. jetmr's own lines on stderr (the
// job ID, the summary, dead letters, the final error) follow the same
// format, so that stderr never mixes the two: see stderrLines.
func newLogger(level, format string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, usageErr("--log-level %q is not valid: use trace, debug, info, warn or error", level)
	}
	switch format {
	case "", "console":
		terminal := false
		if f, ok := w.(*os.File); ok {
			terminal = isatty.IsTerminal(f.Fd())
		}
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !terminal}
	case "json":
		jsonStderr.Store(true)
	default:
		return zerolog.Logger{}, usageErr("--log-format %q is not valid: use json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// jsonStderr is set once a command chose --log-format json: main then
// reports the final error as a JSON record too.
var jsonStderr atomic.Bool

// stderrLines is where a command prints its own lines for the user: w
// itself, or, with --log-format json, a writer that turns each line into
// a JSON record of log, so that stderr holds one format.
func stderrLines(w io.Writer, format string, log zerolog.Logger) io.Writer {
	if format != "json" {
		return w
	}
	return &jsonLines{log: log}
}

// jsonLines logs each line written to it as one JSON record, whatever the
// log level, without the "jetmr: " prefix of plain lines. It is safe for
// concurrent use.
type jsonLines struct {
	mu  sync.Mutex
	log zerolog.Logger
	buf []byte
}

func (j *jsonLines) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimPrefix(strings.TrimRight(string(j.buf[:i]), "\r"), "jetmr: ")
		j.buf = j.buf[i+1:]
		if strings.TrimSpace(line) != "" {
			j.log.Log().Msg(line)
		}
	}
}

// version is this binary's version, from its build information: the
// module version for an installed release, else the commit it was built
// from.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	v := "devel-" + rev[:min(12, len(rev))]
	if dirty {
		v += "-dirty"
	}
	return v
}
