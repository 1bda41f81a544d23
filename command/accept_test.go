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
// --ok-exit statuses turn into success: exits it lists, and nothing else.
func TestAccept(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		argv   []string
		ok     []int
		accept bool
	}{
		{"exit 0", []string{"true"}, nil, true},
		{"exit 1, none listed", []string{"sh", "-c", "exit 1"}, nil, false},
		{"exit 1, listed", []string{"sh", "-c", "exit 1"}, []int{1}, true},
		{"exit 2, 1 listed", []string{"sh", "-c", "exit 2"}, []int{1}, false},
		{"exit 3 among several", []string{"sh", "-c", "exit 3"}, []int{1, 3}, true},
		{"killed by a signal", []string{"sh", "-c", "kill -TERM $$"}, []int{1, 15, 143}, false},
		{"cannot start", []string{"/nonexistent/jetmr-no-such-command"}, []int{1, 127}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := command.Accept(command.Run(context.Background(), tc.argv, "", strings.NewReader(""), io.Discard), tc.ok)
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
