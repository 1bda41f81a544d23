package job_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// TestCheckReportsEveryProblem checks that a configuration with several
// mistakes is refused with all of them at once, each a bad input naming
// its setting, before anything is opened.
func TestCheckReportsEveryProblem(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "store")
	cfg := job.Config{
		Kind: schema.KindPipe, Inputs: []string{filepath.Join(t.TempDir(), "missing")}, Command: []string{"cat"},
		MapReduceConfig: job.MapReduceConfig{Partitions: -1}, Timeout: -time.Second, Transport: "carrier pigeon", RetryFailed: true,
		Broker: broker.Config{StoreDir: store},
	}
	_, err := runJob(t, cfg)
	if !errors.Is(err, job.ErrBadInput) {
		t.Fatalf("Run: %v, want bad input", err)
	}
	settings := map[string]bool{}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("Run: %v, want every problem joined", err)
	}
	for _, e := range joined.Unwrap() {
		var bad *errs.BadInputError
		if !errors.As(e, &bad) {
			t.Errorf("%v is not a BadInputError", e)
			continue
		}
		settings[bad.Setting] = true
	}
	for _, want := range []string{"Config.Partitions", "Config.Timeout", "Config.Transport", "Config.RetryFailed"} {
		if !settings[want] {
			t.Errorf("the error does not report %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "missing") {
		t.Errorf("the inputs were looked at although the settings were wrong: %v", err)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("the broker store was created (stat: %v)", err)
	}
}
