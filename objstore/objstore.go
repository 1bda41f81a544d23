package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/jetmr/jetmr/errs"
	"github.com/jetmr/jetmr/schema"
)

// Scheme starts the URLs of objects.
const Scheme = "s3://"

// ErrUnavailable is wrapped by the errors of an object store that cannot
// be reached, that refuses the credentials or that answers with a server
// error (5xx) after the retries: an infrastructure problem,
// not one of the job's inputs.
var ErrUnavailable = errors.New("object store unavailable")

// ErrChanged is wrapped by the errors of reads of an object that was
// written again after it was listed: its ETag differs.
var ErrChanged = errors.New("object changed")

// maxRetries bounds the attempts of one request: an endpoint that is
// down fails in about a second, not after minutes.
const maxRetries = 3

// dialTimeout bounds connecting to the service.
const dialTimeout = 5 * time.Second

// IsURL reports whether s names objects (s3://bucket/key) rather than a
// path.
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// Location is a bucket and a key (or a prefix of keys) in it.
type Location struct {
	Bucket, Key string
}

// String returns the location's URL.
func (l Location) String() string { return Scheme + l.Bucket + "/" + l.Key }

// Parse splits an s3://bucket/key URL. A URL without a bucket is an error
// wrapping errs.ErrBadInput.
func Parse(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	bucket, key, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return Location{}, errs.BadInput("", "%q is not an object URL: write s3://BUCKET/KEY or s3://BUCKET/PREFIX/", s)
	}
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return Location{}, errs.BadInput("", "%q does not name a bucket (%v): write s3://BUCKET/KEY or s3://BUCKET/PREFIX/", s, err)
	}
	return Location{Bucket: bucket, Key: key}, nil
}

// Settings are what the command line says of the service; zero fields
// are taken from the environment.
type Settings struct {
	// Endpoint is the service's URL (--s3-endpoint).
	Endpoint string
	// PathStyle addresses buckets in the path (--s3-path-style).
	PathStyle bool
	// Region is the buckets' region.
	Region string
}

// defaultEndpoint is Amazon S3's.
const defaultEndpoint = "https://s3.amazonaws.com"

// Resolve completes s from the standard AWS environment and checks the
// endpoint: an endpoint that is not an http or https URL is an error
// wrapping errs.ErrBadInput.
func Resolve(s Settings) (schema.S3Service, error) {
	svc := schema.S3Service{Endpoint: s.Endpoint, PathStyle: s.PathStyle, Region: s.Region}
	from := "--s3-endpoint"
	for _, name := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(name); svc.Endpoint == "" && v != "" {
			svc.Endpoint, from = v, name
		}
	}
	if svc.Endpoint == "" {
		svc.Endpoint = defaultEndpoint
	}
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v := os.Getenv(name); svc.Region == "" && v != "" {
			svc.Region = v
		}
	}
	u, err := url.Parse(svc.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return schema.S3Service{}, errs.BadInput("", "%s %q is not an object store endpoint: give its URL, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000", from, svc.Endpoint)
	}
	svc.Endpoint = u.Scheme + "://" + u.Host
	return svc, nil
}

// Client reads and writes the objects of one service. It is safe for
// concurrent use.
type Client struct {
	mc       *minio.Client
	endpoint string
	partSize uint64 // of multipart uploads
}

// partSize is the size of the parts of a multipart upload; smaller files
// are uploaded in one PUT.
const partSize = 16 << 20

// Open returns a client of the service, with credentials from the
// environment (see the package documentation). It makes no request.
func Open(svc schema.S3Service) (*Client, error) {
	u, err := url.Parse(svc.Endpoint)
	if err != nil {
		return nil, errs.BadInput("", "%q is not an object store endpoint: give its URL", svc.Endpoint)
	}
	secure := u.Scheme == "https"
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("preparing the object store client: %w", err)
	}
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	lookup := minio.BucketLookupAuto
	if svc.PathStyle {
		lookup = minio.BucketLookupPath
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
	})
	mc, err := minio.New(u.Host, &minio.Options{
		Creds: creds, Secure: secure, Transport: tr, Region: svc.Region,
		BucketLookup: lookup, MaxRetries: maxRetries,
	})
	if err != nil {
		return nil, errs.BadInput("", "object store endpoint %s cannot be used (%v): check --s3-endpoint or AWS_ENDPOINT_URL", svc.Endpoint, err)
	}
	return &Client{mc: mc, endpoint: svc.Endpoint, partSize: partSize}, nil
}

// Endpoint is the service's URL, for messages.
func (c *Client) Endpoint() string { return c.endpoint }

// Object is one listed object.
type Object struct {
	Location
	Size int64
	// ETag is the object's entity tag, without quotes.
	ETag string
}

