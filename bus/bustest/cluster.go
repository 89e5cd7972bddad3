package bustest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
)

// Cluster is three embedded NATS servers clustered on random loopback
// ports, with JetStream file storage in the test's temp dir; nodes can be
// stopped and restarted with their store, as a machine that goes away and
// comes back.
type Cluster struct {
	t     testing.TB
	nodes []*bus.Server
	cfgs  []bus.ServerConfig
}

// ClusterOption changes the nodes' configuration.
type ClusterOption func(*bus.ServerConfig)

// WithoutJetStream starts the cluster without JetStream.
func WithoutJetStream() ClusterOption { return func(c *bus.ServerConfig) { c.NoJetStream = true } }

// StartCluster starts a 3-node cluster and waits until its JetStream has a
// leader every node is current with (unless started without JetStream).
// The nodes are shut down when the test ends.
func StartCluster(t testing.TB, opts ...ClusterOption) *Cluster {
	t.Helper()
	c := &Cluster{t: t, nodes: make([]*bus.Server, 3), cfgs: make([]bus.ServerConfig, 3)}
	dir, err := os.MkdirTemp("", "earshot-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeStores(t, dir) })
	t.Cleanup(c.close) // before the stores go: cleanups run last first
	// JetStream in a cluster needs routes configured on every node, so the
	// route ports are chosen before any node starts. A port free a moment
	// ago can be taken meanwhile (as the source port of any outgoing
	// connection on the machine): then the cluster starts again on other
	// ports.
	for attempt := 1; attempt <= 3; attempt++ {
		if err = c.start(filepath.Join(dir, fmt.Sprintf("try%d", attempt)), opts); err == nil || !errors.Is(err, bus.ErrServerStart) {
			break
		}
		c.close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.cfgs[0].NoJetStream {
		return c
	}
	c.WaitReady()
	return c
}

// start starts the nodes with their stores under dir.
func (c *Cluster) start(dir string, opts []ClusterOption) error {
	routePorts := freePorts(c.t, len(c.nodes))
	for i := range c.nodes {
		cfg := bus.ServerConfig{
			Name:    fmt.Sprintf("n%d", i+1),
			DataDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			Cluster: &bus.ClusterConfig{Name: "earshot-test", Listen: routePorts[i]},
		}
		for j, p := range routePorts {
			if j != i {
				cfg.Cluster.Routes = append(cfg.Cluster.Routes, "nats-route://"+p)
			}
		}
		for _, o := range opts {
			o(&cfg)
		}
		srv, err := bus.StartServer(cfg)
		if err != nil {
			return fmt.Errorf("cluster node %s (routes on %s): %w", cfg.Name, routePorts[i], err)
		}
		c.nodes[i] = srv
		// A restart takes the same client port, so the clients' URLs
		// find the node again.
		cfg.Listen = hostPort(c.t, srv.ClientURL())
		c.cfgs[i] = cfg
	}
	return nil
}

// freePorts are n loopback host:ports free a moment ago.
func freePorts(t testing.TB, n int) []string {
	ports := make([]string, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().String()
	}
	return ports
}

func hostPort(t testing.TB, u string) string {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}

// WaitReady waits until every running node's JetStream is current with the
// cluster's leader.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready := true
		for _, n := range c.nodes {
			if n != nil && !n.JetStreamReady() {
				ready = false
			}
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal("nats cluster: jetstream not ready after 30s")
		}
		time.Sleep(20 * time.Millisecond) // polling the servers' own state
	}
}

// URL is the client URL of every node, comma separated, as --nats takes it.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.cfgs))
	for i, cfg := range c.cfgs {
		urls[i] = "nats://" + cfg.Listen
	}
	return strings.Join(urls, ",")
}

// Node is the i-th node (0 to 2), nil while it is stopped.
func (c *Cluster) Node(i int) *bus.Server { return c.nodes[i] }

// Stop shuts node i down, as a machine lost.
func (c *Cluster) Stop(i int) {
	c.nodes[i].Close()
	c.nodes[i] = nil
}

// Restart starts the stopped node i again on its ports with its store and
// waits until it is current with the cluster.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	cfg := c.cfgs[i]
	srv, err := bus.StartServer(cfg)
	if err != nil {
		c.t.Fatalf("restart cluster node %s: %v", cfg.Name, err)
	}
	c.nodes[i] = srv
	c.WaitReady()
}

// removeStores removes the nodes' stores. A node's file store may still
// finish a write after its server has shut down (nats-server flushes a
// stream's last block from a goroutine of its own), and t.TempDir's
// cleanup failed the test on the file that appeared meanwhile ("directory
// not empty"), so the removal is tried again until it succeeds.
func removeStores(t testing.TB, dir string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.RemoveAll(dir)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("nats cluster: removing the stores: %v", err)
			return
		}
		time.Sleep(50 * time.Millisecond) // the server's last flush
	}
}

func (c *Cluster) close() {
	for i, n := range c.nodes {
		if n != nil {
			n.Close()
			c.nodes[i] = nil
		}
	}
}

// ConnectCluster connects to the cluster (every node's URL) with Earshot's
// streams at replicas (0: the default for the cluster); closed when the
// test ends.
func ConnectCluster(t testing.TB, c *Cluster, replicas int) *bus.Conn {
	t.Helper()
	conn, err := bus.Connect(context.Background(), c.URL(), t.Name(), slog.New(slog.DiscardHandler), bus.WithReplicas(replicas))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}
