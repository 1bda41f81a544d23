package observe_test

import (
	"testing"

	"github.com/jetmr/jetmr/observe"
)

func TestSignalNumber(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"KILL", 9}, {"SIGKILL", 9}, {"sigkill", 9}, {"kill", 9}, {"killed", 9}, {"9", 9},
		{"TERM", 15}, {"terminated", 15}, {"INT", 2}, {"interrupt", 2},
		{"SEGV", 11}, {"segmentation fault", 11}, {"HUP", 1}, {"PIPE", 13}, {"broken pipe", 13},
		{"no such signal", 0},
	}
	for _, tc := range tests {
		if got := observe.SignalNumber(tc.in); got != tc.want {
			t.Errorf("SignalNumber(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
