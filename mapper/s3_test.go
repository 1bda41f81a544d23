package mapper

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestExactReader checks that a range body shorter than promised fails
// the read instead of ending the chunk early.
func TestExactReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body    string
		promise int64
		wantErr bool
	}{
		{"abcdef", 6, false},
		{"abc", 6, true},
		{"", 0, false},
	}
	for _, tt := range tests {
		r := &exactReader{ReadCloser: io.NopCloser(strings.NewReader(tt.body)), left: tt.promise}
		got, err := io.ReadAll(r)
		if string(got) != tt.body {
			t.Errorf("read %q, want %q", got, tt.body)
		}
		if gotErr := errors.Is(err, io.ErrUnexpectedEOF); gotErr != tt.wantErr {
			t.Errorf("body %q promised %d: error %v, want ErrUnexpectedEOF %v", tt.body, tt.promise, err, tt.wantErr)
		}
	}
}
