package main

import (
	"os"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/jetmr/jetmr/broker"
)

// natsFlags say how a client reaches an external NATS server or cluster:
// every command that talks to NATS registers them.
type natsFlags struct {
	url       string
	creds     string
	tokenFile string
	tlsCA     string
}

// tokenEnv is the environment variable a token comes from when the --nats
// URL, --token-file and --creds give none.
const tokenEnv = "JETMR_TOKEN"

func (f *natsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "nats", "", "URL of an external NATS server or cluster with JetStream, e.g. nats://TOKEN@host:4222 or several joined by commas (default: embedded)")
	fs.StringVar(&f.creds, "creds", "", "with --nats: authenticate with this NATS credentials file (.creds) or nkey seed file")
	fs.StringVar(&f.tokenFile, "token-file", "", "with --nats: authenticate with the token on the first line of this file (default: $JETMR_TOKEN, when the URL holds no credentials)")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "with --nats: trust the server's TLS certificate when signed by this CA (PEM file)")
}

// brokerConfig is the broker configuration of these flags; the caller
// fills in the embedded server's settings.
func (f *natsFlags) brokerConfig(log zerolog.Logger) broker.Config {
	return broker.Config{URL: f.url, Creds: f.creds, TokenFile: f.tokenFile, Token: os.Getenv(tokenEnv), TLSCA: f.tlsCA, Logger: log}
}

// replicasFlag checks --replicas: 1, or 3 on a cluster.
func replicasFlag(n int, natsURL string) error {
	switch {
	case n != 1 && n != 3:
		return usageErr("--replicas %d is not valid: use 1, or 3 on a NATS cluster of at least 3 nodes", n)
	case n == 3 && natsURL == "":
		return usageErr("--replicas 3 needs a NATS cluster: pass its URL with --nats")
	}
	return nil
}
