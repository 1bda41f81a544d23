package pipeline_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every Run waits for its stages, and every test closes its broker (whose
// embedded server it waits for): no goroutine may outlive the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
