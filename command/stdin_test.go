package command_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmr/jetmr/command"
)

// pattern returns n bytes of numbered lines, so that a byte out of place
// shows.
func pattern(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.Bytes()[:n]
}

// TestRunBytes checks that a command reads a Bytes stdin whole and in
// order, whether it fits in the pipe before the command starts or not.
func TestRunBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		parts [][]byte
	}{
		{"nothing", nil},
		{"empty parts", [][]byte{{}, {}}},
		{"a header and a line", [][]byte{[]byte("h1,h2\n"), []byte("a,b\n")}},
		{"an odd header and 1 MiB", [][]byte{pattern(37), pattern(1 << 20)}},
		{"larger than any pipe", [][]byte{pattern(5000), pattern(3<<20 + 11)}},
		{"many parts", [][]byte{pattern(1), pattern(4095), pattern(4097), pattern(70000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := command.Run(context.Background(), []string{"cat"}, "", command.NewBytes(tc.parts...), &out); err != nil {
				t.Fatal(err)
			}
			if want := bytes.Join(tc.parts, nil); !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("the command read %d bytes, want the %d given", out.Len(), len(want))
			}
		})
	}
}

// TestBytesRead checks Bytes as an io.Reader: the parts in order, then
// io.EOF.
func TestBytesRead(t *testing.T) {
	t.Parallel()
	parts := [][]byte{[]byte("ab"), nil, []byte("cde"), pattern(10000)}
	b := command.NewBytes(parts...)
	if b.Len() != 10005 {
		t.Fatalf("Len = %d, want 10005", b.Len())
	}
	got, err := io.ReadAll(io.LimitReader(b, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.Join(parts, nil)) {
		t.Fatalf("read %q..., want the parts in order", got[:8])
	}
	if n, err := b.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("Read after the end = %d, %v; want 0, EOF", n, err)
	}
}

// TestRunBytesUnread checks that commands that do not read all of their
// stdin end the run at once: one that stops early succeeds (as with any
// stdin), one stopped by its context fails, and one that leaves a process
// outside its group holding the pipe unread does not keep Run waiting.
func TestRunBytesUnread(t *testing.T) {
	t.Parallel()
	big := pattern(4 << 20) // more than a pipe holds: the rest is written as the command reads
	t.Run("stops reading", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		if err := command.Run(context.Background(), []string{"head", "-c", "10"}, "", command.NewBytes(big), &out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), big[:10]) {
			t.Errorf("output %q, want %q", out.Bytes(), big[:10])
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := command.Run(ctx, []string{"sleep", "30"}, "", command.NewBytes(big), io.Discard); err == nil {
			t.Fatal("a cancelled command reported success")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Run returned after %s", d)
		}
	})
	t.Run("escaped reader", func(t *testing.T) {
		t.Parallel()
		pidFile := filepath.Join(t.TempDir(), "escaped.pid")
		// setsid puts the sleep in a group of its own, out of reach of
		// the kill of the command's group; it holds stdin and never reads.
		// The command ends once the sleep is in its own session.
		// (A background job's stdin is /dev/null unless redirected from a
		// copy made before.)
		script := `exec 3<&0; setsid sh -c 'echo $$ > "$0.tmp"; mv "$0.tmp" "$0"; exec sleep 60' "$0" <&3 >"$0.out" 2>&1 &
while [ ! -e "$0" ]; do sleep 0.01; done; echo done`
		argv := []string{"sh", "-c", script, pidFile}
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- command.Run(context.Background(), argv, "", command.NewBytes(big), &out) }()
		killEscaped := func() {
			if data, err := os.ReadFile(pidFile); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		var err error
		select {
		case err = <-done:
			killEscaped()
		case <-time.After(10 * time.Second):
			killEscaped() // which ends the write, and Run
			<-done
			t.Fatal("Run still waited 10s after the command: it waits for a reader outside the command's group")
		}
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != "done\n" {
			t.Errorf("output %q", out.String())
		}
	})
}
