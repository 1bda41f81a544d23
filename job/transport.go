package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// Transport values of Config.Transport besides schema's shared and object.
const TransportAuto = "auto"

// inlineChunkMax is the largest chunk shipped inside its task message;
// larger ones go through the object store. It stays well below NATS's
// default maximum payload of 1 MiB.
const inlineChunkMax = 512 << 10

// transport resolves --transport: auto is shared with the embedded broker,
// whose workers all run in this process, and object with an external one,
// whose workers may run on machines that cannot read the inputs.
func transport(given string, external bool) (string, error) {
	switch given {
	case "", TransportAuto:
		if external {
			return schema.TransportObject, nil
		}
		return schema.TransportShared, nil
	case schema.TransportShared, schema.TransportObject:
		return given, nil
	}
	return "", badSetting("Config.Transport", "Config.Transport %q is not valid: use auto, shared or object", given)
}

// ship reads a file chunk for workers that share no disk with this
// process (transport "object"): the chunk travels inline in the task when
// small, else as an object, with its checksum either way.
func (s *session) ship(ctx context.Context, t *schema.Task) error {
	if s.record.Transport != schema.TransportObject || t.Path == "" || t.Inline != nil || objstore.IsURL(t.Path) {
		return nil // workers read objects' ranges themselves
	}
	data := make([]byte, t.Length)
	f, err := os.Open(t.Path)
	if err != nil {
		return badInput("reading input %s for task %d: %w", t.Path, t.Index, err)
	}
	_, err = f.ReadAt(data, t.Offset)
	f.Close()
	if err != nil {
		return badInput("reading input %s at %d+%d for task %d: %w", t.Path, t.Offset, t.Length, t.Index, err)
	}
	if t.Sum != nil {
		// The splitter read these bytes already: a file changed since
		// then must not mix its two versions in one output.
		if err := schema.VerifyChecksum(t, data); err != nil {
			return fmt.Errorf("shipping task %d: input %s changed after it was split (bytes %d-%d differ from what the splitter read): do not modify inputs while a job runs; run the job again: %w",
				t.Index, t.Path, t.Offset, t.Offset+t.Length, err)
		}
	}
	t.Sum = schema.Checksum(data)
	if len(data) <= inlineChunkMax {
		t.Inline = data
		return nil
	}
	name := schema.ChunkObject(t.Index)
	if _, err := s.data.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("storing the chunk of task %d: %w", t.Index, err)
	}
	t.Object = name
	s.chunks.add(t.Index)
	return nil
}

// chunkObjects are the tasks whose chunks this run put in the object
// store and that are not merged yet. It is safe for concurrent use.
type chunkObjects struct {
	mu  sync.Mutex
	idx map[uint64]struct{}
}

func (c *chunkObjects) add(i uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idx == nil {
		c.idx = make(map[uint64]struct{})
	}
	c.idx[i] = struct{}{}
}

// take removes and returns the tasks of span.
func (c *chunkObjects) take(span reducer.Span) []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint64
	for i := range c.idx {
		if i >= span.From && i < span.To {
			out = append(out, i)
			delete(c.idx, i)
		}
	}
	return out
}

// retire frees the window's places of a span of merged tasks and deletes
// their chunk objects, which no worker needs any more: the object store
// holds only the chunks of tasks in flight, not the whole input. Objects
// of a run that crashed go with the job.
func (s *session) retire(win *window) func(reducer.Span) {
	return func(span reducer.Span) {
		win.retire(span)
		if s.data == nil {
			return
		}
		for _, i := range s.chunks.take(span) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := s.data.Delete(ctx, schema.ChunkObject(i))
			cancel()
			if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				s.cfg.Logger.Warn().Err(err).Uint64("task", i).Msg("deleting a merged task's chunk object; it goes with the job")
			}
		}
	}
}

// fetchOutput copies an output a worker shipped as an object into a local
// spill file, which the sinks read and delete like any other.
func (s *session) fetchOutput(ctx context.Context, r *schema.Result) error {
	if s.data == nil {
		return fmt.Errorf("job %s has no object store, yet task %d's output is object %s", s.record.ID, r.Index, r.Object)
	}
	dir := filepath.Join(s.spill, "fetched")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	obj, err := s.data.Get(ctx, r.Object)
	if err != nil {
		return fmt.Errorf("reading object %s: %w", r.Object, err)
	}
	defer obj.Close()
	path := filepath.Join(dir, filepath.Base(r.Object))
	f, err := os.CreateTemp(dir, ".fetch-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(f, obj) // the object store checks the digest at the end
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
		return fmt.Errorf("fetching object %s: %w", r.Object, err)
	}
	r.Spill, r.Object = path, ""
	return nil
}
