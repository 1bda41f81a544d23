package mapper

import (
	"bytes"
)

// lineEmitter parses a map command's stdout in the Hadoop Streaming
// convention: one pair per line, the key up to the first tab, the value
// after it (empty when the line has no tab). A trailing "\n" or "\r\n" is
// not part of the value.
type lineEmitter struct {
	emit    Emitter
	pending []byte
	err     error
}

func (l *lineEmitter) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n := len(p)
	if len(l.pending) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.pending = append(l.pending, p...)
			return n, nil
		}
		l.pending = append(l.pending, p[:i+1]...)
		if l.err = l.line(l.pending); l.err != nil {
			return 0, l.err
		}
		l.pending = l.pending[:0]
		p = p[i+1:]
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		if l.err = l.line(p[:i+1]); l.err != nil {
			return 0, l.err
		}
		p = p[i+1:]
	}
	l.pending = append(l.pending, p...)
	return n, nil
}

func (l *lineEmitter) flush() error {
	if l.err != nil {
		return l.err
	}
	if len(l.pending) > 0 {
		l.err = l.line(l.pending)
		l.pending = nil
	}
	return l.err
}

func (l *lineEmitter) line(b []byte) error {
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	key, value, _ := bytes.Cut(b, []byte("\t"))
	return l.emit.Emit(key, value)
}
