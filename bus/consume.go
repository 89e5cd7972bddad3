package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Handler does the work for one message. It returns nil once the work's
// results are safely published or stored; the message is then acked.
type Handler func(ctx context.Context, m jetstream.Msg) error

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix (a malformed message):
// the message is dead-lettered at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type transientError struct{ err error }

func (e transientError) Error() string { return e.err.Error() }
func (e transientError) Unwrap() error { return e.err }

// Transient marks err as an outage of something the handler needs (a
// server down or overloaded), not a fault of the message: the message is
// kept and retried with growing backoff, however many deliveries that
// takes, until it has waited MaxWait; only then is it dead-lettered.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transientError{err}
}

// IsTransient reports whether err was marked with Transient.
func IsTransient(err error) bool {
	var t transientError
	return errors.As(err, &t)
}

// ConsumerConfig says what to consume and how.
type ConsumerConfig struct {
	Stream  string   // required
	Durable string   // required: the consumer survives restarts
	Filter  []string // subjects; empty means the whole stream
	// Stage names the dead-letter subject (earshot.deadletter.<Stage>);
	// defaults to Durable.
	Stage string
	// Workers is how many messages are handled at once; default 1, which
	// keeps the stream's order.
	Workers int
	// Key, when set, spreads messages over the Workers by a hash of their
	// key, each worker handling its share in stream order: messages with
	// one key (one call's) keep their order while different keys are
	// handled in parallel. One pull feeds every worker.
	Key func(jetstream.Msg) string
	// Batch is how many messages a pull fetches ahead of the ones in hand,
	// saving a round trip to the server per message; default 0: a worker
	// holds only the message it handles, so that a slow handler (a
	// transcription) leaves the others to free workers.
	Batch int
	// Together, when set with a Key, handles the messages a worker has at
	// hand (at most Batch+1) as one unit, such as a database transaction:
	// it calls each, which runs the handler on every message in order and
	// stops at the first failure, inside the unit and returns nil once the
	// unit is committed; then every message is acked. When it fails, each
	// message is handled alone, as without Together.
	Together func(ctx context.Context, each func(ctx context.Context) error) error
	// MaxDeliver bounds deliveries before a message whose handler failed
	// is dead-lettered; default 5. Transient failures are not bounded by
	// it, but they are deliveries: a message that failed transiently that
	// often is dead-lettered on its next ordinary failure.
	MaxDeliver int
	// AckWait is how long a delivery may go unacked before redelivery;
	// default 30s. Handlers doing long work call InProgress.
	AckWait time.Duration
	// RetryBackoff is the redelivery delay after a failed first delivery,
	// doubling after each further one up to MaxRetryBackoff; defaults
	// 250ms and 15s.
	RetryBackoff, MaxRetryBackoff time.Duration
	// MaxWait bounds how long, from its publication, a message may keep
	// failing with Transient errors before it is dead-lettered. Default,
	// and at most: what the stream keeps (its MaxAge) less a minute and
	// MaxRetryBackoff, so that no message ages out of the stream unseen;
	// without a MaxAge, for ever.
	MaxWait time.Duration
	// OnDeadLetter, when set, is called after a message is dead-lettered
	// (to publish a placeholder result, for example).
	OnDeadLetter func(ctx context.Context, m jetstream.Msg, reason error)
	// Partitions, when set, runs the consumer once per partition this
	// process owns (a durable consumer each, Durable-pN), each handing on
	// only the messages whose Key falls in its partition (msg.Partition)
	// and acking the others; Key is required.
	Partitions *Partitions
	// Resume, when set, is called once the consumer exists and before
	// its messages are handed on (each time a partition is taken, and at
	// the start of an unpartitioned consumer), with the first stream
	// sequence the handlers will be given (everything before was handled
	// by an earlier owner) and whether a Key is this consumer's: for a
	// stage to rebuild from the stream what waits on no message (a call
	// whose events were all handled, waiting on a timer). A failure is
	// logged; the messages are consumed all the same.
	Resume func(ctx context.Context, from uint64, owns func(key string) bool) error
	Logger *slog.Logger

	owns     func(jetstream.Msg) bool // the partition's messages; nil: all
	ownsKey  func(string) bool        // the partition's keys; nil: all
	startSeq uint64                   // where a consumer created now starts; 0: the stream's start
}

