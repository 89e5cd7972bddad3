package pcap_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/earshot-dev/earshot/capture/pcap"
)

// udp4 is an IPv4 UDP datagram from one address to another.
func udp4(from, to netip.AddrPort, payload []byte) []byte {
	u := binary.BigEndian.AppendUint16(nil, from.Port())
	u = binary.BigEndian.AppendUint16(u, to.Port())
	u = binary.BigEndian.AppendUint16(u, uint16(8+len(payload)))
	u = append(append(u, 0, 0), payload...)
	ip := []byte{0x45, 0}
	ip = binary.BigEndian.AppendUint16(ip, uint16(20+len(u)))
	ip = append(ip, 0, 0, 0, 0, 64, 17, 0, 0)
	s, d := from.Addr().As4(), to.Addr().As4()
	ip = append(append(ip, s[:]...), d[:]...)
	return append(ip, u...)
}

// rtpPacket is a G.711 µ-law RTP packet.
func rtpPacket(ssrc uint32, seq uint16) []byte {
	b := []byte{0x80, 0}
	b = binary.BigEndian.AppendUint16(b, seq)
	b = binary.BigEndian.AppendUint32(b, uint32(seq)*160)
	b = binary.BigEndian.AppendUint32(b, ssrc)
	return append(b, bytes.Repeat([]byte{0xff}, 160)...)
}

// TestReadStreamsDropsRelayCopies: a capture taken at a relay sees each
// stream twice, caller to relay and relay to callee, with the same SSRC and
// sequence numbers. It is one call of two streams, not two calls.
func TestReadStreamsDropsRelayCopies(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:4000")
	r1 := netip.MustParseAddrPort("10.0.0.9:30000")
	r2 := netip.MustParseAddrPort("10.0.1.9:30002")
	b := netip.MustParseAddrPort("10.0.1.2:5000")
	var recs [][]byte
	for i := range uint16(5) {
		x, y := rtpPacket(0x1111, 100+i), rtpPacket(0x2222, 7000+i)
		recs = append(recs, udp4(a, r1, x), udp4(r2, b, x), udp4(b, r2, y), udp4(r1, a, y))
	}
	// A third stream on its own, which reuses nothing.
	recs = append(recs, udp4(netip.MustParseAddrPort("10.0.2.1:6000"), r1, rtpPacket(0x3333, 1)))
	for i := range recs {
		recs[i] = ether(recs[i], 0x0800, false)
	}
	c, err := pcap.ReadStreams(bytes.NewReader(classic(binary.LittleEndian, false, 1, recs...)), "relay.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if c.Duplicates != 2 {
		t.Errorf("Duplicates = %d, want 2 (each of the two streams seen at a second hop)", c.Duplicates)
	}
	if len(c.Calls) != 2 || len(c.Calls[0].Streams) != 2 || len(c.Calls[1].Streams) != 1 {
		t.Fatalf("calls %+v; want one of two streams and the lone one", c.Calls)
	}
	for _, s := range c.Calls[0].Streams {
		if len(s.Packets) != 5 || (s.Src != a && s.Dst != a) {
			t.Errorf("stream %08x %s -> %s with %d packets; want both on the first hop (a <-> relay), 5 packets each", s.SSRC, s.Src, s.Dst, len(s.Packets))
		}
	}
}
