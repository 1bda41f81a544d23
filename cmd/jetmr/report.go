package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/observe"
)

func newReportCommand() *cobra.Command {
	var html string
	cmd := &cobra.Command{
		Use:   "report RUN.json [--html OUT.html]",
		Short: "Print a run report, or write it as a self-contained page",
		Long: `report reads the file a job wrote with --report and prints its summary:
speedup, efficiency and utilization against their targets, task durations,
per-worker figures, dead letters and advice. --html writes one page with no
external assets: the headline figures, per-worker utilization, a timeline of
every task attempt on its worker slot, the task-duration histogram,
stragglers and advice.`,
		Example: `  jetmr mapreduce -i books/ -o counts --map wordcount --reduce sum --report run.json
  jetmr report run.json --html run.html`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("report needs one RUN.json, the file a job wrote with --report")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFilePath("--html", html); err != nil {
				return err
			}
			run, err := readRunFile(args[0])
			if err != nil {
				return err
			}
			if err := observe.RenderText(cmd.OutOrStdout(), run.Report); err != nil {
				return err
			}
			if run.Pipeline != nil {
				fmt.Fprintln(cmd.OutOrStdout())
				if err := run.Pipeline.WriteText(cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			if html == "" {
				return nil
			}
			return writePage(html, run)
		},
	}
	cmd.Flags().StringVar(&html, "html", "", "also write the report as a self-contained HTML page")
	return cmd
}

func readRunFile(path string) (*runFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("reading run report %s: %v", path, errors.Unwrap(err))
	}
	var run runFile
	if err := json.Unmarshal(data, &run); err != nil || run.Report == nil || run.Job == "" {
		return nil, usageErr("%s is not a jetmr run report (a JSON object with a job): give the file a job wrote with --report", path)
	}
	return &run, nil
}

func writePage(path string, run *runFile) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	page := observe.PageData{Report: run.Report, Attempts: run.Attempts, Stages: run.Stages, DroppedAttempts: run.DroppedAttempts}
	if err := observe.RenderPage(tmp, page); err != nil {
		tmp.Close()
		return fmt.Errorf("rendering %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// writeJSON writes v as indented JSON, atomically.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
