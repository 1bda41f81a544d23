package job_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// sharedDir holds inputs generated once for the whole package (see
// generatedText); TestMain removes it after the leak check.
var sharedDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jetmr-job-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the shared test directory:", err)
		os.Exit(1)
	}
	sharedDir = dir
	// Every job.Run shuts its embedded nats-server down and waits for it
	// (server.WaitForShutdown), so no goroutine may outlive the tests: no
	// nats-server or nats.go function is ignored here.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}
