package s3test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// The credentials the server accepts. The secret is long and unusual, so
// that a test can look for it in everything jetmr prints.
const (
	AccessKey = "AKIAJETMRTEST0000001"
	SecretKey = "jetmr-test-secret/9f3c1e7a5b2d4c6e8f0a1b3c5d7e9f1a"
)

// Server is a running S3-protocol server.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:PORT.
	URL     string
	backend *s3mem.Backend
	srv     *httptest.Server

	mu     sync.Mutex
	denied map[string]bool
	log    []string // "METHOD path?query" of each request
	slow   time.Duration
	down   bool
	noIf   bool
	refuse int // the status every write is answered with; 0: none
}

// IgnoreIfMatch makes the server answer reads as the in-memory store
// does, without checking If-Match, as some services do.
func (s *Server) IgnoreIfMatch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noIf = true
}

// Down makes the server drop every connection without an answer, as an
// endpoint that went down would, until Down(false).
func (s *Server) Down(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// RefuseWrites makes the server answer every request that writes (PUT,
// POST, DELETE) with status and an InternalError, as a failing service
// would, until RefuseWrites(0). Reads and listings still work.
func (s *Server) RefuseWrites(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = status
}

// Slow makes the server wait d before it answers each ranged GET, so
// that a test can kill a reader in the middle of one.
func (s *Server) Slow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow = d
}

// Requests returns the requests the server received, one a line, as
// "METHOD /bucket/key?query".
func (s *Server) Requests() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// Start starts a server on 127.0.0.1 and stops it at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{backend: s3mem.New(), denied: make(map[string]bool)}
	fake := gofakes3.New(s.backend, gofakes3.WithAutoBucket(false))
	srv := httptest.NewServer(s.wrap(fake.Server()))
	t.Cleanup(srv.Close)
	s.URL, s.srv = srv.URL, srv
	return s
}

// Close stops the server before the end of the test.
func (s *Server) Close() { s.srv.Close() }

// Env is the environment of a process that uses the server: its
// endpoint and the accepted credentials.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=us-east-1",
	}
}

// Bucket creates a bucket.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	if err := s.backend.CreateBucket(name); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
}

// Deny makes the server refuse every request about bucket with
// AccessDenied, as a bucket policy that excludes the test's key would.
func (s *Server) Deny(bucket string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[bucket] = true
}

// Put stores data as bucket/key.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if _, err := s.backend.PutObject(bucket, key, map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("putting %s/%s: %v", bucket, key, err)
	}
}

// Get returns the bytes of bucket/key, and false when there is no such
// object.
func (s *Server) Get(t testing.TB, bucket, key string) ([]byte, bool) {
	t.Helper()
	obj, err := s.backend.GetObject(bucket, key, nil)
	if gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchKey) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("getting %s/%s: %v", bucket, key, err)
	}
	defer obj.Contents.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(obj.Contents); err != nil {
		t.Fatalf("reading %s/%s: %v", bucket, key, err)
	}
	return buf.Bytes(), true
}

// Keys returns the keys of bucket under prefix, in order.
func (s *Server) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	p := gofakes3.NewPrefix(&prefix, nil)
	list, err := s.backend.ListBucket(bucket, &p, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatalf("listing %s: %v", bucket, err)
	}
	var keys []string
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}

// wrap adds what the in-memory store leaves out: signature checks (of
// the access key only) and If-Match on GET and HEAD.
func (s *Server) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		s.mu.Lock()
		denied, slow, down, noIf, refuse := s.denied[bucket], s.slow, s.down, s.noIf, s.refuse
		s.log = append(s.log, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
		if down {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		if refuse != 0 && (r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete) {
			fail(w, refuse, "InternalError", "We encountered an internal error. Please try again.")
			return
		}
		if slow > 0 && r.Method == http.MethodGet && r.Header.Get("Range") != "" {
			select {
			case <-time.After(slow):
			case <-r.Context().Done():
				return
			}
		}
		auth := r.Header.Get("Authorization") + r.URL.Query().Get("X-Amz-Credential")
		if denied || !strings.Contains(auth, "Credential="+AccessKey+"/") && !strings.HasPrefix(r.URL.Query().Get("X-Amz-Credential"), AccessKey+"/") {
			fail(w, http.StatusForbidden, "AccessDenied", "Access Denied")
			return
		}
		if m := r.Header.Get("If-Match"); m != "" && !noIf && key != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			obj, err := s.backend.HeadObject(bucket, key)
			if err != nil {
				fail(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
				return
			}
			if etag := `"` + hex.EncodeToString(obj.Hash) + `"`; strings.Trim(m, `"`) != strings.Trim(etag, `"`) {
				fail(w, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
				return
			}
		}
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") != "" && strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
			// The store decodes signed chunks of whole objects only.
			body, err := unchunk(r.Body)
			if err != nil {
				fail(w, http.StatusBadRequest, "IncompleteBody", err.Error())
				return
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			r.Header.Set("Content-Length", strconv.Itoa(len(body)))
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		}
		next.ServeHTTP(w, r)
	})
}

// unchunk decodes an aws-chunked body: chunks of "SIZE;chunk-signature=
// SIG\r\nDATA\r\n", in hex sizes, up to one of size 0.
func unchunk(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(r)
	var out bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading a chunk header: %w", err)
		}
		sizeHex, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("chunk size %q: %w", sizeHex, err)
		}
		if n == 0 {
			return out.Bytes(), nil
		}
		if _, err := io.CopyN(&out, br, n); err != nil {
			return nil, fmt.Errorf("reading a chunk: %w", err)
		}
		if _, err := br.Discard(2); err != nil {
			return nil, fmt.Errorf("reading a chunk's end: %w", err)
		}
	}
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}
