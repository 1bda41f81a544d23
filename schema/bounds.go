package schema

import (
	"encoding/binary"
	"fmt"
)

// maxDepth bounds the nesting of a message's msgpack values.
const maxDepth = 32

// checkBounds walks the msgpack values in data and checks that every
// length a header claims fits in the bytes that follow it. The msgpack
// decoder allocates a string's or a binary's claimed length before it
// reads it, so without this check a 10-byte message could make a worker
// allocate gigabytes.
func checkBounds(data []byte) error {
	rest, err := skipValue(data, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d bytes after the message", ErrMalformed, len(rest))
	}
	return nil
}

// skipValue returns what follows the msgpack value at the start of b.
func skipValue(b []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrMalformed, maxDepth)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	c, b := b[0], b[1:]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return b, nil // fixint, nil, bool
	case c >= 0x80 && c <= 0x8f:
		return skipN(b, 2*int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return skipN(b, int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return skipBytes(b, int(c&0x1f))
	}
	switch c {
	case 0xcc, 0xd0:
		return skipBytes(b, 1)
	case 0xcd, 0xd1:
		return skipBytes(b, 2)
	case 0xca, 0xce, 0xd2:
		return skipBytes(b, 4)
	case 0xcb, 0xcf, 0xd3:
		return skipBytes(b, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 (+1 type byte)
		return skipBytes(b, 1+(1<<(c-0xd4)))
	case 0xc4, 0xd9: // bin8, str8
		return skipSized(b, 1, 0)
	case 0xc5, 0xda:
		return skipSized(b, 2, 0)
	case 0xc6, 0xdb:
		return skipSized(b, 4, 0)
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32 (+1 type byte)
		return skipSized(b, 1<<(c-0xc7), 1)
	case 0xdc, 0xdd: // array 16, 32
		n, rest, err := readLen(b, 2<<(c-0xdc))
		if err != nil {
			return nil, err
		}
		return skipN(rest, n, depth)
	case 0xde, 0xdf: // map 16, 32
		n, rest, err := readLen(b, 2<<(c-0xde))
		if err != nil {
			return nil, err
		}
		return skipN(rest, 2*n, depth)
	}
	return nil, fmt.Errorf("%w: unknown type code 0x%02x", ErrMalformed, c)
}

func skipN(b []byte, n, depth int) ([]byte, error) {
	if n > len(b) { // every value takes at least one byte
		return nil, fmt.Errorf("%w: %d items claimed, %d bytes left", ErrMalformed, n, len(b))
	}
	var err error
	for range n {
		if b, err = skipValue(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func skipSized(b []byte, lenBytes, extra int) ([]byte, error) {
	n, rest, err := readLen(b, lenBytes)
	if err != nil {
		return nil, err
	}
	return skipBytes(rest, n+extra)
}

func readLen(b []byte, size int) (int, []byte, error) {
	if len(b) < size {
		return 0, nil, fmt.Errorf("%w: truncated length", ErrMalformed)
	}
	switch size {
	case 1:
		return int(b[0]), b[1:], nil
	case 2:
		return int(binary.BigEndian.Uint16(b)), b[2:], nil
	}
	return int(binary.BigEndian.Uint32(b)), b[4:], nil
}

func skipBytes(b []byte, n int) ([]byte, error) {
	if n < 0 || n > len(b) {
		return nil, fmt.Errorf("%w: %d bytes claimed, %d left", ErrMalformed, n, len(b))
	}
	return b[n:], nil
}
