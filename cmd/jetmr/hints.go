package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// secretFlags are the flags whose values may hold a secret: a NATS token,
// user or password, a database password.
var secretFlags = []string{"--nats", "--db"}

// dsnPassword finds a password in a key=value database connection string,
// or in a URL's query (password=, sslpassword=).
var dsnPassword = regexp.MustCompile(`(?i)\b\w*password=('[^']*'|[^\s&]*)`)

// redactArgs returns args with the credentials removed from the values of
// secretFlags, and the flags it changed. A hint printed with them never
// shows a secret; the user adds it back.
func redactArgs(args []string) (out, redacted []string) {
	out = slices.Clone(args)
	for i := 0; i < len(out); i++ {
		if out[i] == "--" {
			break // the job's command: its words are its own
		}
		flag, value, inline := strings.Cut(out[i], "=")
		if !slices.Contains(secretFlags, flag) {
			continue
		}
		if !inline {
			if i+1 >= len(out) {
				break
			}
			i++
			value = out[i]
		}
		clean := redactValue(flag, value)
		if clean == value {
			continue
		}
		redacted = append(redacted, flag)
		if inline {
			out[i] = flag + "=" + clean
		} else {
			out[i] = clean
		}
	}
	return out, redacted
}

// redactValue removes credentials from a URL, or from each of several
// joined by commas, and a password from a key=value connection string. A
// --nats URL loses its user part whole (it may be a token); a --db URL
// keeps its user name.
func redactValue(flag, v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		u, err := url.Parse(p)
		if err != nil || u.User == nil {
			continue
		}
		_, hasPassword := u.User.Password()
		switch {
		case flag == "--db" && !hasPassword:
			continue
		case flag == "--db":
			u.User = url.User(u.User.Username())
		default:
			u.User = nil
		}
		parts[i] = u.String()
	}
	v = strings.Join(parts, ",")
	return dsnPassword.ReplaceAllString(v, "")
}

// redactionNote tells the user what a printed hint leaves out.
func redactionNote(flags []string) string {
	if len(flags) == 0 {
		return ""
	}
	return fmt.Sprintf("\n(with your credentials in %s: they are not printed)", strings.Join(flags, " and "))
}

// commandArgs is this process's command line, shell-quoted, with secrets
// removed.
func commandArgs() (args, redacted []string) {
	args, redacted = redactArgs(os.Args)
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return args, redacted
}

// unresumable says why job cfg cannot be resumed and what to do instead,
// or "" when it can be: a pipe job writing to stdout cannot rewind it, and
// standard input cannot be read again.
func unresumable(cfg job.Config) string {
	switch {
	case slices.Contains(cfg.Inputs, splitter.Stdin):
		return "it read standard input, which cannot be read again, so it cannot be resumed: run the same command again with the same input"
	case cfg.Kind.Traits().Ordered && cfg.Output == "":
		return "it wrote to stdout, which cannot be resumed: run the same command again (with -o FILE a pipe job can be resumed)"
	}
	return ""
}

// unresumableHint replaces err, a refusal of the ID of job cfg (a job
// that exists, or one --resume cannot continue) when cfg cannot be
// resumed, with the commands that run it: drop the job, then run the
// command again without --resume.
func unresumableHint(cfg job.Config, err error) error {
	why, note := "it wrote to stdout", ""
	if slices.Contains(cfg.Inputs, splitter.Stdin) {
		why, note = "it read standard input, which cannot be read again", "\n(with the same input on stdin)"
	}
	line, redacted := rerunCommand()
	return usageErr("job %s exists and cannot be resumed (%s): drop it, then run the command again:\n  %s\n  %s%s",
		cfg.ID, why, discardCommand(cfg), line, redactionNote(redacted)+note)
}