func (c *ConsumerConfig) defaults() error {
	if c.Stream == "" || c.Durable == "" {
		return errors.New("bus: consumer needs a stream and a durable name")
	}
	if c.Stage == "" {
		c.Stage = c.Durable
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.Batch < 0 {
		c.Batch = 0
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 5
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 250 * time.Millisecond
	}
	if c.MaxRetryBackoff <= 0 {
		c.MaxRetryBackoff = 15 * time.Second
	}
	c.MaxRetryBackoff = max(c.MaxRetryBackoff, c.RetryBackoff)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Consume creates (or updates) the durable consumer and hands each message to
// h on cfg.Workers goroutines until ctx is done; it returns after every
// handler has returned. A message whose handler fails is redelivered with
// backoff; after MaxDeliver deliveries, or at once for a Permanent error, it
// is published to the dead-letter stream with the reason and terminated. A
// Transient failure is redelivered until the message has waited MaxWait.
// A consumer that cannot be created is an error returned at once, unless
// ctx was done by then: stopping before the start is a clean stop.
func Consume(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, h Handler) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	if cfg.Partitions != nil {
		return consumePartitioned(ctx, js, cfg, h)
	}
	stream, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started: not a failure
		}
		return fmt.Errorf("bus: consumer %s: stream %s: %w", cfg.Durable, cfg.Stream, err)
	}
	if keep := stream.CachedInfo().Config.MaxAge; keep > 0 {
		limit := keep - time.Minute - cfg.MaxRetryBackoff
		if cfg.MaxWait <= 0 || cfg.MaxWait > limit {
			cfg.MaxWait = max(limit, cfg.RetryBackoff)
		}
	}
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1, // counted here, so the last failure is dead-lettered, not dropped
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 4*cfg.Workers + 2*cfg.Batch,
		// As many servers keep it as keep the stream, also after
		// --replicas changed them.
		Replicas: stream.CachedInfo().Config.Replicas,
	}
	if cfg.startSeq > 0 {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, cfg.startSeq
	} else if old, err := stream.Consumer(ctx, cfg.Durable); err == nil {
		// Where a consumer starts cannot change: keep it.
		cc.DeliverPolicy, cc.OptStartSeq = old.CachedInfo().Config.DeliverPolicy, old.CachedInfo().Config.OptStartSeq
	}
	cc.MaxAckPending += cfg.Workers * window // handled, their publishes in flight
	switch len(cfg.Filter) {
	case 0:
	case 1:
		cc.FilterSubject = cfg.Filter[0]
	default:
		cc.FilterSubjects = cfg.Filter
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, cc)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started: not a failure
		}
		return fmt.Errorf("bus: consumer %s on %s: %w", cfg.Durable, cfg.Stream, err)
	}
	if cfg.Resume != nil {
		owns := cfg.ownsKey
		if owns == nil {
			owns = func(string) bool { return true }
		}
		// Everything up to the ack floor was handled; what is past it
		// is delivered (a consumer with messages in hand was started
		// again from its floor by takeOver).
		from := cons.CachedInfo().AckFloor.Stream + 1
		if err := cfg.Resume(ctx, from, owns); err != nil && ctx.Err() == nil {
			cfg.Logger.Warn("rebuilding the consumer's waiting state failed; going on without it", "consumer", cfg.Durable, "err", err)
		}
	}
	// Stop when ctx is done, or when the connection is closed for good: a
	// closed connection leaves the iterators waiting forever otherwise.
	nc := js.Conn()
	closed := nc.StatusChanged(nats.CLOSED)
	defer nc.RemoveStatusListener(closed)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Workers)
	pull := jetstream.PullMaxMessages(1 + cfg.Batch)
	iterators := cfg.Workers
	if cfg.Key != nil {
		iterators = 1
	}
	for range iterators {
		it, err := cons.Messages(pull)
		if err != nil {
			stop()
			wg.Wait()
			return fmt.Errorf("bus: consumer %s: %w", cfg.Durable, err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-runCtx.Done()
			it.Drain() // buffered messages still reach the loop, which hands them back (nak) at once
		}()
		go func() {
			defer wg.Done()
			if cfg.Key != nil {
				errs <- dispatch(runCtx, js, &cfg, it, h)
				return
			}
			a := &acker{cfg: &cfg}
			errs <- consumeLoop(runCtx, &cfg, it, a, func(m jetstream.Msg) {
				if !cfg.foreign(m) {
					handle(runCtx, js, &cfg, m, h, a)
				}
			})
		}()
	}
	select {
	case <-ctx.Done():
	case <-closed:
	case <-closedAlready(nc):
	}
	stop()
	wg.Wait()
	// Acks are sent without waiting for the server's word; make sure the
	// last ones are on the wire before saying everything is done.
	if !nc.IsClosed() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = nc.FlushWithContext(fctx)
		cancel()
	}
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	if ctx.Err() == nil && nc.IsClosed() {
		return fmt.Errorf("bus: consumer %s: %w", cfg.Durable, nats.ErrConnectionClosed)
	}
	return nil
}

