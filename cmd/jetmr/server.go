package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/jetmr/jetmr/broker"
)

func newServerCommand() *cobra.Command {
	var (
		cfg                 broker.ServerConfig
		logLevel, logFormat string
	)
	cmd := &cobra.Command{
		Use:   "server [flags]",
		Short: "Run a NATS server with JetStream for workers and jobs on other machines",
		Long: `server runs a NATS server with JetStream that workers (jetmr worker) and
jobs (--nats URL) on other machines join. It prints the client URL once on
stdout, logs to stderr, and runs until SIGINT or SIGTERM.

Clients must authenticate: with --token (the URL carries it:
nats://TOKEN@HOST:PORT), --token-file or the JETMR_TOKEN variable, --user
and --password (nats://USER:PASSWORD@HOST:PORT), or --nkey public keys
(clients pass their seed file with --creds). With none of them the server
generates a token the first time, prints the URL with it once, and keeps it
in the store (file "token", mode 0600) for its next starts, which print the
URL without it; --rotate-token replaces it. Clients take a token from the
URL, from --token-file FILE or from JETMR_TOKEN.

--tls-cert and --tls-key make clients connect with TLS (they trust the
certificate with --tls-ca); adding --tls-ca here secures the cluster routes
with the same certificate as well.

Three nodes started with --cluster and --routes naming the other two form a
JetStream cluster; jobs then keep 3 copies of their streams with
--replicas 3 and ride out the loss of one node. The nodes authenticate each
other with --cluster-secret (default: the --token or --password).

A stock nats-server started with -js works as well.`,
		Example: `  jetmr server --listen 0.0.0.0:4222 --store /var/lib/jetmr
  jetmr server --listen 0.0.0.0:4222 --token "$TOKEN" --tls-cert server.pem --tls-key server-key.pem
  jetmr server --name n1 --listen 0.0.0.0:4222 --token "$TOKEN" --cluster 0.0.0.0:6222 --routes host2:6222,host3:6222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, logFormat, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cfg.Logger = log
			source := tokenSource(&cfg)
			srv, err := broker.StartServer(cfg)
			if err != nil {
				return err
			}
			log.Info().Str("server", srv.Name()).Msg("NATS server with JetStream ready; stop it with SIGINT or SIGTERM")
			if srv.TokenGenerated() {
				log.Info().Str("token_file", broker.TokenPath(srv.StoreDir())).Msg("generated a token and kept it; clients use the URL printed, or --token-file or JETMR_TOKEN with the bare URL")
				fmt.Fprintln(cmd.OutOrStdout(), srv.ClientURL()) // printed once: the new secret
			} else {
				if source == "" && srv.Token() != "" {
					source = "the token kept in " + broker.TokenPath(srv.StoreDir()) + " (replace it with --rotate-token)"
				}
				if source != "" {
					log.Info().Msg("clients authenticate with " + source)
				}
				fmt.Fprintln(cmd.OutOrStdout(), srv.Address())
			}
			<-cmd.Context().Done()
			log.Info().Msg("shutting down")
			srv.Shutdown()
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Listen, "listen", broker.DefaultListen, "client address HOST:PORT (0.0.0.0:4222 accepts other machines; port 0 picks a free one)")
	fs.StringVar(&cfg.StoreDir, "store", "", "where JetStream keeps its data (default: $XDG_STATE_HOME/jetmr/server)")
	fs.StringVar(&cfg.Name, "name", "", "server name, unique in a cluster (default: jetmr-HOSTNAME-PORT)")
	fs.StringVar(&cfg.Sync, "sync", broker.SyncInterval, "fsync policy: always (before every acknowledgement) or interval (NATS default, every 2 minutes)")
	fs.StringVar(&cfg.Token, "token", "", "token clients authenticate with (default: $JETMR_TOKEN, else generated once and kept in the store)")
	fs.StringVar(&cfg.TokenFile, "token-file", "", "read the token from the first line of this file (or set JETMR_TOKEN)")
	fs.BoolVar(&cfg.RotateToken, "rotate-token", false, "replace the token generated and kept in the store with a new one")
	fs.StringVar(&cfg.User, "user", "", "user name clients authenticate with (with --password)")
	fs.StringVar(&cfg.Password, "password", "", "password clients authenticate with (with --user)")
	fs.StringSliceVar(&cfg.NKeys, "nkey", nil, "public nkey (U...) of a user allowed in (repeatable); the client passes its seed file with --creds")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate (PEM) clients connect with")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "private key (PEM) of --tls-cert")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "CA (PEM) of the other cluster nodes' certificates: turns on TLS between nodes")
	fs.StringVar(&cfg.Cluster, "cluster", "", "cluster address HOST:PORT the other nodes connect to (default: no cluster)")
	fs.StringSliceVar(&cfg.Routes, "routes", nil, "cluster addresses HOST:PORT of the other nodes, comma-separated")
	fs.StringVar(&cfg.ClusterName, "cluster-name", "jetmr", "cluster name, the same on every node")
	fs.StringVar(&cfg.ClusterSecret, "cluster-secret", "", "password the cluster nodes authenticate each other with (default: --token or --password)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fs.StringVar(&logFormat, "log-format", "console", "log format of stderr: console (plain lines) or json")
	return cmd
}

// tokenSource fills in the token from JETMR_TOKEN when no credentials
// are given, and says where the token comes from, for the log; "" when
// the server keeps its own.
func tokenSource(cfg *broker.ServerConfig) string {
	switch {
	case cfg.Token != "":
		return "the --token given"
	case cfg.TokenFile != "":
		return "the token in " + cfg.TokenFile
	case cfg.User != "" || cfg.Password != "" || len(cfg.NKeys) > 0 || cfg.RotateToken:
		return ""
	}
	if tok := os.Getenv(tokenEnv); tok != "" {
		cfg.Token = tok
		return "the token in $" + tokenEnv
	}
	return ""
}
