package job_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/mapper"
	"github.com/jetmr/jetmr/splitter"
)

func TestUnregisteredFunctionFailsClearly(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ m, r, want string }{
		{"nosuchmap", "sum", `--map "nosuchmap"`},
		{"wordcount", "nosuchreduce", `--reduce "nosuchreduce"`},
	} {
		start := time.Now()
		_, err := job.Run(context.Background(), job.Config{
			Kind: "mapreduce", Source: splitter.Lines{R: strings.NewReader("a\n")},
			Output: t.TempDir() + "/out", MapReduceConfig: job.MapReduceConfig{Map: c.m, Reduce: c.r},
			Registry: mapper.NewRegistry(),
			Broker:   broker.Config{StoreDir: t.TempDir()},
		})
		if !errors.Is(err, job.ErrBadInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("map %s reduce %s: got %v, want a bad-input error naming %s", c.m, c.r, err, c.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %s to refuse", d)
		}
	}
}

func TestLinesSourceCannotResume(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	cfg := job.Config{
		ID: "once", Kind: "pipe", Source: splitter.Lines{R: strings.NewReader("a\n")},
		Command: []string{"cat"}, Output: t.TempDir() + "/o.txt",
		Broker: broker.Config{StoreDir: store},
	}
	if _, err := job.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = true
	_, err := job.Run(context.Background(), cfg)
	if err == nil {
		t.Fatal("resuming a finished job over a reader: no error")
	}
}

func TestRegistryPanicsOnMisuse(t *testing.T) {
	t.Parallel()
	reg := mapper.NewRegistry()
	for name, f := range map[string]func(){
		"duplicate built-in": func() { reg.RegisterMap("wordcount", mapper.Lines) },
		"empty name":         func() { reg.RegisterMap("", mapper.Lines) },
		"nil function":       func() { reg.RegisterMap("x", nil) },
		"grep prefix":        func() { reg.RegisterMap("grep:x", mapper.Lines) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
