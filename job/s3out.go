package job

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/objstore"
	"github.com/jetmr/jetmr/report"
	"github.com/jetmr/jetmr/schema"
)

// objectOutput is an s3:// output (Config.Output): the job writes it to a
// local staging file or folder as it would any output, and it is
// uploaded when the job completes, so that it appears only then.
type objectOutput struct {
	client *objstore.Client
	loc    objstore.Location
	stage  string // the folder holding the staged output
	local  string // the staged output: a file (pipe) or a folder of part files
	dir    bool   // a folder of part files under the prefix loc.Key
	id     string // the job's ID
	// rejects is where the records --skip-bad-records skips are
	// uploaded, from the file local+RejectsSuffix; its key is "" when
	// they go to a local --rejects file, or no record is skipped.
	rejects objstore.Location
}

// objectStageDir is the folder of a store that holds the staging folders
// of s3:// outputs, one per job.
const objectStageDir = "s3-output"

// stageObjectOutput prepares an s3:// output: it checks the URL, refuses
// an existing output unless cfg.Force, and points cfg.Output at a staging
// path under the job's store folder, the same for every run of the job
// so that a resume finds what an earlier run staged. It returns nil when
// cfg.Output is not a URL.
func stageObjectOutput(ctx context.Context, cfg *Config) (*objectOutput, error) {
	if !objstore.IsURL(cfg.Output) {
		return nil, nil
	}
	o := &objectOutput{}
	switch cfg.Kind {
	case schema.KindPipe:
	case schema.KindMapReduce:
		o.dir = true
	default:
		return nil, badSetting("Config.Output", "output %s: only pipe and mapreduce jobs write to s3:// URLs: give a local path", cfg.Output)
	}
	var err error
	if o.loc, err = objstore.Parse(cfg.Output); err != nil {
		return nil, err
	}
	switch {
	case o.dir && o.loc.Key != "" && !strings.HasSuffix(o.loc.Key, "/"):
		o.loc.Key += "/"
	case !o.dir && (o.loc.Key == "" || strings.HasSuffix(o.loc.Key, "/")):
		return nil, badSetting("Config.Output", "output %s names a prefix, not an object: a pipe job writes one object, e.g. s3://%s/out.txt", cfg.Output, o.loc.Bucket)
	}
	svc, err := objstore.Resolve(cfg.S3)
	if err != nil {
		return nil, err
	}
	if o.client, err = objstore.Open(svc); err != nil {
		return nil, err
	}
	exists, err := o.client.Exists(ctx, o.loc, o.dir)
	if err != nil {
		return nil, err
	}
	// A resume continues a job whose first run checked the output: what
	// is there now may be its own upload, cut short.
	if exists && !cfg.Force && !cfg.Resume {
		what := o.loc.String()
		if o.dir {
			what = "prefix " + what + " (it holds objects)"
		}
		return nil, &outputExistsError{path: what}
	}
	if cfg.SkipBadRecords > 0 && cfg.Rejects == "" {
		// Next to the output, as OUT.rejected is next to a local file
		// and DIR.rejected next to a local output folder.
		key := strings.TrimSuffix(o.loc.Key, "/")
		if key == "" {
			return nil, badSetting("Config.Rejects", "output %s is a whole bucket, with no room next to it for the records Config.SkipBadRecords skips: write under a prefix, e.g. s3://%s/out/, or add Config.Rejects FILE", cfg.Output, o.loc.Bucket)
		}
		o.rejects = objstore.Location{Bucket: o.loc.Bucket, Key: key + RejectsSuffix}
		exists, err := o.client.Exists(ctx, o.rejects, false)
		if err != nil {
			return nil, err
		}
		if exists && !cfg.Force && !cfg.Resume {
			return nil, &outputExistsError{path: o.rejects.String(), setting: "Config.Rejects"}
		}
	}
	if cfg.ID == "" {
		cfg.ID = NewID()
	}
	base := cfg.Broker.StoreDir
	if base == "" {
		if base, err = broker.DefaultStoreDir(); err != nil {
			return nil, err
		}
	}
	o.id = cfg.ID
	o.stage = filepath.Join(base, objectStageDir, cfg.ID)
	if err := os.MkdirAll(o.stage, 0o700); err != nil {
		return nil, fmt.Errorf("creating the staging folder of output %s: %w", cfg.Output, err)
	}
	o.local = filepath.Join(o.stage, "out")
	cfg.Output = o.local
	return o, nil
}

