package transfer

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadDirectRequest: whatever a connection sends, reading a request
// either fails or yields a valid request that encodes back to the bytes
// read.
func FuzzReadDirectRequest(f *testing.F) {
	good := directRequest{index: 7, offset: 1 << 20, length: 64 << 20, path: "/data/in.txt"}.append(nil)
	f.Add(good)
	f.Add(good[:directFixed])
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add(append([]byte("JMRD\x01"), make([]byte, 70)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		req, err := readDirectRequest(r)
		if err != nil {
			if !errors.Is(err, errBadDirectRequest) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				t.Fatalf("an error that is neither a bad request nor a short one: %v", err)
			}
			return
		}
		if req.offset < 0 || req.length <= 0 || req.path == "" || len(req.path) > maxDirectPath {
			t.Fatalf("accepted %+v", req)
		}
		read := data[:len(data)-r.Len()]
		if got := req.append(nil); !bytes.Equal(got, read) {
			t.Fatalf("%+v encodes to %x, read from %x", req, got, read)
		}
	})
}
