// Package capturetest runs a capture against a real embedded NATS for the
// tests of capture and its intakes, and collects what each call published.
package capturetest

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
)

// Rig is a capture on a real UDP socket publishing to a real embedded
// NATS, running until the test ends.
type Rig struct {
	T    testing.TB
	Cap  *capture.Capture
	Conn *bus.Conn
	Addr netip.AddrPort // the RTP socket
	Ev   chan *nats.Msg // everything published on earshot.>
	held []*nats.Msg    // read by WaitCall, for WaitEnded
}

// Start starts a capture with cfg (on 127.0.0.1:0 unless cfg.Listen says).
func Start(t testing.TB, cfg capture.Config) *Rig {
	t.Helper()
	_, conn := bustest.Start(t)
	if len(cfg.Listen) == 0 {
		cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	}
	c, err := capture.New(cfg, conn)
	if err != nil {
		t.Fatal(err)
	}
	r := &Rig{T: t, Cap: c, Conn: conn, Addr: c.Addrs()[0], Ev: make(chan *nats.Msg, 100000)}
	sub, err := conn.NC.ChanSubscribe("earshot.>", r.Ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() }) // registered first: runs after the capture stopped
	RunCapture(t, c)
	return r
}

// RunCapture runs c until the test ends (and fails it if Run fails).
func RunCapture(t testing.TB, c *capture.Capture) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture run: %v", err)
		}
	})
}

// ViaRTP sends an agent and a customer leg as RTP (legs a and b, 20 times
// real time) to a capture of its own and returns the call it made: the
// twin an intake's call is held against.
func ViaRTP(t testing.TB, agent, customer []int16) *Call {
	t.Helper()
	r := Start(t, capture.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sender.Send(ctx, sender.SendConfig{To: r.Addr, Speed: sender.Speed{Factor: 20},
		Legs: []sender.Leg{{Role: msg.RoleA, PCM: agent}, {Role: msg.RoleB, PCM: customer}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.WaitEnded(1, 30*time.Second) {
		return c
	}
	panic("unreachable")
}

// Discard is a publisher that drops what it is given, for benchmarks.
type Discard struct{}

// PublishWithID implements capture.Publisher.
func (Discard) PublishWithID(context.Context, string, []byte, string) error { return nil }

// Run runs a capture with cfg publishing to Discard until the test or
// benchmark ends.
func Run(t testing.TB, cfg capture.Config) *capture.Capture {
	t.Helper()
	if len(cfg.Listen) == 0 {
		cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	}
	c, err := capture.New(cfg, Discard{})
	if err != nil {
		t.Fatal(err)
	}
	RunCapture(t, c)
	return c
}

// Serve runs an intake's serve (mediastream.Server.Serve,
// audiosocket.Server.Serve) on a TCP listener on 127.0.0.1 until the test
// ends, and returns the listener's address.
func Serve(t testing.TB, serve func(context.Context, net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// Call is what one call published, collected until it ended.
type Call struct {
	Started, Ended *msg.CallEvent
	Updates        []*msg.CallEvent
	Jobs           []*msg.UtteranceJob
	Timeline       []*msg.TimelineEvent
	DTMF           []*msg.DTMFEvent
}

// Finals returns the final jobs of leg.
func (c *Call) Finals(leg msg.Role) []*msg.UtteranceJob {
	var out []*msg.UtteranceJob
	for _, j := range c.Jobs {
		if !j.Interim && j.Leg == leg {
			out = append(out, j)
		}
	}
	return out
}

// Last returns the last call event seen (the ended one once it came).
func (c *Call) Last() *msg.CallEvent {
	switch {
	case c.Ended != nil:
		return c.Ended
	case len(c.Updates) > 0:
		return c.Updates[len(c.Updates)-1]
	}
	return c.Started
}

// WaitEnded collects events until n calls have ended (or fails the test
// after timeout).
func (r *Rig) WaitEnded(n int, timeout time.Duration) map[string]*Call {
	r.T.Helper()
	held := r.held
	r.held = nil
	return collect(r.T, held, r.Ev, n, timeout)
}

// WaitCall waits for a call event that ok accepts (or fails the test after
// timeout); what it read is still there for WaitEnded.
func (r *Rig) WaitCall(ok func(*msg.CallEvent) bool, timeout time.Duration) *msg.CallEvent {
	r.T.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-r.Ev:
			r.held = append(r.held, m)
			var e msg.CallEvent
			if strings.HasPrefix(m.Subject, "earshot.call.") && msg.Unmarshal(m.Data, &e) == nil && ok(&e) {
				return &e
			}
		case <-deadline:
			r.T.Fatalf("no such call event within %s", timeout)
		}
	}
}

// Collect reads messages from ev until n calls have ended.
func Collect(t testing.TB, ev <-chan *nats.Msg, n int, timeout time.Duration) map[string]*Call {
	t.Helper()
	return collect(t, nil, ev, n, timeout)
}

func collect(t testing.TB, held []*nats.Msg, ev <-chan *nats.Msg, n int, timeout time.Duration) map[string]*Call {
	t.Helper()
	calls := map[string]*Call{}
	get := func(id string) *Call {
		if calls[id] == nil {
			calls[id] = &Call{}
		}
		return calls[id]
	}
	ended := 0
	deadline := time.After(timeout)
	for ended < n {
		var m *nats.Msg
		if len(held) > 0 {
			m, held = held[0], held[1:]
		} else {
			select {
			case m = <-ev:
			case <-deadline:
				t.Fatalf("%d of %d calls ended within %s", ended, n, timeout)
			}
		}
		switch {
		case strings.HasPrefix(m.Subject, "earshot.audio."):
			j, err := msg.DecodeUtterance(m.Data)
			if err != nil {
				t.Fatalf("job on %s: %v", m.Subject, err)
			}
			get(j.CallID).Jobs = append(get(j.CallID).Jobs, j)
		case strings.HasPrefix(m.Subject, "earshot.call."):
			var e msg.CallEvent
			if err := msg.Unmarshal(m.Data, &e); err != nil {
				t.Fatal(err)
			}
			c := get(e.CallID)
			switch e.Kind {
			case msg.CallStarted:
				c.Started = &e
			case msg.CallUpdated:
				c.Updates = append(c.Updates, &e)
			case msg.CallEnded:
				c.Ended = &e
				ended++
			}
		case strings.HasPrefix(m.Subject, "earshot.timeline."):
			var e msg.TimelineEvent
			if err := msg.Unmarshal(m.Data, &e); err != nil {
				t.Fatal(err)
			}
			get(e.CallID).Timeline = append(get(e.CallID).Timeline, &e)
		case strings.HasPrefix(m.Subject, "earshot.dtmf."):
			var e msg.DTMFEvent
			if err := msg.Unmarshal(m.Data, &e); err != nil {
				t.Fatal(err)
			}
			get(e.CallID).DTMF = append(get(e.CallID).DTMF, &e)
		}
	}
	return calls
}

// ExampleLeg reads examples/calls/NAME.ROLE.wav (8 kHz) from the module.
func ExampleLeg(t testing.TB, name string, role msg.Role) []int16 {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	pcm, err := sender.ReadWAVFile(filepath.Join(filepath.Dir(file), "..", "..", "examples", "calls", name+"."+string(role)+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}
