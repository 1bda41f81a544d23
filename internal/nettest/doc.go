// Package nettest helps tests of jetmr's networked NATS: free loopback
// ports, throwaway TLS certificates and a stock nats-server. It is for
// tests only.
package nettest
