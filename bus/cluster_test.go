package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go/jetstream"
)

// streamReplicas is how many servers keep stream name.
func streamReplicas(t *testing.T, js jetstream.JetStream, name string) int {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().Config.Replicas
}

func TestClusterDefaultsToThreeReplicas(t *testing.T) {
	cl := bustest.StartCluster(t)
	c := bustest.ConnectCluster(t, cl, 0)
	if c.Replicas() != 3 {
		t.Fatalf("replicas %d on a 3-node cluster, want 3", c.Replicas())
	}
	for _, cfg := range bus.StreamConfigs() {
		if r := streamReplicas(t, c.JS, cfg.Name); r != 3 {
			t.Errorf("stream %s: %d replicas, want 3", cfg.Name, r)
		}
	}
	_, single := bustest.Start(t)
	if single.Replicas() != 1 {
		t.Errorf("replicas %d on a single server, want 1", single.Replicas())
	}
}

func TestReplicasRefused(t *testing.T) {
	cl := bustest.StartCluster(t)
	srv, _ := bustest.Start(t)
	for _, tc := range []struct {
		name, url string
		replicas  int
		want      string
	}{
		{"more than the cluster", cl.URL(), 5, "fewer JetStream servers"},
		{"single server", srv.ClientURL(), 3, "single server, not a cluster"},
		{"negative", srv.ClientURL(), -1, "want 1 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := bus.Connect(context.Background(), tc.url, "t", nil, bus.WithReplicas(tc.replicas))
			if err == nil {
				c.Close()
				t.Fatal("connected; want the replicas refused")
			}
			if !errors.Is(err, bus.ErrReplicas) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprint(tc.replicas)) {
				t.Fatalf("error %q; want ErrReplicas naming %d and saying %q", err, tc.replicas, tc.want)
			}
		})
	}
}

func TestClusterWithoutJetStreamRefused(t *testing.T) {
	cl := bustest.StartCluster(t, bustest.WithoutJetStream())
	c, err := bus.Connect(context.Background(), cl.URL(), "t", nil)
	if err == nil {
		c.Close()
		t.Fatal("connected to a cluster without JetStream")
	}
	if !strings.Contains(err.Error(), "no JetStream") {
		t.Fatalf("error %q; want it to say the cluster has no JetStream", err)
	}
}

func TestReplicasChangedInPlace(t *testing.T) {
	cl := bustest.StartCluster(t)
	ctx := context.Background()
	c1 := bustest.ConnectCluster(t, cl, 1)
	if r := streamReplicas(t, c1.JS, bus.StreamEvents); r != 1 {
		t.Fatalf("--replicas 1: stream has %d", r)
	}
	if err := c1.Publish(ctx, msg.SubjectCall("kept"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.JS.CreateOrUpdateConsumer(ctx, bus.StreamEvents, jetstream.ConsumerConfig{Durable: "d", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "EARSHOT_TEST", Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	// Without --replicas a process keeps what the deployment has.
	if c := bustest.ConnectCluster(t, cl, 0); c.Replicas() != 1 {
		t.Fatalf("no --replicas on a deployment of 1: got %d", c.Replicas())
	}
	c3 := bustest.ConnectCluster(t, cl, 3)
	for _, cfg := range bus.StreamConfigs() {
		if r := streamReplicas(t, c3.JS, cfg.Name); r != 3 {
			t.Errorf("stream %s: %d replicas after --replicas 3", cfg.Name, r)
		}
	}
	if r := streamReplicas(t, c3.JS, "KV_EARSHOT_TEST"); r != 3 {
		t.Errorf("key-value store: %d replicas after --replicas 3", r)
	}
	cons, err := c3.JS.Consumer(ctx, bus.StreamEvents, "d")
	if err != nil {
		t.Fatal(err)
	}
	if r := cons.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("durable consumer: %d replicas after --replicas 3", r)
	}
	events, err := c3.JS.Stream(ctx, bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := events.GetLastMsgForSubject(ctx, msg.SubjectCall("kept")); err != nil || string(m.Data) != "x" {
		t.Fatalf("message published before the change: %v", err)
	}
}

// publishRetrying publishes until the cluster stores the message, as a
// stage does through an election: the message id keeps a retry from
// storing it twice.
func publishRetrying(t *testing.T, c *bus.Conn, subject, data string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.PublishWithID(ctx, subject, []byte(data), data)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish %s: %v", data, err)
		}
	}
}

func TestClusterSurvivesNodeLoss(t *testing.T) {
	cl := bustest.StartCluster(t)
	c := bustest.ConnectCluster(t, cl, 3)
	got := make(chan string, 100)
	stop := consume(t, c, bus.ConsumerConfig{Stream: bus.StreamEvents, Durable: "survivor", Filter: []string{msg.AllTranscripts}},
		func(_ context.Context, m jetstream.Msg) error { got <- string(m.Data()); return nil })
	defer stop()
	seen := map[string]int{}
	expect := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			publishRetrying(t, c, msg.SubjectTranscript("c1"), fmt.Sprintf("m%d", i))
		}
		timeout := time.After(30 * time.Second)
		for i := from; i < to; {
			select {
			case s := <-got:
				if seen[s]++; seen[s] == 1 {
					i++
				}
			case <-timeout:
				t.Fatalf("consumed %d distinct messages, want %d", len(seen), to)
			}
		}
	}
	expect(0, 10)
	// Lose the node that leads the stream: the harshest loss.
	s, err := c.JS.Stream(context.Background(), bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	leader := s.CachedInfo().Cluster.Leader
	lost := int(leader[len(leader)-1]-'0') - 1
	cl.Stop(lost)
	expect(10, 20)
	cl.Restart(lost)
	expect(20, 30)
	for m, n := range seen {
		if n > 1 {
			t.Logf("%s consumed %d times (redelivered across the loss; handlers are idempotent)", m, n)
		}
	}
	if len(seen) != 30 {
		t.Fatalf("consumed %d distinct messages, want 30", len(seen))
	}
}
