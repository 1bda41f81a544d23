// Package objstore reads a job's inputs from, and writes its outputs to,
// S3-compatible object stores (Amazon S3, MinIO, Ceph, Cloudflare R2),
// named by s3://bucket/key URLs.
//
// The contract:
//
//   - [IsURL] tells an s3:// URL from a path; [Parse] splits one into its
//     [Location], refusing a URL without a bucket with an error wrapping
//     errs.ErrBadInput.
//   - [Resolve] finds the service from [Settings] and the standard AWS
//     environment: the endpoint from Settings, AWS_ENDPOINT_URL_S3 or
//     AWS_ENDPOINT_URL (Amazon S3 otherwise), the region from Settings,
//     AWS_REGION or AWS_DEFAULT_REGION. [Open] connects a [Client] to it
//     with credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
//     (and AWS_SESSION_TOKEN), else from the shared config and
//     credentials files (AWS_PROFILE, AWS_CONFIG_FILE,
//     AWS_SHARED_CREDENTIALS_FILE), else anonymously. Credentials are
//     never part of an error, a log line or a job record.
//   - [Client.List] lists the objects a URL names, a key or every key
//     under a prefix, in lexical order, each with its size and ETag.
//     [Client.ReaderAt] reads an object by ranged GETs that carry
//     If-Match with its listed ETag, so that an object written again
//     after it was listed fails the read with an error wrapping
//     [ErrChanged] that names the object and both ETags, rather than
//     mixing two versions.
//   - [Client.Exists] and [Client.Upload] write outputs: Upload stores a
//     local file under a key (one PUT when small, a multipart upload
//     otherwise), so the object appears whole or not at all.
//   - Errors: a service that cannot be reached, that refuses the
//     credentials or that answers with a server error (5xx), wraps
//     [ErrUnavailable] and names the endpoint and the reason, after a few
//     quick retries; a bucket that does not exist,
//     or a prefix with no objects, wraps errs.ErrBadInput and names it.
//
// The package starts no goroutine of its own; the S3 client's requests
// end with the calls that make them.
package objstore
