// Package testcmdbuild builds the testcmd helper program for tests of
// other packages, once per test process.
package testcmdbuild
