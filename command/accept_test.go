package command_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/command"
	"github.com/jetmr/jetmr/schema"
)

// TestAccept runs real commands and checks which of their endings
// --ok-exit statuses turn into success: exits it lists, and nothing else;
// Accepted returns the status it accepted, 0 otherwise.
func TestAccept(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		argv   []string
		ok     []int
		accept bool
		status int // the status Accepted returns
	}{
		{"exit 0", []string{"true"}, nil, true, 0},
		{"exit 0, 1 listed", []string{"true"}, []int{1}, true, 0},
		{"exit 1, none listed", []string{"sh", "-c", "exit 1"}, nil, false, 0},
		{"exit 1, listed", []string{"sh", "-c", "exit 1"}, []int{1}, true, 1},
		{"exit 2, 1 listed", []string{"sh", "-c", "exit 2"}, []int{1}, false, 0},
		{"exit 3 among several", []string{"sh", "-c", "exit 3"}, []int{1, 3}, true, 3},
		{"killed by a signal", []string{"sh", "-c", "kill -TERM $$"}, []int{1, 15, 143}, false, 0},
		{"cannot start", []string{"/nonexistent/jetmr-no-such-command"}, []int{1, 127}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runErr := command.Run(context.Background(), tc.argv, "", strings.NewReader(""), io.Discard)
			status, err := command.Accepted(runErr, tc.ok)
			if status != tc.status {
				t.Errorf("Accepted returned status %d, want %d", status, tc.status)
			}
			if err2 := command.Accept(runErr, tc.ok); (err2 == nil) != (err == nil) {
				t.Errorf("Accept = %v, Accepted = %v: they disagree", err2, err)
			}
			if tc.accept && err != nil {
				t.Errorf("Accept = %v, want nil", err)
			}
			var te *schema.TaskError
			if !tc.accept && !errors.As(err, &te) {
				t.Errorf("Accept = %v, want the command's *schema.TaskError", err)
			}
		})
	}
}