// discardCommand is the jetmr discard command that drops job cfg.
func discardCommand(cfg job.Config) string {
	discard := "jetmr discard " + shellQuote(cfg.ID)
	switch where := discardFlags(cfg.Broker); where {
	case "-":
		discard += " --nats URL (your --nats URL, with its credentials)"
	default:
		discard += where
	}
	return discard
}

// inputChanged reports whether a task of the dead letters failed because
// its input changed while the job ran (a file's bytes, an object's
// ETag). No resume finishes such a job: its tasks done read the earlier
// version, and a resume is refused for the changed input; only a run from
// the start does.
func inputChanged(letters []report.DeadLetter) bool {
	return slices.ContainsFunc(letters, func(d report.DeadLetter) bool { return d.Error.InputChanged })
}

// changedInputHint says how to run job cfg, whose input changed while it
// ran, again: drop it, then run the command without --resume.
func changedInputHint(cfg job.Config) string {
	line, redacted := rerunCommand()
	return fmt.Sprintf("\nits input changed while it ran, so it cannot be resumed (its finished tasks read the earlier version): drop it, then run the command again:\n  %s\n  %s%s",
		discardCommand(cfg), line, redactionNote(redacted))
}

// rerunCommand is this process's command line without --resume and
// --retry-failed, shell-quoted, secrets removed.
func rerunCommand() (string, []string) {
	args, redacted := commandArgs()
	out := args[:0:0]
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if a != "--resume" && a != "--retry-failed" {
			out = append(out, a)
		}
	}
	return strings.Join(out, " "), redacted
}

// interruptedMessage says that job cfg stopped and how to continue it.
func interruptedMessage(cfg job.Config) string {
	if why := unresumable(cfg); why != "" {
		return fmt.Sprintf("interrupted: job %s stopped; %s", cfg.ID, why)
	}
	cmd, note := resumeHint(cfg.ID, "")
	return fmt.Sprintf("interrupted: job %s stopped; continue it with:\n  %s%s", cfg.ID, cmd, note)
}

// failedHint says how to run the failed tasks of job cfg again. When
// tasks were refused for skipping more bad records than
// --skip-bad-records allows, it prints the command that raises the limit
// to all the bad records found instead.
func failedHint(cfg job.Config, rep *report.Report) string {
	if why := unresumable(cfg); why != "" {
		return "; " + why
	}
	if rep != nil && inputChanged(rep.DeadLetters) {
		return changedInputHint(cfg)
	}
	if need := skipNeeded(rep); need > cfg.SkipBadRecords {
		cmd, note := resumeHint(cfg.ID, "--retry-failed")
		cmd = setSkipLimit(cmd, need)
		return fmt.Sprintf("\n%d bad record(s) found in all; to skip them, raise the limit and run the refused tasks again with:\n  %s%s", need, cmd, note)
	}
	cmd, note := resumeHint(cfg.ID, "--retry-failed")
	return fmt.Sprintf("\nrun the failed tasks again, once fixed, with:\n  %s%s", cmd, note)
}

// uploadHint says how to upload the staged output of job cfg, which
// completed but whose upload failed: its resume uploads it and runs
// nothing again. Standard input is not read again, so the command reads
// none.
func uploadHint(cfg job.Config) string {
	cmd, note := resumeHint(cfg.ID, "")
	if slices.Contains(cfg.Inputs, splitter.Stdin) {
		cmd += " < /dev/null"
		note += "\n(nothing runs again and standard input is not read: the output is complete)"
	}
	return fmt.Sprintf("\nonce the object store is reachable, upload it with:\n  %s%s", cmd, note)
}

// reduceFailedHint says how to run job cfg again once the reducer command
// that failed it is fixed: its tasks are done, so a resume runs the
// reduce alone, and --retry-failed lets --reduce change.
func reduceFailedHint(cfg job.Config) string {
	if why := unresumable(cfg); why != "" {
		return "; " + why
	}
	cmd, note := resumeHint(cfg.ID, "--retry-failed")
	return fmt.Sprintf("\n%s%s%s", reduceAgainIntro, cmd, note)
}

