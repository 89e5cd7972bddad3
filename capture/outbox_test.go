package capture_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
)

// flaky fails every other publish the first time, like a NATS server that
// is restarting, and passes the rest to the real server.
type flaky struct {
	capture.Publisher
	mu     sync.Mutex
	n      int
	failed int
}

func (f *flaky) PublishWithID(ctx context.Context, subject string, data []byte, msgID string) error {
	f.mu.Lock()
	f.n++
	fail := f.n%2 == 0 && f.failed < 20
	if fail {
		f.failed++
	}
	f.mu.Unlock()
	if fail {
		return errors.New("nats: connection closed")
	}
	return f.Publisher.PublishWithID(ctx, subject, data, msgID)
}

// threeTurnCall runs a capture publishing through pub until the test
// ends, and sends it a call of three one-second turns on one leg; what is
// published on subject arrives on the returned channel.
func threeTurnCall(t *testing.T, conn *bus.Conn, pub capture.Publisher, subject string) <-chan *nats.Msg {
	t.Helper()
	c, err := capture.New(capture.Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}}, pub)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *nats.Msg, 1000)
	sub, err := conn.NC.ChanSubscribe(subject, ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	pcm := tones(6000, [2]int{200, 1200}, [2]int{2500, 3500}, [2]int{4500, 5500})
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if _, err := sender.Send(sctx, sender.SendConfig{To: c.Addrs()[0], Speed: sender.Speed{Factor: 20}, Legs: []sender.Leg{{Role: msg.RoleAgent, PCM: pcm}}}); err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestFailedPublishesAreRetriedInOrder(t *testing.T) {
	_, conn := bustest.Start(t)
	pub := &flaky{Publisher: conn}
	ch := threeTurnCall(t, conn, pub, "earshot.>")
	var kinds []string
	turns := 0
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-ch:
			switch {
			case strings.HasPrefix(m.Subject, "earshot.audio."):
				j, err := msg.DecodeUtterance(m.Data)
				if err != nil {
					t.Fatal(err)
				}
				turns++
				if j.Turn != turns {
					t.Errorf("job of turn %d arrived as the %d-th", j.Turn, turns)
				}
				kinds = append(kinds, "job")
			case strings.HasPrefix(m.Subject, "earshot.call."):
				var e msg.CallEvent
				if err := msg.Unmarshal(m.Data, &e); err != nil {
					t.Fatal(err)
				}
				kinds = append(kinds, string(e.Kind))
				if e.Kind == msg.CallEnded {
					if kinds[0] != "started" || turns != 3 || e.FinalJobs[msg.RoleA] != 3 {
						t.Errorf("events %v, final jobs %v; want started first and 3 jobs before ended", kinds, e.FinalJobs)
					}
					pub.mu.Lock()
					failed := pub.failed
					pub.mu.Unlock()
					if failed == 0 {
						t.Error("no publish failed: the test tested nothing")
					}
					return
				}
			}
		case <-timeout:
			t.Fatalf("call did not end; events so far %v", kinds)
		}
	}
}

// lostAcks stores every publish on the real server but reports the first
// publish of each utterance job as failed, as when a NATS outage loses the
// ack of a message the server had stored: capture publishes it again.
type lostAcks struct {
	*bus.Conn
	mu   sync.Mutex
	seen map[string]bool
}

func (l *lostAcks) PublishWithID(ctx context.Context, subject string, data []byte, msgID string) error {
	if err := l.Conn.PublishWithID(ctx, subject, data, msgID); err != nil {
		return err
	}
	if !strings.HasPrefix(subject, "earshot.audio.") {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[subject+string(data)] {
		return nil
	}
	l.seen[subject+string(data)] = true
	return errors.New("nats: timeout (the ack was lost)")
}

// A job whose publish is retried after its ack was lost is stored once.
func TestRetriedJobPublishesAreStoredOnce(t *testing.T) {
	_, conn := bustest.Start(t)
	pub := &lostAcks{Conn: conn, seen: map[string]bool{}}
	ended := threeTurnCall(t, conn, pub, msg.AllCalls)
	timeout := time.After(20 * time.Second)
	for {
		var e msg.CallEvent
		select {
		case m := <-ended:
			if err := msg.Unmarshal(m.Data, &e); err != nil {
				t.Fatal(err)
			}
		case <-timeout:
			t.Fatal("call did not end")
		}
		if e.Kind == msg.CallEnded {
			break
		}
	}
	// Capture publishes a call's messages in order: its jobs are all in
	// the work queue once its end is published.
	pub.mu.Lock()
	jobs := len(pub.seen)
	pub.mu.Unlock()
	if jobs < 3 {
		t.Fatalf("%d distinct jobs published, want at least the 3 finals", jobs)
	}
	st, err := conn.JS.Stream(context.Background(), bus.StreamAudio)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(jobs) {
		t.Errorf("work queue holds %d jobs for %d distinct jobs, each published twice (its first ack lost): want each once", info.State.Msgs, jobs)
	}
}
