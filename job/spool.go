package job

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/schema"
	"github.com/jetmr/jetmr/splitter"
)

// Chunks of streamed inputs (standard input, compressed files) carry their
// bytes. With transport "shared" they are spooled: written to a file in
// the job's spill directory, which the task names as a byte range like any
// input file, instead of travelling in the task message. The bytes then
// sit in files (the page cache) rather than in JetStream's caches of the
// task stream, so the job's memory does not grow with the stream, and a
// chunk that failed stays where --retry-failed finds it. A chunk's file is
// removed once its task is merged; the rest go with the spill directory
// when the job completes.

// spools reports whether this job spools the chunks of its streamed
// inputs.
func (s *session) spools() bool {
	return s.streamed && s.record.Transport == schema.TransportShared
}

// spoolPath is the file that holds the chunk of task i.
func (s *session) spoolPath(i uint64) string {
	return filepath.Join(s.spill, "stream", fmt.Sprintf("%d.chunk", i))
}

// spool writes the bytes of the streamed chunk c of task i to its file
// and returns the chunk as a byte range of that file, with its checksum.
// The file appears whole, by a rename: a resumed job spools again the
// chunks its crashed run may have published, while workers may read them.
func (s *session) spool(i uint64, c splitter.Chunk) (splitter.Chunk, error) {
	path := s.spoolPath(i)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return c, fmt.Errorf("spooling the chunk of task %d: %w", i, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".spool-*")
	if err != nil {
		return c, fmt.Errorf("spooling the chunk of task %d: %w", i, err)
	}
	_, err = f.Write(c.Data)
	if err == nil && s.cfg.Broker.Sync == broker.SyncAlways {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return c, fmt.Errorf("spooling the chunk of task %d to %s: %w", i, path, err)
	}
	from := c.Path
	if from == "" {
		from = splitter.Stdin
	}
	s.spooledFrom.Store(i, from)
	return splitter.Chunk{Path: path, Length: int64(len(c.Data)), Sum: schema.Checksum(c.Data), Header: c.Header}, nil
}

// unspool removes the spooled chunk of a merged task, if it has one.
func (s *session) unspool(res *schema.Result) {
	if !s.spools() {
		return
	}
	if err := os.Remove(s.spoolPath(res.Index)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.cfg.Logger.Warn().Err(err).Uint64("task", res.Index).Msg("removing a merged task's spooled chunk; it goes with the job")
	}
}
