package capture_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// TestReadersKeepEachStreamInOrder: 16 announced calls of two legs, each
// leg from a source of its own, send their packets interleaved to a
// capture with four readers on its port before it runs, so that every
// reader finds full batches waiting at once. Every stream is taken whole
// and in order: nothing reordered, late, lost or duplicated. (The RTCP
// BYEs go once every packet is read: the readers keep each source's
// order, not the order between sources, and a call whose streams have all
// said BYE ends, whatever of its other leg comes after.)
func TestReadersKeepEachStreamInOrder(t *testing.T) {
	_, conn := bustest.Start(t)
	ev := make(chan *nats.Msg, 100000)
	sub, err := conn.NC.ChanSubscribe("earshot.>", ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() }) // runs after the capture stopped
	const calls = 16
	type leg struct {
		w    *wire
		pkts [][]byte
		ssrc uint32
	}
	var legs []leg
	var perStream int
	c := startAfter(t, capture.Config{Readers: 4}, conn, func(c *capture.Capture) {
		for i := range calls {
			a, b := newWire(t, c.Addrs()[0]), newWire(t, c.Addrs()[0])
			if err := c.Announce(&msg.CallAnnounce{CallID: fmt.Sprintf("readers-%d", i), Legs: []msg.LegSpec{
				{Role: msg.RoleAgent, Source: a.addr().String()}, {Role: msg.RoleCustomer, Source: b.addr().String()}}}); err != nil {
				t.Fatal(err)
			}
			for j, w := range []*wire{a, b} {
				ssrc := uint32(100*i + j + 1)
				pkts, _ := stream(t, ssrc, tones(2000, [2]int{200, 1600}))
				legs = append(legs, leg{w, pkts, ssrc})
			}
		}
		perStream = len(legs[0].pkts)
		for k := range perStream {
			for _, l := range legs {
				l.w.send(l.pkts[k])
			}
		}
	})
	waitFor(t, "every packet read", func() bool { return c.SocketStats().Datagrams == uint64(len(legs)*perStream) })
	for _, l := range legs {
		l.w.bye(l.ssrc)
	}
	ended := capturetest.Collect(t, ev, calls, 30*time.Second)
	if len(ended) != calls {
		t.Fatalf("%d calls ended, want %d", len(ended), calls)
	}
	for id, c := range ended {
		if len(c.Ended.Streams) != 2 {
			t.Errorf("%s: %d streams, want 2", id, len(c.Ended.Streams))
		}
		for _, st := range c.Ended.Streams {
			want := msg.StreamStats{Leg: st.Leg, SSRC: st.SSRC, Received: uint64(perStream)}
			if got := counters(st); got != want {
				t.Errorf("%s stream %d: %+v, want %+v", id, st.SSRC, got, want)
			}
		}
	}
}

// startAfter makes a capture on 127.0.0.1 publishing to pub, calls before
// with it, and only then runs it (until the test ends): what before sends
// waits in the sockets' buffers.
func startAfter(t *testing.T, cfg capture.Config, pub capture.Publisher, before func(*capture.Capture)) *capture.Capture {
	t.Helper()
	cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	c, err := capture.New(cfg, pub)
	if err != nil {
		t.Fatal(err)
	}
	before(c)
	capturetest.RunCapture(t, c)
	return c
}

// TestKernelDropsAreCounted: 30,000 datagrams sent to a capture socket
// before anything reads it overflow its receive buffer; what the kernel
// dropped and what capture then read add up to what was sent, in the
// metrics.
func TestKernelDropsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	const sent = 30000
	c := startAfter(t, capture.Config{Readers: 1, RateLimit: -1, Metrics: reg}, capturetest.Discard{}, func(c *capture.Capture) {
		w := newWire(t, c.Addrs()[0])
		pkts, _ := stream(t, 0xd, tones(sent*20, [2]int{0, 1000}))
		for _, p := range pkts {
			w.send(p)
		}
	})
	var n, d float64
	waitFor(t, fmt.Sprintf("%d datagrams read or dropped", sent), func() bool {
		n, d = counterValue(t, reg, "earshot_capture_socket_datagrams_total"), counterValue(t, reg, "earshot_capture_socket_drops_total")
		return n+d == sent
	})
	if d == 0 {
		t.Fatalf("no drops counted; %v read", n)
	}
	if s := c.SocketStats(); s.Datagrams != uint64(n) || s.Drops != uint64(d) {
		t.Errorf("SocketStats %+v, metrics %v read %v dropped", s, n, d)
	}
}

// waitFor checks cond every 10 ms until it holds, or fails the test after
// 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no %s within 30 s", what)
		}
	}
}

// counterValue gathers the counter name (one without labels) from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("counter %s not gathered", name)
	return 0
}

// TestReadersOutOfRangeRefused: a reader count outside 1-64 is refused,
// named.
func TestReadersOutOfRangeRefused(t *testing.T) {
	for _, n := range []int{-1, capture.MaxReaders + 1} {
		_, err := capture.New(capture.Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Readers: n}, capturetest.Discard{})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d readers", n)) {
			t.Errorf("%d readers: %v, want refused", n, err)
		}
	}
}