// closedAlready is a channel that is closed when nc was closed before its
// status listener was registered, and never otherwise.
func closedAlready(nc *nats.Conn) <-chan struct{} {
	if nc.IsClosed() {
		c := make(chan struct{})
		close(c)
		return c
	}
	return nil
}

// idleFlush is how long a worker with handled messages waiting for their
// publishes waits for its next message before it waits for those
// publishes instead (and acks their messages): a worker with nothing else
// to do holds no ack back.
const idleFlush = 2 * time.Millisecond

// consumeLoop hands each message of it to do until it is closed. With an
// acker (an unkeyed worker's), the messages do handled wait in a for their
// publishes while the next comes, and are settled when none comes within
// idleFlush and when the loop ends.
func consumeLoop(ctx context.Context, cfg *ConsumerConfig, it jetstream.MessagesContext, a *acker, do func(jetstream.Msg)) error {
	if a != nil {
		defer a.flush()
	}
	for {
		var m jetstream.Msg
		var err error
		if a != nil && len(a.held) > 0 {
			m, err = it.Next(jetstream.NextMaxWait(idleFlush))
			if errors.Is(err, nats.ErrTimeout) {
				a.flush()
				continue
			}
		} else {
			m, err = it.Next()
		}
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				return nil // Consume says so
			}
			cfg.Logger.Warn("consumer fetch failed", "consumer", cfg.Durable, "err", err)
			continue
		}
		do(m)
	}
}

// dispatch hands the messages of it to cfg.Workers goroutines by the hash
// of cfg.Key, so that each key's messages are handled in order.
func dispatch(ctx context.Context, js jetstream.JetStream, cfg *ConsumerConfig, it jetstream.MessagesContext, h Handler) error {
	queues := make([]chan jetstream.Msg, cfg.Workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan jetstream.Msg, max(1, cfg.Batch/cfg.Workers))
		wg.Go(func() {
			a := &acker{cfg: cfg}
			for m := range queues[i] {
				handleGroup(ctx, js, cfg, gather(m, queues[i], cfg), h, a)
				if len(queues[i]) == 0 {
					a.flush() // nothing else to do: no ack waits
				}
			}
			a.flush()
		})
	}
	err := consumeLoop(ctx, cfg, it, nil, func(m jetstream.Msg) {
		if !cfg.foreign(m) {
			queues[partition(cfg.Key(m), len(queues))] <- m
		}
	})
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return err
}

// foreign acks m and reports true when it belongs to a partition other
// than the consumer's.
func (c *ConsumerConfig) foreign(m jetstream.Msg) bool {
	if c.owns == nil || c.owns(m) {
		return false
	}
	if err := m.Ack(); err != nil {
		c.Logger.Debug("ack of another partition's message failed; it comes again", "subject", m.Subject(), "err", err)
	}
	return true
}

// gather is m and, with cfg.Together, the messages waiting in q after it,
// at most cfg.Batch.
func gather(m jetstream.Msg, q <-chan jetstream.Msg, cfg *ConsumerConfig) []jetstream.Msg {
	group := []jetstream.Msg{m}
	for cfg.Together != nil && len(group) <= cfg.Batch {
		select {
		case next, ok := <-q:
			if !ok {
				return group
			}
			group = append(group, next)
		default:
			return group
		}
	}
	return group
}