// URL returns the object's URL.
func (o Object) URL() string { return o.Location.String() }

// List returns the objects loc names, in lexical order of their keys:
// the object whose key is loc.Key when there is one, else every object
// under the prefix loc.Key+"/" (every object of the bucket for an empty
// key; a key that ends in "/" is a prefix already). Keys ending in "/"
// (folder markers) are skipped. No object is an error wrapping
// errs.ErrBadInput.
func (c *Client) List(ctx context.Context, loc Location) ([]Object, error) {
	prefix := loc.Key
	exact := prefix != "" && !strings.HasSuffix(prefix, "/")
	if exact {
		info, err := c.mc.StatObject(ctx, loc.Bucket, loc.Key, minio.StatObjectOptions{})
		if err == nil {
			return []Object{{Location: loc, Size: info.Size, ETag: trimETag(info.ETag)}}, nil
		}
		if code := minio.ToErrorResponse(err).Code; code != "NoSuchKey" && code != "NotFound" {
			return nil, c.failed(err, "listing", loc)
		}
		prefix += "/"
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []Object
	for info := range c.mc.ListObjects(lctx, loc.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			cancel()
			return nil, c.failed(info.Err, "listing", loc)
		}
		if strings.HasSuffix(info.Key, "/") {
			continue
		}
		out = append(out, Object{Location: Location{Bucket: loc.Bucket, Key: info.Key}, Size: info.Size, ETag: trimETag(info.ETag)})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errs.BadInput("", "no objects at %s (nor under %s) on %s: check the bucket and the key or prefix",
			loc, Location{Bucket: loc.Bucket, Key: prefix}, c.endpoint)
	}
	return out, nil
}

// Exists reports whether an object with loc's key exists or, when
// prefix is set, whether any object is under loc.Key. A missing bucket
// is an error wrapping errs.ErrBadInput.
func (c *Client) Exists(ctx context.Context, loc Location, prefix bool) (bool, error) {
	if !prefix {
		_, err := c.mc.StatObject(ctx, loc.Bucket, loc.Key, minio.StatObjectOptions{})
		if err == nil {
			return true, nil
		}
		if code := minio.ToErrorResponse(err).Code; code != "NoSuchKey" && code != "NotFound" {
			return false, c.failed(err, "checking", loc)
		}
		// A HEAD answers a missing bucket as a missing key: ask.
		ok, err := c.mc.BucketExists(ctx, loc.Bucket)
		if err != nil {
			return false, c.failed(err, "checking", loc)
		}
		if !ok {
			return false, c.failed(minio.ErrorResponse{Code: "NoSuchBucket"}, "checking", loc)
		}
		return false, nil
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for info := range c.mc.ListObjects(lctx, loc.Bucket, minio.ListObjectsOptions{Prefix: loc.Key, Recursive: true, MaxKeys: 1}) {
		cancel()
		if info.Err != nil {
			return false, c.failed(info.Err, "checking", loc)
		}
		return true, nil
	}
	return false, ctx.Err()
}

// Upload stores the local file path as the object at loc: in one PUT
// when small, else as a multipart upload, completed only once every part
// is stored, so that the object appears whole or not at all.
func (c *Client) Upload(ctx context.Context, loc Location, path string) error {
	if _, err := c.mc.FPutObject(ctx, loc.Bucket, loc.Key, path, minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: c.partSize}); err != nil {
		return c.failed(err, "uploading", loc)
	}
	return nil
}

// Keys returns the keys of every object under the prefix loc.Key, folder
// markers included.
func (c *Client) Keys(ctx context.Context, loc Location) ([]string, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var keys []string
	for info := range c.mc.ListObjects(lctx, loc.Bucket, minio.ListObjectsOptions{Prefix: loc.Key, Recursive: true}) {
		if info.Err != nil {
			cancel()
			return nil, c.failed(info.Err, "listing", loc)
		}
		keys = append(keys, info.Key)
	}
	return keys, ctx.Err()
}

// Remove deletes the object at loc; a missing object is no error.
func (c *Client) Remove(ctx context.Context, loc Location) error {
	if err := c.mc.RemoveObject(ctx, loc.Bucket, loc.Key, minio.RemoveObjectOptions{}); err != nil {
		if code := minio.ToErrorResponse(err).Code; code == "NoSuchKey" || code == "NotFound" {
			return nil
		}
		return c.failed(err, "deleting", loc)
	}
	return nil
}

