package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go/jetstream"
)

// member is one process of a partitioned group: its own connection,
// leases and consumer.
type member struct {
	id    string
	conn  *bus.Conn
	parts *bus.Partitions
	stop  context.CancelFunc
	done  chan error
}

// handled records which member handled each message.
type handled struct {
	mu  sync.Mutex
	by  map[string][]string // message -> members
	got chan string
	// stall, when set, is a member whose handler holds every message
	// until it stops.
	stall string
}

func (h *handled) add(id, m string) {
	h.mu.Lock()
	h.by[m] = append(h.by[m], id)
	h.mu.Unlock()
	h.got <- m
}

const testTTL = time.Second

func join(t *testing.T, srv *bus.Server, id string, n int, h *handled) *member {
	t.Helper()
	conn := bustest.Connect(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	parts, err := bus.JoinPartitions(ctx, conn.JS, bus.PartitionConfig{Group: "test", Partitions: n, Identity: id, TTL: testTTL})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	m := &member{id: id, conn: conn, parts: parts, stop: cancel, done: make(chan error, 2)}
	go func() { m.done <- parts.Run(ctx) }()
	go func() {
		m.done <- bus.Consume(ctx, conn.JS, bus.ConsumerConfig{
			Stream: bus.StreamEvents, Durable: "part", Filter: []string{msg.AllCalls},
			Key: bus.ByCall, Workers: 2, Partitions: parts, AckWait: time.Minute,
		}, func(ctx context.Context, jm jetstream.Msg) error {
			if id == h.stall {
				<-ctx.Done()
				return ctx.Err()
			}
			h.add(id, string(jm.Data()))
			return nil
		})
	}()
	t.Cleanup(func() { m.shutdown(t) })
	return m
}

// shutdown stops the member cleanly (once).
func (m *member) shutdown(t *testing.T) {
	if m.stop == nil {
		return
	}
	m.stop()
	m.stop = nil
	for range 2 {
		if err := <-m.done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("member %s: %v", m.id, err)
		}
	}
}

// kill stops the member as kill -9 would: its connection drops, its leases
// are left to lapse.
func (m *member) kill() {
	m.conn.NC.Close()
	m.stop()
	m.stop = nil
	<-m.done
	<-m.done
}

// waitOwned waits until the members share the n partitions evenly.
func waitOwned(t *testing.T, n int, within time.Duration, ms ...*member) time.Duration {
	t.Helper()
	ps := make([]*bus.Partitions, len(ms))
	for i, m := range ms {
		ps[i] = m.parts
		if m.parts.Count() != n {
			t.Fatalf("member %s has %d partitions, want %d", m.id, m.parts.Count(), n)
		}
	}
	return bustest.WaitBalanced(t, within, ps...)
}

func publishCalls(t *testing.T, c *bus.Conn, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := c.Publish(context.Background(), msg.SubjectCall(fmt.Sprintf("call-%d", i)), fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *handled) wait(t *testing.T, n int, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		h.mu.Lock()
		got := len(h.by)
		h.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-h.got:
		case <-timeout:
			t.Fatalf("handled %d distinct messages, want %d", got, n)
		}
	}
}

func TestPartitionsSpreadAndTakeOver(t *testing.T) {
	srv, c := bustest.Start(t)
	h := &handled{by: map[string][]string{}, got: make(chan string, 1000)}
	a, b, d := join(t, srv, "a", 6, h), join(t, srv, "b", 6, h), join(t, srv, "c", 6, h)
	waitOwned(t, 6, 10*time.Second, a, b, d)
	for _, m := range []*member{a, b, d} {
		if n := len(m.parts.Owned()); n != 2 {
			t.Errorf("member %s owns %d of 6 partitions among 3, want 2", m.id, n)
		}
	}
	publishCalls(t, c, 0, 60)
	h.wait(t, 60, 10*time.Second)
	d.kill()
	took := waitOwned(t, 6, 10*time.Second, a, b)
	t.Logf("partitions taken over %s after the kill (lease TTL %s)", took.Round(time.Millisecond), testTTL)
	publishCalls(t, c, 60, 120)
	h.wait(t, 120, 10*time.Second)
	h.mu.Lock()
	defer h.mu.Unlock()
	for m, by := range h.by {
		// Before the kill a message may be handled again by the one who
		// took its partition over (at least once); never by two at once.
		if len(by) > 1 && !(len(by) == 2 && by[0] == "c") {
			t.Errorf("message %s handled by %v", m, by)
		}
	}
}

