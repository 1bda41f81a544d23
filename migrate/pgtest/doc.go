// Package pgtest starts throwaway PostgreSQL servers for tests, from the
// server binaries installed on the machine (initdb, postgres, pg_ctl).
//
// The contract:
//
//   - [New] initialises a fresh cluster in a new temporary directory and
//     starts it on a free loopback port (127.0.0.1 only, its Unix socket in
//     the same directory, fsync off), and returns once it accepts
//     connections. [Server.Stop] stops it with "pg_ctl stop -m immediate"
//     and removes the directory. The postmaster is a child of the test
//     process and is killed with it if the test binary dies, so a crashed
//     test leaves no server behind.
//   - PostgreSQL refuses to run as root. When the test runs as root the
//     binaries run as the unprivileged user [Config.RunAs] ("nobody" by
//     default) through the kernel's credentials of the child process
//     (syscall.Credential), and the temporary directory is chowned to that
//     user; no runuser, setpriv or sudo is needed.
//   - The superuser "postgres" connects over TCP without a password; every
//     other role must give its password (scram-sha-256), so tests can check
//     authentication failures with [Server.CreateRole].
//   - [Start] and [Shared] are the testing helpers: when the binaries are
//     missing they skip the test with a message naming what to install,
//     unless $CI or $JETMR_PGTEST_REQUIRE is set, in which case they fail it:
//     CI must really run the PostgreSQL tests. They log the binaries they
//     use and how long the server took to start.
package pgtest
