package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Publishes in flight. A handler run by a consumer keyed by call
// (ConsumerConfig.Key) publishes through Conn without waiting for each
// ack: the publishes go out asynchronously and the message is acked only
// once every one of them is stored, so "acked" still means "its results
// are safe". Meanwhile the worker goes on to the next message, up to
// window messages ahead; when its queue runs dry it waits for what is in
// flight, so nothing is held back while idle.

// window is how many handled messages a worker may have with publishes in
// flight before it waits for the oldest.
const window = 64

// ackTimeout bounds the wait for one publish's ack; past it the message is
// handed back for redelivery (its results carry ids, so a publish that was
// stored after all is not stored twice).
const ackTimeout = 10 * time.Second

// ErrAckTimeout: a publish in flight got no ack within ackTimeout.
var ErrAckTimeout = errors.New("no ack for a publish in flight")

// inflight collects a handler's asynchronous publishes.
type inflight struct {
	mu   sync.Mutex
	futs []jetstream.PubAckFuture
}

type inflightKey struct{}

func withInflight(ctx context.Context, f *inflight) context.Context {
	return context.WithValue(ctx, inflightKey{}, f)
}

// publishAsync publishes asynchronously when ctx belongs to a handler
// whose consumer waits for its publishes; ok is false otherwise.
func publishAsync(ctx context.Context, js jetstream.JetStream, subject string, data []byte, opts []jetstream.PublishOpt) (ok bool, err error) {
	f, _ := ctx.Value(inflightKey{}).(*inflight)
	if f == nil {
		return false, nil
	}
	fut, err := js.PublishAsync(subject, data, opts...)
	if err != nil {
		return true, err
	}
	f.mu.Lock()
	f.futs = append(f.futs, fut)
	f.mu.Unlock()
	return true, nil
}

// wait waits for every publish's ack and returns the first failure.
func (f *inflight) wait() error {
	f.mu.Lock()
	futs := f.futs
	f.mu.Unlock()
	var timer *time.Timer
	for _, fut := range futs {
		select {
		case <-fut.Ok():
			continue
		case err := <-fut.Err():
			return fmt.Errorf("publish %s: %w", fut.Msg().Subject, err)
		default:
		}
		if timer == nil {
			timer = time.NewTimer(ackTimeout)
			defer timer.Stop()
		}
		select {
		case <-fut.Ok():
		case err := <-fut.Err():
			return fmt.Errorf("publish %s: %w", fut.Msg().Subject, err)
		case <-timer.C:
			return fmt.Errorf("publish %s: %w within %s", fut.Msg().Subject, ErrAckTimeout, ackTimeout)
		}
	}
	return nil
}

func (f *inflight) empty() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.futs) == 0
}

// held is a handled message waiting for its publishes.
type held struct {
	m jetstream.Msg
	f *inflight
}

// acker acks one worker's handled messages, in order, once their
// publishes are stored.
type acker struct {
	cfg  *ConsumerConfig
	held []held
}

// done takes a message whose handler succeeded.
func (a *acker) done(m jetstream.Msg, f *inflight) {
	if f.empty() && len(a.held) == 0 {
		a.ack(m)
		return
	}
	a.held = append(a.held, held{m, f})
	for len(a.held) >= window {
		a.settleOldest()
	}
}

// flush waits for everything in flight and acks (or hands back) it.
func (a *acker) flush() {
	for len(a.held) > 0 {
		a.settleOldest()
	}
}

func (a *acker) settleOldest() {
	h := a.held[0]
	a.held[0] = held{}
	a.held = a.held[1:]
	if err := h.f.wait(); err != nil {
		// Its results may not be stored: handle it again.
		a.cfg.Logger.Warn("a result's publish failed; the message will be redelivered", "subject", h.m.Subject(), "err", err)
		_ = h.m.NakWithDelay(a.cfg.RetryBackoff)
		return
	}
	a.ack(h.m)
}

func (a *acker) ack(m jetstream.Msg) {
	if err := m.Ack(); err != nil {
		a.cfg.Logger.Warn("ack failed; the message will be redelivered", "subject", m.Subject(), "err", err)
	}
}
