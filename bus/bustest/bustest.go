// Package bustest starts a real, embedded NATS server with JetStream for
// tests: on a random loopback port with its store in the test's temp dir.
package bustest

import (
	"context"
	"log/slog"
	"testing"

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
