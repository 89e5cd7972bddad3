//go:build linux

package capture_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/msg"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Socket benchmark shape: sendLegs sources (one UDP socket each) send
// sendBatch packets of one leg per sendmmsg, round robin, and never more
// than sendWindow packets ahead of what the receiver has read, so that
// the receiver's buffers never overflow and the figure is what it takes,
// not what the kernel threw away.
const (
	sendLegs   = 1000
	sendBatch  = 16
	sendWindow = 4096
)

// BenchmarkSocket measures RTP packets per second through real UDP
// sockets on 127.0.0.1, in one run: a plain Go ReadFromUDPAddrPort loop, a
// plain golang.org/x/net/ipv4 ReadBatch (recvmmsg) loop, and capture itself
// (batched reads, parse, jitter buffer, G.711, VAD, jobs published to a
// discarding publisher) with one and two readers on the port. The sender
// (1000 legs, sendmmsg) runs on a thread of its own in the same process and
// shares the machine's cores: send-cores and recv-cores are the CPU seconds
// per second each side used (recv-cores is the process less the sender,
// so it includes capture's other goroutines and the GC), and pkt/recv-cpu-s
// is packets per CPU second of the receiving side.
func BenchmarkSocket(b *testing.B) {
	b.Run("ReadFrom", func(b *testing.B) {
		conn := listenBench(b)
		var got atomic.Uint64
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 2048)
			for {
				if _, _, err := conn.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
				got.Add(1)
			}
		}()
		blast(b, conn.LocalAddr().(*net.UDPAddr).AddrPort(), got.Load, nil)
		conn.Close()
		<-done
	})
	b.Run("ReadBatch", func(b *testing.B) {
		conn := listenBench(b)
		var got atomic.Uint64
		done := make(chan struct{})
		go func() {
			defer close(done)
			pc := ipv4.NewPacketConn(conn)
			ms := make([]ipv4.Message, 64)
			for i := range ms {
				ms[i].Buffers = [][]byte{make([]byte, 2048)}
			}
			for {
				n, err := pc.ReadBatch(ms, 0)
				if err != nil {
					return
				}
				got.Add(uint64(n))
			}
		}()
		blast(b, conn.LocalAddr().(*net.UDPAddr).AddrPort(), got.Load, nil)
		conn.Close()
		<-done
	})
	for _, readers := range []int{1, 2} {
		b.Run(fmt.Sprintf("Capture/readers=%d", readers), func(b *testing.B) {
			c := capturetest.Run(b, capture.Config{
				Listen:  []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
				Readers: readers,
			})
			blast(b, c.Addrs()[0], func() uint64 { return c.SocketStats().Datagrams }, func(legs []netip.AddrPort) {
				for i := 0; i < len(legs); i += 2 {
					a := &msg.CallAnnounce{CallID: fmt.Sprintf("bench-%d", i/2), Legs: []msg.LegSpec{
						{Role: msg.RoleAgent, Source: legs[i].String()}, {Role: msg.RoleCustomer, Source: legs[i+1].String()}}}
					if err := c.Announce(a); err != nil {
						b.Fatal(err)
					}
				}
			})
			if d := c.SocketStats().Drops; d > 0 {
				b.Errorf("the kernel dropped %d datagrams", d)
			}
		})
	}
}

func listenBench(b *testing.B) *net.UDPConn {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	return conn
}

// blast sends b.N RTP packets from sendLegs sources to `to` and returns
// once received() says all were read (the sender waits for it, polling,
// so that the receivers have the other core). announce, when set, is told the
// sources before the timer starts.
func blast(b *testing.B, to netip.AddrPort, received func() uint64, announce func(legs []netip.AddrPort)) {
	legs := make([]*ipv4.PacketConn, sendLegs)
	srcs := make([]netip.AddrPort, sendLegs)
	for i := range legs {
		conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetWriteBuffer(1 << 20)
		legs[i], srcs[i] = ipv4.NewPacketConn(conn), conn.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	if announce != nil {
		announce(srcs)
	}
	toneP, _ := ulaw(tone(0, 160))
	silent, _ := ulaw(make([]int16, 160))
	ms := make([]ipv4.Message, sendBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 12+160)}
	}
	seq := make([]int, sendLegs)
	start := received()
	want := start + uint64(b.N)
	sent := make(chan sendCost, 1)
	b.ReportAllocs()
	b.ResetTimer()
	self0 := rusage(unix.RUSAGE_SELF)
	go func() {
		// The sender's thread is its own, so that its CPU can be told apart.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		t0 := rusage(unix.RUSAGE_THREAD)
		var cost sendCost
		defer func() { cost.cpu = rusage(unix.RUSAGE_THREAD) - t0; sent <- cost }()
		for n, leg := 0, 0; n < b.N; leg = (leg + 1) % sendLegs {
			if start+uint64(n) > received()+sendWindow-sendBatch {
				// Pacing: the receiver is a window behind.
				if cost.err = waitRead(received, start+uint64(n)+sendBatch-sendWindow); cost.err != nil {
					return
				}
			}
			k := min(sendBatch, b.N-n)
			for i := range k {
				p := ms[i].Buffers[0]
				s := seq[leg] + i
				p[0], p[1] = 0x80, 0
				binary.BigEndian.PutUint16(p[2:], uint16(s))
				binary.BigEndian.PutUint32(p[4:], uint32(s*160))
				binary.BigEndian.PutUint32(p[8:], uint32(leg+1))
				if s%150 < 100 {
					copy(p[12:], toneP)
				} else {
					copy(p[12:], silent)
				}
			}
			for off := 0; off < k; {
				w, err := legs[leg].WriteBatch(ms[off:k], 0)
				if err != nil {
					cost.err = err
					return
				}
				off += w
			}
			seq[leg] += k
			n += k
		}
		cost.err = waitRead(received, want)
	}()
	cost := <-sent
	b.StopTimer()
	if cost.err != nil {
		b.Fatal(cost.err)
	}
	elapsed := b.Elapsed().Seconds()
	self := rusage(unix.RUSAGE_SELF) - self0
	b.ReportMetric(float64(b.N)/elapsed, "pkt/s")
	b.ReportMetric(cost.cpu.Seconds()/elapsed, "send-cores")
	b.ReportMetric((self-cost.cpu).Seconds()/elapsed, "recv-cores")
	b.ReportMetric(float64(b.N)/(self-cost.cpu).Seconds(), "pkt/recv-cpu-s")
}

// waitRead waits until received() reaches n. A datagram lost (a full
// buffer somewhere) would stall the receiver for good, so it gives up
// after 5 s without progress.
func waitRead(received func() uint64, n uint64) error {
	last, since := received(), time.Now()
	for r := last; r < n; r = received() {
		if r != last {
			last, since = r, time.Now()
		} else if time.Since(since) > 5*time.Second {
			return fmt.Errorf("receiver stalled %d datagrams short: some were dropped", n-r)
		}
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}

// sendCost is what the sender used, or why it stopped.
type sendCost struct {
	cpu time.Duration
	err error
}

// rusage is the user and system CPU of who (RUSAGE_SELF, RUSAGE_THREAD).
func rusage(who int) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
