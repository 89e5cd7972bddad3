package capture_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a capture on a real UDP socket publishing to a real embedded NATS.
type rig struct {
	t    *testing.T
	cap  *capture.Capture
	conn *bus.Conn
	addr netip.AddrPort
	ev   chan *nats.Msg
}

func newRig(t *testing.T, cfg capture.Config) *rig {
	t.Helper()
	_, conn := bustest.Start(t)
	if len(cfg.Listen) == 0 {
		cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	}
	c, err := capture.New(cfg, conn)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, cap: c, conn: conn, addr: c.Addrs()[0], ev: make(chan *nats.Msg, 100000)}
	sub, err := conn.NC.ChanSubscribe("earshot.>", r.ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture run: %v", err)
		}
		_ = sub.Unsubscribe()
	})
	return r
}

// callEvents is what one call produced, collected until it ended.
type callEvents struct {
	started, ended *msg.CallEvent
	updates        []*msg.CallEvent
	jobs           []*msg.UtteranceJob
	timeline       []*msg.TimelineEvent
	dtmf           []*msg.DTMFEvent
}

func (c *callEvents) finals(leg msg.Role) []*msg.UtteranceJob {
	var out []*msg.UtteranceJob
	for _, j := range c.jobs {
		if !j.Interim && j.Leg == leg {
			out = append(out, j)
		}
	}
	return out
}

// waitEnded collects events until n calls have ended (or the timeout).
func (r *rig) waitEnded(n int, timeout time.Duration) map[string]*callEvents {
	r.t.Helper()
	calls := map[string]*callEvents{}
	get := func(id string) *callEvents {
		if calls[id] == nil {
			calls[id] = &callEvents{}
		}
		return calls[id]
	}
	ended := 0
	deadline := time.After(timeout)
	for ended < n {
		select {
		case m := <-r.ev:
			switch {
			case strings.HasPrefix(m.Subject, "earshot.audio."):
				j, err := msg.DecodeUtterance(m.Data)
				if err != nil {
					r.t.Fatalf("job on %s: %v", m.Subject, err)
				}
				get(j.CallID).jobs = append(get(j.CallID).jobs, j)
			case strings.HasPrefix(m.Subject, "earshot.call."):
				var e msg.CallEvent
				if err := msg.Unmarshal(m.Data, &e); err != nil {
					r.t.Fatal(err)
				}
				c := get(e.CallID)
				switch e.Kind {
				case msg.CallStarted:
					c.started = &e
				case msg.CallUpdated:
					c.updates = append(c.updates, &e)
				case msg.CallEnded:
					c.ended = &e
					ended++
				}
			case strings.HasPrefix(m.Subject, "earshot.timeline."):
				var e msg.TimelineEvent
				if err := msg.Unmarshal(m.Data, &e); err != nil {
					r.t.Fatal(err)
				}
				get(e.CallID).timeline = append(get(e.CallID).timeline, &e)
			case strings.HasPrefix(m.Subject, "earshot.dtmf."):
				var e msg.DTMFEvent
				if err := msg.Unmarshal(m.Data, &e); err != nil {
					r.t.Fatal(err)
				}
				get(e.CallID).dtmf = append(get(e.CallID).dtmf, &e)
			}
		case <-deadline:
			r.t.Fatalf("%d of %d calls ended within %s", ended, n, timeout)
		}
	}
	return calls
}

// audioInStream counts the jobs JetStream holds.
func (r *rig) audioInStream() uint64 {
	r.t.Helper()
	s, err := r.conn.JS.Stream(context.Background(), bus.StreamAudio)
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State.Msgs
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
