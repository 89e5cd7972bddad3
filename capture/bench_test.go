package capture_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
)

// BenchmarkPacketPath measures, with Run publishing to a discarding
// publisher, one RTP packet through parse, jitter buffer,
// G.711 decode and VAD (with the jobs it cuts: 2 s of tone, 1 s of silence,
// over and over), for one leg and spread over 1000 legs (with the
// per-source rate limiter on).
func BenchmarkPacketPath(b *testing.B) {
	for _, legs := range []int{1, 1000} {
		b.Run(fmt.Sprintf("legs=%d", legs), func(b *testing.B) {
			cfg := capture.Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}}
			if legs == 1 {
				cfg.RateLimit = -1 // one source far above any real stream's rate
			}
			c := capturetest.Run(b, cfg)
			// Each leg is its own undeclared call on its own capture
			// address (addresses need not be bound to be handled).
			type leg struct {
				pkt      []byte
				from, to netip.AddrPort
			}
			ls := make([]leg, legs)
			for i := range ls {
				p := make([]byte, 12+160)
				p[0], p[1] = 0x80, 0
				binary.BigEndian.PutUint32(p[8:], uint32(i+1))
				ls[i] = leg{p, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 4000),
					netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+i))}
			}
			toneP, _ := ulaw(tone(0, 160))
			silent, _ := ulaw(make([]int16, 160))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l := &ls[i%legs]
				n := i / legs
				binary.BigEndian.PutUint16(l.pkt[2:], uint16(n))
				binary.BigEndian.PutUint32(l.pkt[4:], uint32(n*160))
				if n%150 < 100 {
					copy(l.pkt[12:], toneP)
				} else {
					copy(l.pkt[12:], silent)
				}
				c.Handle(l.pkt, l.from, l.to)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkt/s")
		})
	}
}
