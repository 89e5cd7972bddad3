package capture_test

import (
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/msg"
	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

// wire sends hand-made RTP to a capture from one socket.
type wire struct {
	t    *testing.T
	conn *net.UDPConn
	to   netip.AddrPort
}

func newWire(t *testing.T, to netip.AddrPort) *wire {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &wire{t: t, conn: c, to: to}
}

func (w *wire) send(b []byte) {
	w.t.Helper()
	if _, err := w.conn.WriteToUDPAddrPort(b, w.to); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wire) addr() netip.AddrPort { return w.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (w *wire) bye(ssrc uint32) {
	b := []byte{0x81, 203, 0, 1, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], ssrc)
	w.send(b)
}

func rtpPacket(t *testing.T, ssrc uint32, seq uint16, ts uint32, pt uint8, payload []byte) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tone is n samples of a 440 Hz tone at about -12 dBFS from sample k on.
func tone(k, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(k+i)/8000))
	}
	return out
}

func ulaw(pcm []int16) ([]byte, []int16) {
	b := make([]byte, len(pcm))
	d := make([]int16, len(pcm))
	for i, s := range pcm {
		b[i] = g711.EncodeUlawFrame(s)
		d[i] = g711.DecodeUlawFrame(b[i])
	}
	return b, d
}

func TestInjectedLossReorderDuplicatesWrapAndSSRCChange(t *testing.T) {
	r := newRig(t, capture.Config{})
	w := newWire(t, r.addr)
	const n = 150
	const ssrc1, ssrc2 = 0x1111, 0x2222
	seq0, ts0 := uint16(65500), uint32(4294960000) // both wrap during the call
	pkts := make([][]byte, n)
	var want []int16
	lost := map[int]bool{20: true, 21: true, 100: true}
	for i := range pkts {
		payload, dec := ulaw(tone(i*160, 160))
		pkts[i] = rtpPacket(t, ssrc1, seq0+uint16(i), ts0+uint32(i*160), 0, payload)
		if lost[i] {
			dec = make([]int16, 160)
		}
		want = append(want, dec...)
	}
	var order []int
	for i := 0; i < n; i++ {
		switch i {
		case 20, 21, 100: // lost on the wire
		case 40: // 41 overtakes 40
			order = append(order, 41, 40)
		case 41:
		case 60: // duplicated at once
			order = append(order, 60, 60)
		case 80: // an old packet again
			order = append(order, 80, 10)
		case 120: // withheld a little: in time (TestCombinedImpairmentCountsExactly has late ones)
		case 126:
			order = append(order, 126, 120)
		default:
			order = append(order, i)
		}
	}
	for _, i := range order {
		w.send(pkts[i])
	}
	// The same source changes SSRC: a new stream on the same leg, whose
	// timestamps jump once (re-anchored, nothing filled) and leave one
	// 100 ms gap (filled with silence).
	ts := uint32(123456)
	for i := 0; i < 50; i++ {
		if i == 25 {
			ts += 1_000_000
		}
		if i == 35 {
			ts += 800
			want = append(want, make([]int16, 800)...)
		}
		payload, dec := ulaw(tone((n+i)*160, 160))
		w.send(rtpPacket(t, ssrc2, uint16(7+i), ts, 0, payload))
		want = append(want, dec...)
		ts += 160
	}
	w.bye(ssrc2)
	var c *callEvents
	for _, ce := range r.waitEnded(1, 10*time.Second) {
		c = ce
	}
	if c.Ended.Reason != msg.EndBye {
		t.Errorf("ended by %q, want %q", c.Ended.Reason, msg.EndBye)
	}
	wantStats := []msg.StreamStats{
		{Leg: msg.RoleA, SSRC: ssrc1, Received: uint64(len(order)), Lost: 3, Duplicate: 2, Reordered: 2},
		{Leg: msg.RoleA, SSRC: ssrc2, Received: 50},
	}
	if len(c.Ended.Streams) != 2 || counters(c.Ended.Streams[0]) != wantStats[0] || counters(c.Ended.Streams[1]) != wantStats[1] {
		t.Errorf("stream stats\n got %+v\nwant %+v", c.Ended.Streams, wantStats)
	}
	jobs := c.Finals(msg.RoleA)
	if len(jobs) != 1 {
		t.Fatalf("%d final jobs, want the one turn of continuous tone", len(jobs))
	}
	j := jobs[0]
	if j.StartMS != 0 || len(j.PCM) != len(want) {
		t.Fatalf("job %d..%d ms, %d samples; want 0 ms and %d samples", j.StartMS, j.EndMS, len(j.PCM), len(want))
	}
	for i := range want {
		if j.PCM[i] != want[i] {
			t.Fatalf("sample %d (packet %d) is %d, want %d", i, i/160, j.PCM[i], want[i])
		}
	}
	if len(c.Ended.Legs) != 1 || c.Ended.Legs[0].Codec != "PCMU" || c.Ended.Legs[0].Source != w.addr().String() {
		t.Errorf("legs %+v", c.Ended.Legs)
	}
}

// TestLegsKeepTheirPlacesFasterThanRealTime: a leg that joins after the
// other has sent 2 s of media starts 2 s into the call, however fast the
// media came.
func TestLegsKeepTheirPlacesFasterThanRealTime(t *testing.T) {
	r := newRig(t, capture.Config{})
	a, b := netip.MustParseAddrPort("10.1.1.1:4000"), netip.MustParseAddrPort("10.1.1.2:4000")
	for i := 0; i < 150; i++ {
		p, _ := ulaw(tone(i*160, 160))
		if i >= 100 {
			r.cap.Handle(rtpPacket(t, 0xb, uint16(i), uint32(i*160), 0, p), b, r.addr)
		}
		r.cap.Handle(rtpPacket(t, 0xa, uint16(i), uint32(i*160), 0, p), a, r.addr)
	}
	bye := func(ssrc uint32) []byte {
		return []byte{0x81, 203, 0, 1, 0, 0, 0, byte(ssrc)}
	}
	r.cap.Handle(bye(0xa), a, r.addr)
	r.cap.Handle(bye(0xb), b, r.addr)
	var c *callEvents
	for _, ce := range r.waitEnded(1, 10*time.Second) {
		c = ce
	}
	fa, fb := c.Finals(msg.RoleA), c.Finals(msg.RoleB)
	if len(fa) != 1 || len(fb) != 1 {
		t.Fatalf("finals a %d b %d, want 1 each", len(fa), len(fb))
	}
	if fa[0].StartMS != 0 || fb[0].StartMS != 2000 || fb[0].EndMS != 3000 {
		t.Errorf("leg a %d..%d ms, leg b %d..%d ms; want b at 2000..3000 ms", fa[0].StartMS, fa[0].EndMS, fb[0].StartMS, fb[0].EndMS)
	}
	var ov []*msg.TimelineEvent
	for _, e := range c.Timeline {
		if e.Kind == msg.SpanOverlap {
			ov = append(ov, e)
		}
	}
	if len(ov) != 1 || ov[0].Leg != msg.RoleB || ov[0].StartMS != 2000 || ov[0].EndMS != 3000 {
		t.Errorf("overlaps %v, want b interrupting a 2000..3000 ms", ov)
	}
}
