// Package migratetest holds the test fixtures of jetmr's migration tests:
// fresh SQLite and PostgreSQL databases with a table of generated keys,
// and checks that every row was touched exactly once and that the
// progress table records each batch once. It is for tests only.
package migratetest
