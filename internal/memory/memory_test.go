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

func TestTotal(t *testing.T) {
	total, err := memory.Total()
	if err != nil || total <= 0 {
		t.Fatalf("Total() = %d, %v", total, err)
	}
	avail, err := memory.Available()
	if err != nil {
		t.Fatal(err)
	}
	if avail > total {
		t.Errorf("Available() = %d is above Total() = %d", avail, total)
	}
}
