// Package s3test starts an S3-protocol server on loopback for tests: an
// in-memory object store that answers ranged GETs, multipart uploads and
// listings, and that, beyond the store it wraps, checks that each request
// is signed with the test's access key, honours If-Match on reads and
// decodes signed (aws-chunked) part uploads, as Amazon S3 does. It is for tests only.
package s3test
