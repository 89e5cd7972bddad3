// Package bustest starts a real, embedded NATS server with JetStream for
// tests: on a random loopback port with its store in the test's temp dir.
package bustest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
)

// Start starts a server and returns it with a connection on which Earshot's
// streams exist. Both are closed when the test ends.
func Start(t testing.TB) (*bus.Server, *bus.Conn) {
	t.Helper()
	srv, err := bus.StartServer(bus.ServerConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, Connect(t, srv)
}

// Connect opens another connection to srv, closed when the test ends.
func Connect(t testing.TB, srv *bus.Server) *bus.Conn {
	t.Helper()
	c, err := bus.Connect(context.Background(), srv.ClientURL(), t.Name(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// WaitBalanced waits until the processes' partitions cover every one of
// their group's partitions, each owned once and shared evenly, and returns
// how long that took; after within it fails the test.
func WaitBalanced(t testing.TB, within time.Duration, ps ...*bus.Partitions) time.Duration {
	t.Helper()
	n := ps[0].Count()
	start := time.Now()
	for {
		seen := map[int]int{}
		ok := true
		for _, p := range ps {
			owned := p.Owned()
			ok = ok && len(owned) >= n/len(ps) && len(owned) <= (n+len(ps)-1)/len(ps)
			for _, part := range owned {
				seen[part]++
			}
		}
		ok = ok && len(seen) == n
		for _, c := range seen {
			ok = ok && c == 1
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("partitions owned %v after %s; want each of %d once, shared evenly by %d processes", seen, within, n, len(ps))
		}
		time.Sleep(20 * time.Millisecond) // polling the processes' own state
	}
}