func TestPartitionsIdentityOfKilledProcessTaken(t *testing.T) {
	srv, _ := bustest.Start(t)
	h := &handled{by: map[string][]string{}, got: make(chan string, 10)}
	join(t, srv, "again", 2, h).kill()
	m := join(t, srv, "again", 2, h) // waits for the killed one's lease to lapse
	waitOwned(t, 2, 10*time.Second, m)
}

// A process that joins while another runs is refused when it takes the
// other's identity or another partition count.
func TestPartitionsRefuseAtJoin(t *testing.T) {
	srv, _ := bustest.Start(t)
	h := &handled{by: map[string][]string{}, got: make(chan string, 10)}
	join(t, srv, "running", 4, h)
	c := bustest.Connect(t, srv)
	for _, tc := range []struct {
		name, identity string
		partitions     int
		want           error
		says           []string
	}{
		{"same identity", "running", 4, bus.ErrIdentity, []string{`"running"`, "--identity"}},
		{"count changed", "other", 8, bus.ErrPartitionCount, []string{"--partitions 8", "use 4"}},
	} {
		_, err := bus.JoinPartitions(context.Background(), c.JS, bus.PartitionConfig{Group: "test", Partitions: tc.partitions, Identity: tc.identity, TTL: testTTL})
		ok := errors.Is(err, tc.want)
		for _, w := range tc.says {
			ok = ok && strings.Contains(err.Error(), w)
		}
		if !ok {
			t.Errorf("%s: %v; want %v saying %q", tc.name, err, tc.want, tc.says)
		}
	}
}

func TestPartitionsBadConfig(t *testing.T) {
	_, c := bustest.Start(t)
	for _, tc := range []struct {
		cfg  bus.PartitionConfig
		want error
	}{
		{bus.PartitionConfig{Group: "g", Identity: "has space"}, bus.ErrIdentity},
		{bus.PartitionConfig{Group: "g", Identity: ""}, bus.ErrIdentity},
		{bus.PartitionConfig{Group: "g", Identity: "x", Partitions: -1}, bus.ErrPartitionCount},
	} {
		if _, err := bus.JoinPartitions(context.Background(), c.JS, tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v; want %v", tc.cfg, err, tc.want)
		}
	}
}

// Messages a killed owner held are handled by the one who takes its
// partition over at once, not after their ack wait (a minute here).
func TestPartitionsTakeOverMessagesInHand(t *testing.T) {
	srv, c := bustest.Start(t)
	h := &handled{by: map[string][]string{}, got: make(chan string, 100), stall: "stuck"}
	live, stuck := join(t, srv, "live", 2, h), join(t, srv, "stuck", 2, h)
	waitOwned(t, 2, 10*time.Second, live, stuck)
	publishCalls(t, c, 0, 20) // about half in stuck's partition, held there
	var held int
	for i := range 20 {
		if stuck.parts.Owns(fmt.Sprintf("call-%d", i)) {
			held++
		}
	}
	h.wait(t, 20-held, 10*time.Second)
	start := time.Now()
	stuck.kill()
	h.wait(t, 20, 15*time.Second)
	t.Logf("%d messages held by the killed owner handled %s after the kill (ack wait 1m)", held, time.Since(start).Round(time.Millisecond))
}
