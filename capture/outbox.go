package capture

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// outbox queues what capture publishes, in order, so packet handling never
// waits for NATS. Nothing queued is dropped: a failed publish is retried
// until it succeeds or Run's flush deadline passes.
type outbox struct {
	pub    Publisher
	log    *slog.Logger
	mu     sync.Mutex
	q      []outItem
	wake   chan struct{}
	done   chan struct{} // closed by close: publish what is left, then stop
	closed bool
	sent   uint64
	errs   uint64
}

type outItem struct {
	subject string
	data    []byte
}

func newOutbox(pub Publisher, log *slog.Logger) *outbox {
	return &outbox{pub: pub, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// add queues a JSON message.
func (o *outbox) add(subject string, m msg.Message) {
	b, err := msg.Marshal(m)
	if err != nil {
		o.log.Error("capture: event not encoded", "subject", subject, "err", err)
		return
	}
	o.addRaw(subject, b)
}

func (o *outbox) addRaw(subject string, b []byte) {
	o.mu.Lock()
	o.q = append(o.q, outItem{subject, b})
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q)
}

// run publishes until ctx is done, or until close was called and the queue
// is empty.
func (o *outbox) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for {
		o.mu.Lock()
		var it outItem
		have := len(o.q) > 0
		if have {
			it = o.q[0]
		}
		closed := o.closed
		o.mu.Unlock()
		if !have {
			if closed {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
			case <-o.done:
			}
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := o.pub.Publish(pctx, it.subject, it.data)
		cancel()
		if err != nil {
			o.mu.Lock()
			o.errs++
			o.mu.Unlock()
			o.log.Warn("capture: publish failed, retrying", "subject", it.subject, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		o.mu.Lock()
		o.q[0] = outItem{}
		o.q = o.q[1:]
		o.sent++
		o.mu.Unlock()
	}
}

// close asks run to publish what is queued and then stop.
func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		close(o.done)
	}
}