// upload stores the staged output under its URL, each part file of a
// mapreduce job as PREFIX/part-NNNNN, and removes the staging folder. A
// failed upload keeps it and says where it is (an [*UploadError]).
func (o *objectOutput) upload(ctx context.Context) error {
	files := []string{o.local}
	keys := []string{o.loc.Key}
	if o.dir {
		entries, err := os.ReadDir(o.local)
		if err != nil {
			return fmt.Errorf("reading the staged output %s: %w", o.local, err)
		}
		files, keys = nil, nil
		for _, e := range entries {
			files = append(files, filepath.Join(o.local, e.Name()))
			keys = append(keys, o.loc.Key+e.Name())
		}
	}
	staleRejects := false // an earlier output's, when no record was left out
	if o.rejects.Key != "" {
		if _, err := os.Stat(o.local + RejectsSuffix); err == nil {
			files, keys = append(files, o.local+RejectsSuffix), append(keys, o.rejects.Key)
		} else {
			staleRejects = true
		}
	}
	var old []string
	if o.dir {
		// With --force the prefix may hold an earlier output: what the
		// new one does not overwrite goes once the new parts are stored,
		// as a local output folder is replaced whole.
		var err error
		if old, err = o.client.Keys(ctx, o.loc); err != nil {
			return &UploadError{Job: o.id, What: "listing the objects under " + o.loc.String(), Staged: o.local, Err: err}
		}
	}
	for i, f := range files {
		loc := objstore.Location{Bucket: o.loc.Bucket, Key: keys[i]}
		if err := o.client.Upload(ctx, loc, f); err != nil {
			return &UploadError{Job: o.id, What: "uploading its output to " + loc.String(), Staged: o.local, Err: err}
		}
	}
	for _, k := range old {
		if slices.Contains(keys, k) {
			continue
		}
		loc := objstore.Location{Bucket: o.loc.Bucket, Key: k}
		if err := o.client.Remove(ctx, loc); err != nil {
			return fmt.Errorf("the job's output is uploaded to %s, but deleting %s of an earlier output failed: delete the objects under the prefix that are not part-NNNNN of this job: %w", o.loc, loc, err)
		}
	}
	if staleRejects {
		if err := o.client.Remove(ctx, o.rejects); err != nil {
			return fmt.Errorf("the job's output is uploaded to %s, but deleting %s, the rejected records of an earlier output, failed: delete it: %w", o.loc, o.rejects, err)
		}
	}
	return os.RemoveAll(o.stage)
}

// runWithObjectOutput runs a job with run, staging an s3:// output that
// the job uploads once it completes (see Config.upload).
func runWithObjectOutput(ctx context.Context, cfg Config, run func(Config) (*report.Report, error)) (*report.Report, error) {
	if objstore.IsURL(cfg.Rejects) {
		return nil, badSetting("Config.Rejects", "Config.Rejects %s is an s3:// URL: the rejected records go to a local file; with an s3:// output and no Config.Rejects they are uploaded next to it: give a local path, or drop Config.Rejects", cfg.Rejects)
	}
	if err := checkReduceOnWorkers(cfg); err != nil {
		return nil, err // before the object store is reached
	}
	out, err := stageObjectOutput(ctx, &cfg)
	if err != nil || out == nil {
		if err != nil {
			return nil, err
		}
		return run(cfg)
	}
	cfg.upload, cfg.outputURL = out.upload, out.loc.String()
	if out.rejects.Key != "" {
		cfg.rejectsURL = out.rejects.String()
	}
	return run(cfg)
}
