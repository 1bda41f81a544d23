package mapper_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// Worker and Pool must have waited for what it started, and every test
// must have closed its broker.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
