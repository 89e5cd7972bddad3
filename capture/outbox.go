package capture

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// outboxShards is how many publishes may wait for their acks at once. An
// ack takes a round trip through the server's stream, tens of
// milliseconds on a busy machine: with 16 shards capture published about
// 200 messages a second and its queue grew without bound at 300 calls.
const outboxShards = 256

// outbox queues what capture publishes so packet handling never waits for
// NATS. A call's messages go through one shard, in order; shards publish
// side by side. Nothing queued is dropped: a failed publish is retried
// until it succeeds or Run's flush deadline passes. Utterance jobs carry a
// message id, so that a retry of a publish the server stored but whose
// ack was lost does not queue the job twice.
type outbox struct {
	shards [outboxShards]*shard
}

type shard struct {
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
	msgID   string // Nats-Msg-Id, or none
}

func newOutbox(pub Publisher, log *slog.Logger) *outbox {
	o := &outbox{}
	for i := range o.shards {
		o.shards[i] = &shard{pub: pub, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	}
	return o
}

// add queues a JSON message of call.
func (o *outbox) add(call, subject string, m msg.Message) {
	b, err := msg.Marshal(m)
	if err != nil {
		o.shards[0].log.Error("capture: event not encoded", "subject", subject, "err", err)
		return
	}
	o.addRaw(call, subject, b, "")
}

// addRaw queues an encoded message of call, with msgID as its Nats-Msg-Id
// when not empty.
func (o *outbox) addRaw(call, subject string, b []byte, msgID string) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(call))
	s := o.shards[h.Sum32()%outboxShards]
	s.mu.Lock()
	s.q = append(s.q, outItem{subject, b, msgID})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// stats returns the items queued, published and the failed attempts.
func (o *outbox) stats() (pending int, sent, errs uint64) {
	for _, s := range o.shards {
		s.mu.Lock()
		pending += len(s.q)
		sent += s.sent
		errs += s.errs
		s.mu.Unlock()
	}
	return pending, sent, errs
}

// run publishes until ctx is done, or until close was called and every
// queue is empty.
func (o *outbox) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range o.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx)
		}()
	}
	wg.Wait()
}

// close asks run to publish what is queued and then stop.
func (o *outbox) close() {
	for _, s := range o.shards {
		s.mu.Lock()
		if !s.closed {
			s.closed = true
			close(s.done)
		}
		s.mu.Unlock()
	}
}

func (s *shard) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for {
		s.mu.Lock()
		var it outItem
		have := len(s.q) > 0
		if have {
			it = s.q[0]
		}
		closed := s.closed
		s.mu.Unlock()
		if !have {
			if closed {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			case <-s.done:
			}
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.pub.PublishWithID(pctx, it.subject, it.data, it.msgID)
		cancel()
		if err != nil {
			s.mu.Lock()
			s.errs++
			s.mu.Unlock()
			s.log.Warn("capture: publish failed, retrying", "subject", it.subject, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		s.mu.Lock()
		s.q[0] = outItem{}
		s.q = s.q[1:]
		s.sent++
		s.mu.Unlock()
	}
}
