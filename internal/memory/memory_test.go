package memory_test

import (
	"testing"

	"github.com/jetmr/jetmr/internal/memory"
)

func TestAvailable(t *testing.T) {
	n, err := memory.Available()
	if err != nil || n <= 0 {
		t.Fatalf("Available() = %d, %v", n, err)
	}
}
