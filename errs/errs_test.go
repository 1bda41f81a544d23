package errs_test

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/jetmr/jetmr/errs"
)

func TestBadInput(t *testing.T) {
	t.Parallel()
	cause := fs.ErrNotExist
	tests := []struct {
		name      string
		err       error
		setting   string
		msg       string
		wantCause error
	}{
		{"plain", errs.BadInput("", "no inputs: give one"), "", "no inputs: give one", nil},
		{"setting", errs.BadInput("Config.ChunkSize", "Config.ChunkSize %d is not valid", -1), "Config.ChunkSize", "Config.ChunkSize -1 is not valid", nil},
		{"cause", errs.BadInput("Config.Inputs", "input %q: %w", "x", cause), "Config.Inputs", `input "x": file does not exist`, cause},
		{"wrapped in context", errors.Join(errors.New("ctx"), errs.BadInput("", "m")), "", "ctx\nm", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !errors.Is(tt.err, errs.ErrBadInput) {
				t.Errorf("%v does not match ErrBadInput", tt.err)
			}
			var bad *errs.BadInputError
			if !errors.As(tt.err, &bad) || bad.Setting != tt.setting {
				t.Errorf("errors.As: %v, setting %q; want setting %q", bad, bad.Setting, tt.setting)
			}
			if tt.err.Error() != tt.msg {
				t.Errorf("message %q, want %q", tt.err.Error(), tt.msg)
			}
			if tt.wantCause != nil && !errors.Is(tt.err, tt.wantCause) {
				t.Errorf("%v does not unwrap to %v", tt.err, tt.wantCause)
			}
		})
	}
	if errors.Is(errors.New("bad input"), errs.ErrBadInput) {
		t.Error("an error with the same text matches ErrBadInput")
	}
}

func TestTranslate(t *testing.T) {
	t.Parallel()
	names := map[string]string{"Config.Chunk": "--chunk", "Config.ChunkSize": "--chunk-size", "Config.Output": "-o"}
	for _, tt := range []struct{ in, want string }{
		{"Config.ChunkSize 0 is not valid", "--chunk-size 0 is not valid"},
		{"Config.Chunk and Config.Output", "--chunk and -o"},
		{"nothing to do", "nothing to do"},
	} {
		if got := errs.Translate(tt.in, names); got != tt.want {
			t.Errorf("Translate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
