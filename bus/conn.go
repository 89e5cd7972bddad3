package bus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	closed   chan struct{}
	replicas int
}

// Option changes how Connect connects.
type Option func(*connectOptions)

type connectOptions struct {
	nats     []nats.Option
	replicas int
}

// WithNATS adds options to the NATS connection's; they come last, so they
// win.
func WithNATS(opts ...nats.Option) Option {
	return func(o *connectOptions) { o.nats = append(o.nats, opts...) }
}

// WithReplicas sets how many servers of a NATS cluster keep each of
// Earshot's streams, durable consumers, key-value and object stores,
// updating existing ones in place; 0, the default, keeps what exists and
// creates what is missing with the default for the cluster (see
// EnsureStreams).
func WithReplicas(n int) Option { return func(o *connectOptions) { o.replicas = n } }

// MinServerVersion is the oldest NATS server Earshot runs on, with
// JetStream: its consumers filter on several subjects, which came in 2.10.
const MinServerVersion = "2.10.0"

// Connect connects to url as name, reconnecting while the server restarts,
// checks that the server is MinServerVersion or newer with JetStream, and
// makes sure Earshot's streams exist with the replicas asked for.
func Connect(ctx context.Context, url, name string, log *slog.Logger, options ...Option) (*Conn, error) {
	var co connectOptions
	for _, o := range options {
		o(&co)
	}
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
	nc, err := nats.Connect(url, append(opts, co.nats...)...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect to nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(ackTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream on %s: %w", url, err)
	}
	c := &Conn{NC: nc, JS: js, closed: closed}
	if err := checkServer(ctx, nc, js); err != nil {
		nc.Close()
		return nil, err
	}
	r, err := EnsureStreams(ctx, js, co.replicas)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.replicas = r
	return c, nil
}

// checkServer refuses a server older than MinServerVersion or without
// JetStream, saying what Earshot needs.
func checkServer(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
	v := nc.ConnectedServerVersion()
	if !versionAtLeast(v, MinServerVersion) {
		return fmt.Errorf("bus: nats server %s is version %s; earshot needs NATS %s or newer, with JetStream", nc.ConnectedUrlRedacted(), v, MinServerVersion)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return fmt.Errorf("bus: nats server %s (version %s) has no JetStream for this account (%v): start it with JetStream (nats-server -js); earshot needs NATS %s or newer, with JetStream",
				nc.ConnectedUrlRedacted(), v, err, MinServerVersion)
		}
		return fmt.Errorf("bus: jetstream on %s: %w", nc.ConnectedUrlRedacted(), err)
	}
	return nil
}

// versionAtLeast reports whether the server version v (2.10.7,
// 2.11.0-RC.1) is least or newer, by major, minor and patch number.
func versionAtLeast(v, least string) bool {
	have, want := versionNumbers(v), versionNumbers(least)
	for i := range have {
		if have[i] != want[i] {
			return have[i] > want[i]
		}
	}
	return true
}

func versionNumbers(v string) [3]int {
	var n [3]int
	v, _, _ = strings.Cut(strings.TrimPrefix(v, "v"), "-")
	for i, p := range strings.SplitN(v, ".", 3) {
		n[i], _ = strconv.Atoi(p)
	}
	return n
}

// Publish publishes data to subject on JetStream and waits for the ack, so a
// message that returns nil is stored. Inside the handler of a consumer
// keyed by call (ConsumerConfig.Key) it does not wait: the consumer acks
// the handled message only once its publishes are stored, and hands it
// back for redelivery when one fails.
func (c *Conn) Publish(ctx context.Context, subject string, data []byte) error {
	return c.PublishWithID(ctx, subject, data, "")
}

// PublishWithID publishes like Publish with msgID, when not empty, as the
// message's Nats-Msg-Id: a publish retried after its ack was lost is
// stored once, as long as the retry comes within the stream's duplicate
// window.
func (c *Conn) PublishWithID(ctx context.Context, subject string, data []byte, msgID string) error {
	return PublishWithID(ctx, c.JS, subject, data, msgID)
}

// PublishWithID publishes data to subject on js, with msgID (when not
// empty) as its Nats-Msg-Id. Called by a consumer's handler with the
// handler's ctx, it does not wait for the ack: the consumer acks the
// handled message once the publish is stored. Elsewhere it returns once
// the message is stored.
func PublishWithID(ctx context.Context, js jetstream.JetStream, subject string, data []byte, msgID string) error {
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if async, err := publishAsync(ctx, js, subject, data, opts); async {
		if err != nil {
			return fmt.Errorf("bus: publish %s: %w", subject, err)
		}
		return nil
	}
	if _, err := js.Publish(ctx, subject, data, opts...); err != nil {
		return fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return nil
}

// Replicas is how many servers keep each of Earshot's streams; key-value
// and object stores that stages create take as many.
func (c *Conn) Replicas() int { return c.replicas }

// Idempotent publishes each message with a digest of its subject and
// content as its message id: work done again (by a process that took a
// partition over, or after a lost ack) publishes the same results, and
// the stream stores them once within its duplicate window. For messages
// whose repeats carry nothing new, such as results computed from a call's
// events.
type Idempotent struct{ *Conn }

// Publish publishes data to subject once per content.
func (p Idempotent) Publish(ctx context.Context, subject string, data []byte) error {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write(data)
	return p.PublishWithID(ctx, subject, data, hex.EncodeToString(h.Sum(nil)[:16]))
}

// Close drains the connection (subscriptions finish what they hold first)
// and waits until it is closed. It is safe to call more than once.
func (c *Conn) Close() {
	if err := c.NC.Drain(); err != nil {
		c.NC.Close()
	}
	<-c.closed
}
