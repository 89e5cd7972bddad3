package bus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	closed chan struct{}
}

// Connect connects to url as name, reconnecting while the server restarts,
// and makes sure Earshot's streams exist. extra options come last, so they
// win (nats.InProcessServer for an embedded server that does not listen).
func Connect(ctx context.Context, url, name string, log *slog.Logger, extra ...nats.Option) (*Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	closed := make(chan struct{})
	opts := []nats.Option{
		nats.Name(name),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect to nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream on %s: %w", url, err)
	}
	c := &Conn{NC: nc, JS: js, closed: closed}
	if err := EnsureStreams(ctx, js); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Publish publishes data to subject on JetStream and waits for the ack, so a
// message that returns nil is stored.
func (c *Conn) Publish(ctx context.Context, subject string, data []byte) error {
	if _, err := c.JS.Publish(ctx, subject, data); err != nil {
		return fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return nil
}

// Close drains the connection (subscriptions finish what they hold first)
// and waits until it is closed. It is safe to call more than once.
func (c *Conn) Close() {
	if err := c.NC.Drain(); err != nil {
		c.NC.Close()
	}
	<-c.closed
}
