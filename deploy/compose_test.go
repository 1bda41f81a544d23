// Package deploy holds the deployment files of jetmr (the NATS
// configuration of docker-compose.yml); its tests check that the compose
// file and the NATS configuration agree, since no Docker engine runs in CI.
package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"
)

// compose is the part of docker-compose.yml the tests read.
type compose struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   []string          `yaml:"depends_on"`
	Profiles    []string          `yaml:"profiles"`
}

// Secrets the tests put in the environment, as a user would.
const (
	testToken  = "test-token-1234"
	testSecret = "test-cluster-secret"
)

var natsServices = []string{"nats-1", "nats-2", "nats-3"}

func loadCompose(t *testing.T) compose {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("parsing docker-compose.yml: %v", err)
	}
	return c
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[?-][^}]*)?\}`)

// interpolate expands ${VAR}, ${VAR:?message} and ${VAR:-default} the way
// docker compose does, with the test's secrets.
func interpolate(t *testing.T, s string) string {
	t.Helper()
	env := map[string]string{"JETMR_TOKEN": testToken, "JETMR_CLUSTER_SECRET": testSecret}
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		name := interpolation.FindStringSubmatch(m)[1]
		v, ok := env[name]
		if !ok {
			t.Errorf("docker-compose.yml uses ${%s}, which the README does not ask users to set", name)
		}
		return v
	})
}

// natsOptions reads the configuration a NATS service of the compose file
// runs with, as nats-server itself would.
func natsOptions(t *testing.T, name string, svc service) *server.Options {
	t.Helper()
	if !strings.HasPrefix(svc.Image, "nats:") {
		t.Errorf("%s runs image %q, want the official nats image", name, svc.Image)
	}
	i := slices.Index(svc.Command, "--config")
	if i < 0 || i+1 == len(svc.Command) {
		t.Fatalf("%s: command %q does not name a --config file", name, svc.Command)
	}
	conf := hostPath(t, name, svc.Volumes, svc.Command[i+1])
	for k, v := range svc.Environment {
		t.Setenv(k, interpolate(t, v))
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("%s: nats-server rejects %s: %v", name, conf, err)
	}
	return opts
}

// hostPath is the file in the repository mounted at path in the container.
func hostPath(t *testing.T, name string, volumes []string, path string) string {
	t.Helper()
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == path && strings.HasPrefix(parts[0], "./") {
			return filepath.Join("..", parts[0])
		}
	}
	t.Fatalf("%s: no volume mounts a file of the repository at %s", name, path)
	return ""
}

func TestComposeNATSCluster(t *testing.T) {
	c := loadCompose(t)
	var clusterName string
	for _, name := range natsServices {
		svc, ok := c.Services[name]
		if !ok {
			t.Fatalf("docker-compose.yml has no service %s", name)
		}
		opts := natsOptions(t, name, svc)
		if !opts.JetStream {
			t.Errorf("%s: JetStream is not enabled", name)
		}
		if opts.ServerName != name {
			t.Errorf("%s: server_name %q, want the service name", name, opts.ServerName)
		}
		if opts.Authorization != testToken {
			t.Errorf("%s: clients authenticate with %q, want the token of JETMR_TOKEN", name, opts.Authorization)
		}
		if opts.Cluster.Name == "" || opts.Cluster.Port != 6222 {
			t.Errorf("%s: cluster %q on port %d, want a named cluster on 6222", name, opts.Cluster.Name, opts.Cluster.Port)
		}
		if clusterName != "" && opts.Cluster.Name != clusterName {
			t.Errorf("%s: cluster name %q, the others use %q", name, opts.Cluster.Name, clusterName)
		}
		clusterName = opts.Cluster.Name
		if opts.Cluster.Username == "" || opts.Cluster.Password != testSecret {
			t.Errorf("%s: routes authenticate as %q/%q, want a user with the password of JETMR_CLUSTER_SECRET",
				name, opts.Cluster.Username, opts.Cluster.Password)
		}
		var peers []string
		for _, r := range opts.Routes {
			pw, _ := r.User.Password()
			if r.User.Username() != opts.Cluster.Username || pw != opts.Cluster.Password {
				t.Errorf("%s: route to %s does not carry the cluster's user and password", name, r.Host)
			}
			peers = append(peers, r.Host)
		}
		slices.Sort(peers)
		var want []string
		for _, other := range natsServices {
			if other != name {
				want = append(want, other+":6222")
			}
		}
		if !slices.Equal(peers, want) {
			t.Errorf("%s: routes to %q, want the other two nodes %q", name, peers, want)
		}
	}
}

// The workers and the job example join all three nodes with the token.
func TestComposeWorkersJoinCluster(t *testing.T) {
	c := loadCompose(t)
	var wantURLs []string
	for _, n := range natsServices {
		wantURLs = append(wantURLs, fmt.Sprintf("nats://%s@%s:4222", testToken, n))
	}
	for _, name := range []string{"worker", "job"} {
		svc, ok := c.Services[name]
		if !ok {
			t.Fatalf("docker-compose.yml has no service %s", name)
		}
		if svc.Build == nil {
			t.Errorf("%s: not built from the repository's Dockerfile", name)
		}
		slices.Sort(svc.DependsOn)
		if !slices.Equal(svc.DependsOn, natsServices) {
			t.Errorf("%s depends on %q, want %q", name, svc.DependsOn, natsServices)
		}
		i := slices.Index(svc.Command, "--nats")
		if i < 0 || i+1 == len(svc.Command) {
			t.Fatalf("%s: command %q has no --nats URL", name, svc.Command)
		}
		urls := strings.Split(interpolate(t, svc.Command[i+1]), ",")
		slices.Sort(urls)
		if !slices.Equal(urls, wantURLs) {
			t.Errorf("%s: --nats %q, want every node with the token: %q", name, urls, wantURLs)
		}
	}
	if cmd := c.Services["worker"].Command; len(cmd) == 0 || cmd[0] != "worker" {
		t.Errorf("the worker service runs %q, want jetmr worker", cmd)
	}
	job := c.Services["job"]
	if !slices.Contains(job.Profiles, "job") {
		t.Errorf("the job service is not in a profile of its own: docker compose up would run it")
	}
	if i := slices.Index(job.Command, "--replicas"); i < 0 || job.Command[i+1] != "3" {
		t.Errorf("the job example runs %q, want --replicas 3 on the 3-node cluster", job.Command)
	}
	if _, err := os.Stat(filepath.Join("..", "Dockerfile")); err != nil {
		t.Errorf("the services are built from a Dockerfile: %v", err)
	}
}