// handleGroup handles the messages of group as one unit (cfg.Together),
// or each alone when that fails or there is only one.
func handleGroup(ctx context.Context, js jetstream.JetStream, cfg *ConsumerConfig, group []jetstream.Msg, h Handler, a *acker) {
	if len(group) > 1 && ctx.Err() == nil {
		err := cfg.Together(ctx, func(ctx context.Context) error {
			for _, m := range group {
				if err := h(ctx, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, m := range group {
				if err := m.Ack(); err != nil {
					cfg.Logger.Warn("ack failed; the message will be redelivered", "subject", m.Subject(), "err", err)
				}
			}
			return
		}
		cfg.Logger.Debug("messages handled together failed; handling each alone", "consumer", cfg.Durable, "messages", len(group), "err", err)
	}
	for _, m := range group {
		handle(ctx, js, cfg, m, h, a)
	}
}

// partition is the worker, of n, for key: an FNV-1a hash.
func partition(key string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// handle runs h on m and acks, retries or dead-letters m. With an acker,
// h's publishes through Conn are not waited for: a acks m once they are
// stored.
func handle(ctx context.Context, js jetstream.JetStream, cfg *ConsumerConfig, m jetstream.Msg, h Handler, a *acker) {
	if ctx.Err() != nil {
		// Shutting down with the message still buffered: hand it back now
		// rather than after AckWait.
		_ = m.Nak()
		return
	}
	hctx, f := ctx, (*inflight)(nil)
	if a != nil {
		f = &inflight{}
		hctx = withInflight(ctx, f)
	}
	err := h(hctx, m)
	if err == nil && a != nil {
		a.done(m, f)
		return
	}
	if err == nil {
		// The work is done: ack it even if shutdown began meanwhile. The
		// ack is not waited for: one that is lost brings the message
		// again, and every stage's results carry ids that make a repeat
		// harmless (at least once, idempotent).
		if err := m.Ack(); err != nil {
			cfg.Logger.Warn("ack failed; the message will be redelivered", "subject", m.Subject(), "err", err)
		}
		return
	}
	if ctx.Err() != nil {
		// Shutting down: leave it for redelivery.
		_ = m.Nak()
		return
	}
	deliveries, age := 1, time.Duration(0)
	if md, mdErr := m.Metadata(); mdErr == nil {
		deliveries, age = int(md.NumDelivered), time.Since(md.Timestamp)
	}
	delay := cfg.backoff(deliveries)
	switch {
	case IsPermanent(err):
	case IsTransient(err):
		if cfg.MaxWait <= 0 || age+delay < cfg.MaxWait {
			// The handler's stage says so once for the outage, not here
			// for every message.
			cfg.Logger.Debug("handler unavailable; message kept", "subject", m.Subject(), "delivery", deliveries, "waited", age, "retry_in", delay, "err", err)
			_ = m.NakWithDelay(delay)
			return
		}
		err = fmt.Errorf("still failing after waiting %s (the longest a message may wait): %w", age.Round(time.Second), err)
	case deliveries < cfg.MaxDeliver:
		cfg.Logger.Warn("handler failed; will retry", "subject", m.Subject(), "delivery", deliveries, "retry_in", delay, "err", err)
		_ = m.NakWithDelay(delay)
		return
	}
	cfg.Logger.Error("giving up on message; dead-lettered", "subject", m.Subject(), "deliveries", deliveries, "err", err)
	if dlErr := deadLetter(ctx, js, cfg.Stage, m, deliveries, err); dlErr != nil {
		// Keep it in the stream rather than lose it.
		cfg.Logger.Error("dead-letter publish failed; message kept for redelivery", "subject", m.Subject(), "err", dlErr)
		_ = m.NakWithDelay(delay)
		return
	}
	if cfg.OnDeadLetter != nil {
		cfg.OnDeadLetter(ctx, m, err)
	}
	_ = m.Term()
}

// backoff is the redelivery delay after n deliveries: RetryBackoff
// doubling, at most MaxRetryBackoff.
func (c *ConsumerConfig) backoff(n int) time.Duration {
	d := c.RetryBackoff
	for i := 1; i < n && d < c.MaxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxRetryBackoff)
}

// ByCall is a ConsumerConfig.Key that keeps each call's messages in order:
// the call id in the subject (the subject itself when it names none).
func ByCall(m jetstream.Msg) string {
	if id, err := msg.CallFromSubject(m.Subject()); err == nil {
		return id
	}
	return m.Subject()
}
