package capture_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBadPacketsRefusedCountedOthersUnaffected(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRig(t, capture.Config{
		Listen:      []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0"), netip.MustParseAddrPort("127.0.0.1:0")},
		RateLimit:   200,
		CallTimeout: 300 * time.Millisecond,
		Metrics:     reg,
	})
	good, bad := newWire(t, r.addr), newWire(t, r.addr)
	flood := newWire(t, r.cap.Addrs()[1])
	payload, _ := ulaw(tone(0, 160))
	malformed := [][]byte{
		{0x80, 0, 1}, // shorter than a header
		append([]byte{0x40}, make([]byte, 20)...),    // RTP version 1
		append([]byte{0x8f, 0}, make([]byte, 14)...), // 15 CSRCs claimed in 16 bytes
		{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0},   // padding of 0 bytes
	}
	for i := 0; i < 100; i++ {
		p, _ := ulaw(tone(i*160, 160))
		good.send(rtpPacket(t, 0xabc, uint16(i), uint32(i*160), 0, p))
		if i < len(malformed) {
			bad.send(malformed[i])
		}
		if i == 50 {
			bad.send(rtpPacket(t, 0xbad, 1, 0, 18, payload)) // G.729
		}
	}
	good.bye(0xabc)
	for i := 0; i < 3000; i++ {
		flood.send(rtpPacket(t, 0xf100d, uint16(i), uint32(i*160), 0, payload))
	}
	calls := r.waitEnded(2, 10*time.Second)
	var floodCall, goodCall *callEvents
	for _, c := range calls {
		switch c.Ended.Reason {
		case msg.EndBye:
			goodCall = c
		case msg.EndTimeout:
			floodCall = c
		}
	}
	if goodCall == nil || floodCall == nil {
		t.Fatalf("want the good call ended by BYE and the flood by the silence timeout; got %+v", calls)
	}
	if st := goodCall.Ended.Streams; len(st) != 1 || counters(st[0]) != (msg.StreamStats{Leg: msg.RoleA, SSRC: 0xabc, Received: 100}) {
		t.Errorf("good call's streams %+v, want one with 100 received and nothing else", st)
	}
	if n := len(goodCall.Finals(msg.RoleA)); n != 1 || len(goodCall.Ended.Legs) != 1 {
		t.Errorf("good call: %d final jobs, legs %+v; want one job, one leg", n, goodCall.Ended.Legs)
	}
	if n := r.cap.Refused(capture.ErrMalformed); n != uint64(len(malformed)) {
		t.Errorf("%d malformed refused, want %d", n, len(malformed))
	}
	if n := r.cap.Refused(capture.ErrPayloadType); n != 1 {
		t.Errorf("%d refused for payload type, want 1", n)
	}
	limited := r.cap.Refused(capture.ErrRateLimited)
	st := floodCall.Ended.Streams[0]
	if limited+st.Received != 3000 || st.Received > 500 {
		t.Errorf("flood: %d rate limited + %d received, want 3000 with at most 500 (burst 400) taken", limited, st.Received)
	}
	if v := testutil.ToFloat64(mustCollector(t, reg, "earshot_capture_refused_total", "reason", "rate_limited")); uint64(v) != limited {
		t.Errorf("metric says %v rate limited, Refused says %d", v, limited)
	}
}

// mustCollector finds one labelled series of a gathered metric.
func mustCollector(t *testing.T, reg *prometheus.Registry, name, label, value string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
					g.Set(m.GetCounter().GetValue() + m.GetGauge().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("metric %s{%s=%q} not gathered", name, label, value)
	return nil
}

func TestBadAnnouncesRefusedWithTheFieldNamed(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRig(t, capture.Config{Metrics: reg})
	sub, err := r.conn.NC.Subscribe(msg.SubjectAnnounce, func(m *nats.Msg) { _ = m.Respond(r.cap.AnnounceRequest(m.Data)) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	srv := httptest.NewServer(r.cap.AnnounceHandler())
	defer srv.Close()
	cases := []struct {
		name, body, want string
		code             int
	}{
		{"no call id", `{"legs":[{"role":"agent","ssrc":1}]}`, "call_id", 400},
		{"bad call id", `{"call_id":"a b","legs":[{"role":"agent","ssrc":1}]}`, "call_id", 400},
		{"no legs", `{"call_id":"c1"}`, "legs", 400},
		{"bad role", `{"call_id":"c1","legs":[{"role":"boss","ssrc":1}]}`, "legs[0].role", 400},
		{"no ssrc or source", `{"call_id":"c1","legs":[{"role":"agent"}]}`, "legs[0] needs ssrc, source or id", 400},
		{"bad source", `{"call_id":"c1","legs":[{"role":"agent","source":"nowhere"}]}`, "legs[0].source", 400},
		{"not json", `{"call_id":`, "malformed", 400},
		{"end of unknown call", `{"call_id":"nope","end":true}`, "no such call", 404},
	}
	for _, tc := range cases {
		// Over HTTP, bare JSON.
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var rep msg.AnnounceReply
		_ = json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if resp.StatusCode != tc.code || rep.OK || !strings.Contains(rep.Error, tc.want) {
			t.Errorf("http %s: %d %+v, want %d and an error naming %q", tc.name, resp.StatusCode, rep, tc.code, tc.want)
		}
		// Over NATS, in the envelope.
		body := `{"schema":"announce","v":1,"data":` + tc.body + `}`
		m, err := r.conn.NC.Request(msg.SubjectAnnounce, []byte(body), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		rep = msg.AnnounceReply{}
		if err := msg.Unmarshal(m.Data, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.OK || !strings.Contains(rep.Error, tc.want) {
			t.Errorf("nats %s: %+v, want an error naming %q", tc.name, rep, tc.want)
		}
	}
	// A good announce still works, and the bad ones were counted.
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"call_id":"ok-1","legs":[{"role":"agent","ssrc":7}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("good announce: %s", resp.Status)
	}
	if v := testutil.ToFloat64(mustCollector(t, reg, "earshot_capture_announces_total", "result", "refused")); v != float64(2*len(cases)) {
		t.Errorf("%v announces counted as refused, want %d", v, 2*len(cases))
	}
	if err := r.cap.Announce(&msg.CallAnnounce{CallID: "ok-1", End: true}); err != nil {
		t.Fatal(err)
	}
	c := r.waitEnded(1, 5*time.Second)["ok-1"]
	if c == nil || c.Ended.Reason != msg.EndAnnounce {
		t.Fatalf("call ok-1 did not end by announce: %+v", c)
	}
}
