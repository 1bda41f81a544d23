package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/transfer"
	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/reducer"
	"github.com/jetmr/jetmr/schema"
)

// Transport values of Config.Transport besides schema's shared and object.
const TransportAuto = "auto"

// inlineChunkMax is the largest chunk shipped inside its task message;
// workers fetch larger ones from this process. It stays well below NATS's
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

// CheckPlacement checks the settings of where a job's tasks run and how
// their bytes travel (Config.LocalWorkers, Config.Transport and
// Config.DataListen, given Config.Broker.URL) as the job's validation
// does, for a caller that gives them to several jobs (a pipeline's
// stages) and refuses them before the first starts.
func CheckPlacement(cfg Config) error {
	_, lerr := localWorkers(cfg)
	_, terr := transport(cfg.Transport, cfg.Broker.URL != "")
	return errors.Join(lerr, terr, checkDataListen(cfg.DataListen))
}

// checkDataListen checks Config.DataListen: empty, off, or HOST:PORT.
func checkDataListen(addr string) error {
	if addr == "" || addr == transfer.DirectOff {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return badSetting("Config.DataListen", "Config.DataListen %q is not valid: use HOST:PORT (e.g. 0.0.0.0:7422, or :0 for a random port) or off", addr)
	}
	return nil
}

// ship decides how the bytes of a file chunk reach workers that share no
// disk with this process (transport "object"): a small chunk travels
// inline in its task, with its checksum; a worker fetches a larger one
// from this process's range server (Task.Fetch), which serves the job's
// input files, and checks it against the splitter's checksum. Workers read
// the ranges of s3:// objects themselves.
func (s *session) ship(_ context.Context, t *schema.Task) error {
	if s.record.Transport != schema.TransportObject || t.Path == "" || t.Inline != nil || objstore.IsURL(t.Path) {
		return nil
	}
	s.served.allow(t.Path)
	if t.Length > inlineChunkMax && t.Sum != nil {
		t.Fetch = true
		return nil
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
	t.Fetch = true // a source without checksums: the one just computed
	return nil
}

// servedFiles are the input files whose ranges this process serves to the
// workers that fetch chunks: the job's inputs, and any file a task was
// shipped from. It is safe for concurrent use.
type servedFiles struct {
	mu    sync.Mutex
	paths map[string]bool
}

func (f *servedFiles) allow(paths ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paths == nil {
		f.paths = make(map[string]bool)
	}
	for _, p := range paths {
		f.paths[p] = true
	}
}

// Open opens path if it is served.
func (f *servedFiles) Open(path string) (io.ReaderAt, error) {
	f.mu.Lock()
	ok := f.paths[path]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("serving %s: %w", path, transfer.ErrNotServed)
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("serving a range: %w", err)
	}
	return file, nil
}

// rangeServer starts serving the ranges of the job's fetched chunks, for
// transport "object"; its Run serves them until its context ends. It is
// nil for other transports and for kinds whose tasks are not file chunks.
func (s *session) rangeServer() (*transfer.Server, error) {
	if s.record.Transport != schema.TransportObject || s.record.Kind.Traits().Split != schema.SplitFiles {
		return nil, nil // only chunks of files are fetched
	}
	s.served.allow(s.record.Inputs...)
	cfg := transfer.ServerConfig{NC: s.b.NC, Job: s.record.ID, Files: &s.served, Logger: s.cfg.Logger, DirectListen: s.cfg.DataListen}
	srv, err := transfer.NewServer(cfg)
	if err != nil && !errors.Is(err, transfer.ErrListen) {
		return nil, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	if err != nil {
		// The direct path is a shortcut: without it, workers fetch
		// over NATS.
		s.cfg.Logger.Warn().Err(err).Msg("serving chunks over NATS only")
		cfg.DirectListen = transfer.DirectOff
		srv, err = transfer.NewServer(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", broker.ErrUnreachable, err)
	}
	return srv, nil
}

// retire frees the window's places of a span of merged tasks.
func (s *session) retire(win *window) func(reducer.Span) {
	return win.retire
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
