package job_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/nettest"
	"github.com/jetmr/jetmr/job"
	"github.com/jetmr/jetmr/schema"
)

// startFreshCluster starts three servers forming a JetStream cluster on
// loopback and returns the URL of all three; it does not wait for a
// JetStream leader: the job that follows must cope with a cluster that is
// still forming.
func startFreshCluster(t *testing.T) string {
	t.Helper()
	for try := 1; ; try++ {
		url, err := tryFreshCluster(t)
		if err == nil {
			return url
		}
		// A free port may be taken by another test between the check
		// and the listen: start again on other ports.
		if !strings.Contains(err.Error(), "address already in use") || try == 3 {
			t.Fatal(err)
		}
	}
}

// tryFreshCluster starts the three servers of startFreshCluster, or none.
func tryFreshCluster(t *testing.T) (string, error) {
	routes := make([]string, 3)
	for i := range routes {
		routes[i] = fmt.Sprintf("127.0.0.1:%d", nettest.FreePort(t))
	}
	var urls []string
	var started []*broker.Server
	for i, own := range routes {
		var others []string
		for _, r := range routes {
			if r != own {
				others = append(others, r)
			}
		}
		s, err := broker.StartServer(broker.ServerConfig{
			Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Name: fmt.Sprintf("n%d", i+1),
			Token: "tok", Cluster: own, Routes: others,
		})
		if err != nil {
			for _, s := range started {
				s.Shutdown()
			}
			return "", err
		}
		started = append(started, s)
		t.Cleanup(s.Shutdown)
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ","), nil
}

// freshClusterTimeout bounds a job on a fresh cluster.
const freshClusterTimeout = 90 * time.Second

// TestJobsOnFreshClusters runs one job on each of 20 fresh 3-node
// clusters, right after the servers start: no job may be failed as "tasks
// lost" while the cluster elects its leaders and the results consumer is
// slow to start, and every output must equal the sequential run.
func TestJobsOnFreshClusters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 20 clusters")
	}
	t.Parallel()
	in := generatedText(t, "fresh-cluster.txt", 256<<10, 7, true)
	argv := []string{"tr", "a-z", "A-Z"}
	want := sequentialPipe(t, argv, inputFiles(t, in))
	const clusters, atOnce = 20, 2
	sem := make(chan struct{}, atOnce)
	var wg sync.WaitGroup
	for i := range clusters {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.Run(fmt.Sprintf("cluster-%02d", i), func(t *testing.T) {
				url := startFreshCluster(t)
				cfg := baseConfig(t)
				cfg.Kind, cfg.Inputs, cfg.Command, cfg.ChunkSize = schema.KindPipe, []string{in}, argv, 32<<10
				// Its meta leader too: the first JetStream request waits for it.
				cfg.Broker = broker.Config{URL: url, Token: "tok", Replicas: 3, ConnectTimeout: freshClusterTimeout}
				cfg.LocalWorkers, cfg.Slots = 2, 2
				cfg.Output = filepath.Join(t.TempDir(), "out.txt")
				// A cluster elects its leaders slowly on a loaded machine:
				// the job may wait for them, but must not fail.
				ctx, cancel := context.WithTimeout(context.Background(), freshClusterTimeout)
				defer cancel()
				if _, err := job.Run(ctx, cfg); err != nil {
					t.Fatalf("job on a fresh cluster: %v", err)
				}
				got, err := os.ReadFile(cfg.Output)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("output (%d bytes) differs from the sequential run (%d bytes)", len(got), len(want))
				}
			})
		}()
	}
	wg.Wait()
}