// reduceAgainIntro introduces the command that runs a failed reduce
// again.
const reduceAgainIntro = "run the reduce again, once the reducer is fixed (in its script, or a new --reduce), with:\n  "

// joinFailedHint says how to run the --join command of each job cfg
// again once it is fixed: every item succeeded, so a resume runs the
// join alone, with the --join given then.
func joinFailedHint(cfg job.Config) string {
	if why := unresumable(cfg); why != "" {
		return "; " + why
	}
	cmd, note := resumeHint(cfg.ID, "")
	return fmt.Sprintf("\nrun the join again, once it is fixed (--join may change), with:\n  %s%s", cmd, note)
}

// skipNeeded counts the bad records a run found: those it skipped and
// those of the tasks refused for going over --skip-bad-records. It
// returns 0 when no task was refused so.
func skipNeeded(rep *report.Report) int {
	if rep == nil {
		return 0
	}
	return badRecordsFound(rep.DeadLetters, len(rep.Skipped))
}

// badRecordsFound counts skipped records and those of the dead letters
// refused for going over --skip-bad-records, or returns 0 when none was
// refused so: the --skip-bad-records a run again needs.
func badRecordsFound(letters []report.DeadLetter, skipped int) int {
	refused := 0
	for _, d := range letters {
		if d.OverLimit {
			refused += len(d.Records)
		}
	}
	if refused == 0 {
		return 0
	}
	return skipped + refused
}

// setSkipLimit sets the value of --skip-bad-records in a printed command
// line, before any " -- " that starts the job's command.
func setSkipLimit(line string, n int) string {
	head, tail, dashed := strings.Cut(line, " -- ")
	head = skipLimitFlag.ReplaceAllString(head, fmt.Sprintf("${1}%d", n))
	if dashed {
		return head + " -- " + tail
	}
	return head
}

// skipLimitFlag is --skip-bad-records N or --skip-bad-records=N.
var skipLimitFlag = regexp.MustCompile(`( --skip-bad-records[ =])[0-9]+\b`)

// resumeHint is this process's command line with --job ID --resume and
// extra, secrets removed, and a note of what was removed or must be given
// again.
func resumeHint(id, extra string) (cmd, note string) {
	line := resumeCommand(id)
	if extra != "" {
		line = insertFlag(line, extra)
	}
	_, redacted := redactArgs(os.Args)
	note = redactionNote(redacted)
	if len(os.Args) > 1 && os.Args[1] == "each" && !slices.Contains(os.Args, ":::") && !slices.ContainsFunc(os.Args, func(a string) bool {
		return strings.HasPrefix(a, "--items")
	}) {
		note += "\n(with the same items on stdin)"
	}
	return line, note
}

// insertFlag puts flag after --resume in a resume command, before any
// " -- " that starts the job's command.
func insertFlag(line, flag string) string {
	return strings.Replace(line, " --resume", " --resume "+flag, 1)
}

// maxStderrLines bounds the lines of a failed command's stderr printed
// with the job's error.
const maxStderrLines = 20

// printStderrTail prints the stderr tail of a command that failed the job
// outside any task (a reducer command), as dead letters show a mapper
// command's: its last lines, at most maxStderrLines.
func printStderrTail(w io.Writer, err error) {
	var te *schema.TaskError
	if !errors.As(err, &te) || errors.Is(err, job.ErrJoinFailed) { // the join's stderr is the process's
		return
	}
	lines := strings.Split(strings.TrimSpace(te.StderrTail), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return
	}
	if len(lines) > maxStderrLines {
		fmt.Fprintf(w, "jetmr:   stderr: (%d earlier lines left out)\n", len(lines)-maxStderrLines)
		lines = lines[len(lines)-maxStderrLines:]
	}
	for _, l := range lines {
		fmt.Fprintf(w, "jetmr:   stderr: %s\n", l)
	}
}