// Range returns a reader of n bytes of obj from offset off, by a ranged
// GET that only the listed version of obj answers: with If-Match, and by
// the ETag of the answer for services that ignore If-Match.
func (c *Client) Range(ctx context.Context, obj Object, off, n int64) (io.ReadCloser, error) {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+n-1); err != nil {
		return nil, fmt.Errorf("reading %s at %d+%d: %w", obj.URL(), off, n, err)
	}
	if obj.ETag != "" {
		if err := opts.SetMatchETag(obj.ETag); err != nil {
			return nil, fmt.Errorf("reading %s: %w", obj.URL(), err)
		}
	}
	body, err := c.mc.GetObject(ctx, obj.Bucket, obj.Key, opts)
	var info minio.ObjectInfo
	if err == nil {
		info, err = body.Stat() // sends the request, so that its errors show here
	}
	if err == nil && obj.ETag != "" && info.ETag != "" && trimETag(info.ETag) != obj.ETag {
		// A service that ignores If-Match answers with another version:
		// its ETag tells, as a refusal would have.
		err = minio.ErrorResponse{Code: "PreconditionFailed", StatusCode: http.StatusPreconditionFailed}
	}
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, c.readFailed(ctx, err, obj)
	}
	return &rangeBody{c: c, ctx: ctx, obj: obj, body: body}, nil
}

// rangeBody is the body of a ranged GET, whose errors it describes.
type rangeBody struct {
	c    *Client
	ctx  context.Context
	obj  Object
	body *minio.Object
}

func (r *rangeBody) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = r.c.readFailed(r.ctx, err, r.obj)
	}
	return n, err
}

func (r *rangeBody) Close() error { return r.body.Close() }

// ReaderAt returns a reader of obj's listed version, each ReadAt a
// ranged GET.
func (c *Client) ReaderAt(ctx context.Context, obj Object) io.ReaderAt {
	return &objectReader{ctx: ctx, c: c, obj: obj}
}

type objectReader struct {
	ctx context.Context
	c   *Client
	obj Object
}

func (r *objectReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.obj.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.obj.Size-off)
	if want == 0 {
		return 0, nil
	}
	body, err := r.c.Range(r.ctx, r.obj, off, want)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.ReadFull(body, p[:want])
	if err == nil && want < int64(len(p)) {
		err = io.EOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// readFailed describes a failed read of obj: one the service refused
// because obj's ETag is no longer the listed one names both ETags.
func (c *Client) readFailed(ctx context.Context, err error, obj Object) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == "PreconditionFailed" || resp.StatusCode == http.StatusPreconditionFailed {
		now := "none: it was deleted"
		if info, serr := c.mc.StatObject(ctx, obj.Bucket, obj.Key, minio.StatObjectOptions{}); serr == nil {
			now = fmt.Sprintf("%q", trimETag(info.ETag))
		}
		return fmt.Errorf("%w: object %s was written again while the job read it: it was listed with ETag %q and now has ETag %s: do not write inputs while a job reads them; run the job again",
			ErrChanged, obj.URL(), obj.ETag, now)
	}
	if resp.Code == "NoSuchKey" {
		return fmt.Errorf("%w: object %s was deleted while the job read it (it was listed with ETag %q): do not delete inputs while a job reads them; run the job again",
			ErrChanged, obj.URL(), obj.ETag)
	}
	return c.failed(err, "reading", obj.Location)
}

// failed describes a failed request about loc.
func (c *Client) failed(err error, doing string, loc Location) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchBucket":
		return errs.BadInput("", "bucket %q does not exist on %s: check the URL %s", loc.Bucket, c.endpoint, loc)
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "AllAccessDisabled", "AccountProblem":
		return fmt.Errorf("%w: %s refused %s %s (%s: %s): check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and the bucket's policy",
			ErrUnavailable, c.endpoint, doing, loc, resp.Code, resp.Message)
	case "":
		var uerr *url.Error
		cause := err
		if errors.As(err, &uerr) {
			cause = uerr.Err
		}
		return fmt.Errorf("%w: %s cannot be reached while %s %s (%v): check --s3-endpoint (or AWS_ENDPOINT_URL) and that the service is up",
			ErrUnavailable, c.endpoint, doing, loc, cause)
	}
	if resp.StatusCode >= http.StatusInternalServerError {
		// The service is there but failing (InternalError, SlowDown,
		// ServiceUnavailable), after the client's retries: unavailable,
		// like one that cannot be reached.
		return fmt.Errorf("%w: %s failed while %s %s (%d %s: %s): the service is failing; try again once it recovers",
			ErrUnavailable, c.endpoint, doing, loc, resp.StatusCode, resp.Code, resp.Message)
	}
	return fmt.Errorf("%s %s on %s: %s: %s", doing, loc, c.endpoint, resp.Code, resp.Message)
}

func trimETag(s string) string { return strings.Trim(s, `"`) }
