package broker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/nettest"
	"github.com/jetmr/jetmr/schema"
)

// startCluster starts three jetmr servers forming a JetStream cluster on
// loopback and returns them by name with the URL of all three.
func startCluster(t *testing.T, cfg broker.ServerConfig) (map[string]*broker.Server, string) {
	t.Helper()
	routes := make([]string, 3)
	for i := range routes {
		routes[i] = fmt.Sprintf("127.0.0.1:%d", nettest.FreePort(t))
	}
	servers := map[string]*broker.Server{}
	var urls []string
	for i, own := range routes {
		c := cfg
		c.Name = fmt.Sprintf("n%d", i+1)
		c.Cluster = own
		for _, r := range routes {
			if r != own {
				c.Routes = append(c.Routes, r)
			}
		}
		s := startServer(t, c)
		servers[c.Name] = s
		urls = append(urls, s.ClientURL())
	}
	return servers, strings.Join(urls, ",")
}

// The leader of an R3 task stream goes away: no stored task is lost, and
// clients carry on with the other two nodes, even one that was given the
// lost node's URL only (it discovered the others).
func TestClusterLeaderFailover(t *testing.T) {
	t.Parallel()
	servers, urls := startCluster(t, broker.ServerConfig{Token: "tok"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := open(t, broker.Config{URL: urls, Replicas: 3, ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	jobs, err := b.Jobs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := jobs.Status(ctx); err != nil || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatalf("jobs bucket: %v, want 3 replicas", err)
	}
	streams, err := b.ProvisionJob(ctx, "ha1", broker.ProvisionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(b *broker.Broker, i int) {
		t.Helper()
		for {
			// Bound each attempt: a publish to a leader that has just gone
			// away gets no answer.
			attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
			_, err := b.JS.Publish(attempt, schema.TaskSubject("ha1"), []byte{byte(i)}, jsMsgID(schema.TaskMsgID("ha1", uint64(i))))
			cancelAttempt()
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("publishing task %d: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond) // the cluster elects a new leader
		}
	}
	for i := range 10 {
		publish(b, i)
	}
	info, err := streams.Tasks.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("task stream cluster info %+v, want a leader and 2 replicas", info.Cluster)
	}
	leader := info.Cluster.Leader
	only, err := open(t, broker.Config{URL: servers[leader].ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	servers[leader].Shutdown()
	for i := 10; i < 20; i++ {
		publish(b, i)
		publish(only, i+10)
	}
	if name := only.NC.ConnectedServerName(); name == leader || name == "" {
		t.Errorf("a client of %s alone is connected to %q after it went away, want another node", leader, name)
	}
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		info, err = streams.Tasks.Info(attempt)
		cancelAttempt()
		if err == nil && info.Cluster.Leader != "" && info.Cluster.Leader != leader {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no new leader after %s went away: %v", leader, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if info.State.Msgs != 30 {
		t.Fatalf("after the failover the task stream holds %d tasks, want 30", info.State.Msgs)
	}
}

// With --tls-ca the nodes talk TLS to each other, and clients that trust
// the CA use the cluster.
func TestClusterTLS(t *testing.T) {
	t.Parallel()
	files := nettest.WriteTLS(t, t.TempDir())
	_, urls := startCluster(t, broker.ServerConfig{Token: "tok", TLSCert: files.Cert, TLSKey: files.Key, TLSCA: files.CA})
	b, err := open(t, broker.Config{URL: urls, TLSCA: files.CA, Replicas: 3, ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	streams, err := b.ProvisionJob(ctx, "tls1", broker.ProvisionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := streams.Tasks.Info(ctx)
	if err != nil || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("task stream over a TLS cluster: %v, cluster %+v; want a leader and 2 replicas", err, info)
	}
}
