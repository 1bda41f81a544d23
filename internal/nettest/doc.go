// Package nettest helps tests of jetmr's networked NATS: free loopback
// ports, throwaway TLS certificates, a stock nats-server, and a relay to a
// server that can fall silent as a suspended one does. It is for tests
// only: its goroutines end with the test.
package nettest
