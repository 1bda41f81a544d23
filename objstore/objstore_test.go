package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/internal/s3test"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// setEnv sets the environment of s's clients for the test.
func setEnv(t *testing.T, s *s3test.Server) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func open(t *testing.T, s *s3test.Server) *Client {
	t.Helper()
	setEnv(t, s)
	svc, err := Resolve(Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Endpoint != s.URL {
		t.Fatalf("endpoint %q, want %q from AWS_ENDPOINT_URL", svc.Endpoint, s.URL)
	}
	c, err := Open(svc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestListAndReadRanges(t *testing.T) {
	s := s3test.Start(t)
	s.Bucket(t, "bkt")
	data := []byte(strings.Repeat("line one\nsecond line\n", 500) + "no newline")
	s.Put(t, "bkt", "dir/b.txt", data)
	s.Put(t, "bkt", "dir/a.txt", []byte("a\n"))
	s.Put(t, "bkt", "dir/", nil)               // a folder marker
	s.Put(t, "bkt", "dirt/x.txt", []byte("x")) // not under dir/
	c := open(t, s)
	ctx := context.Background()
	for _, url := range []string{"s3://bkt/dir", "s3://bkt/dir/"} {
		in, err := c.Inputs(ctx, []string{url, "s3://bkt/dir/a.txt"})
		if err != nil {
			t.Fatal(err)
		}
		if len(in) != 2 || in[0].Path != "s3://bkt/dir/a.txt" || in[1].Path != "s3://bkt/dir/b.txt" || in[1].Size != int64(len(data)) || in[1].Fingerprint.ETag == "" {
			t.Fatalf("Inputs(%s) = %+v", url, in)
		}
	}
	in, err := c.Inputs(ctx, []string{"s3://bkt/dir/b.txt"})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	err = c.Source(in, splitter.Records{}).Split(ctx, 1000, func(ch splitter.Chunk) error {
		r, start, n, err := c.OpenRange(ctx, in[0], splitter.Records{}, ch.Offset, ch.Length)
		if err != nil {
			return err
		}
		if n > 0 && start != int64(got.Len()) {
			t.Errorf("range at %d starts at %d, want %d, where the previous one ended", ch.Offset, start, got.Len())
		}
		defer r.Close()
		m, err := io.Copy(&got, r)
		if m != n {
			t.Errorf("range %d+%d yielded %d bytes, said %d", ch.Offset, ch.Length, m, n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("the ranges hold %d bytes, want the object's %d", got.Len(), len(data))
	}

	// Written again after the listing: every read fails, naming both ETags.
	s.Put(t, "bkt", "dir/b.txt", []byte("new\n"))
	_, _, _, err = c.OpenRange(ctx, in[0], splitter.Records{}, 0, 100)
	if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), in[0].Fingerprint.ETag) || !strings.Contains(err.Error(), "s3://bkt/dir/b.txt") {
		t.Fatalf("reading a changed object: %v, want ErrChanged naming it and its ETag", err)
	}
}

func TestErrors(t *testing.T) {
	s := s3test.Start(t)
	s.Bucket(t, "bkt")
	s.Bucket(t, "locked")
	s.Deny("locked")
	c := open(t, s)
	ctx := context.Background()
	tests := []struct {
		url  string
		want error
	}{
		{"s3://nosuch/x", errs.ErrBadInput},
		{"s3://bkt/none/", errs.ErrBadInput},
		{"s3://locked/x", ErrUnavailable},
		{"s3:///x", errs.ErrBadInput},
	}
	for _, tt := range tests {
		_, err := c.Inputs(ctx, []string{tt.url})
		if !errors.Is(err, tt.want) {
			t.Errorf("Inputs(%s) = %v, want %v", tt.url, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), s3test.SecretKey) {
			t.Errorf("Inputs(%s) printed the secret: %v", tt.url, err)
		}
	}
	down := s3test.Start(t)
	down.Close()
	dc, err := Open(schema.S3Service{Endpoint: down.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Inputs(ctx, []string{"s3://bkt/x"}); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), down.URL) {
		t.Errorf("Inputs on a closed port = %v, want ErrUnavailable naming %s", err, down.URL)
	}
	for _, bad := range []string{"ftp://x", "http://", "http://h/path"} {
		if _, err := Resolve(Settings{Endpoint: bad}); !errors.Is(err, errs.ErrBadInput) {
			t.Errorf("Resolve(%q) = %v, want ErrBadInput", bad, err)
		}
	}
}

// TestUploadMultipart uploads a file larger than a part: the object
// holds its bytes, and exists only once the upload completed.
func TestUploadMultipart(t *testing.T) {
	s := s3test.Start(t)
	s.Bucket(t, "out")
	c := open(t, s)
	c.partSize = 5 << 20 // the least S3 allows
	data := bytes.Repeat([]byte("0123456789abcdef\n"), (11<<20)/17)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	loc := Location{Bucket: "out", Key: "res/f.txt"}
	if ok, err := c.Exists(ctx, loc, false); ok || err != nil {
		t.Fatalf("Exists before upload = %v, %v", ok, err)
	}
	if err := c.Upload(ctx, loc, path); err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get(t, "out", "res/f.txt")
	if !ok || !bytes.Equal(got, data) {
		t.Fatalf("uploaded object holds %d bytes, want %d", len(got), len(data))
	}
	for _, prefix := range []bool{false, true} {
		l := loc
		if prefix {
			l.Key = "res/"
		}
		if ok, err := c.Exists(ctx, l, prefix); !ok || err != nil {
			t.Errorf("Exists(%s, prefix %v) = %v, %v", l, prefix, ok, err)
		}
	}
	if !strings.Contains(s.Requests(), "uploadId") {
		t.Error("no multipart upload request reached the server")
	}
}
