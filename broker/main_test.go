package broker_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every broker's connection and embedded server must be gone after Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
