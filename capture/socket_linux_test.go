package capture

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
)

// TestReusePortKeepsEachSourceOnOneSocket: four sockets share a port; 64
// sources send 20 numbered datagrams each, interleaved. Every source's
// datagrams come through one socket, in the order sent, with the source
// address read right, and the sources are spread over more than one
// socket.
func TestReusePortKeepsEachSourceOnOneSocket(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			conns, err := listenUDP(netip.AddrPortFrom(netip.MustParseAddr(host), 0), 4)
			if err != nil {
				if host == "::1" {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				t.Fatal(err)
			}
			if len(conns) != 4 {
				t.Fatalf("%d sockets, want 4", len(conns))
			}
			to := conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
			for _, c := range conns[1:] {
				if got := c.LocalAddr().(*net.UDPAddr).AddrPort(); got != to {
					t.Fatalf("socket on %s, want all on %s", got, to)
				}
			}
			const sources, each = 64, 20
			type seen struct {
				socket, seq int
			}
			var mu sync.Mutex
			got := map[netip.AddrPort][]seen{}
			all := make(chan struct{})
			var wg sync.WaitGroup
			for i, conn := range conns {
				wg.Go(func() {
					r, err := newBatchReader(conn)
					if err != nil {
						t.Error(err)
						return
					}
					for {
						ds, err := r.read()
						if err != nil {
							if !errors.Is(err, net.ErrClosed) {
								t.Error(err)
							}
							return
						}
						mu.Lock()
						for _, d := range ds {
							got[d.from] = append(got[d.from], seen{i, int(binary.BigEndian.Uint32(d.b))})
						}
						n := 0
						for _, s := range got {
							n += len(s)
						}
						if n == sources*each {
							close(all)
						}
						mu.Unlock()
					}
				})
			}
			srcs := make([]*net.UDPConn, sources)
			for i := range srcs {
				if srcs[i], err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to)); err != nil {
					t.Fatal(err)
				}
				defer srcs[i].Close()
			}
			for seq := range each {
				for _, s := range srcs {
					if _, err := s.Write(binary.BigEndian.AppendUint32(nil, uint32(seq))); err != nil {
						t.Fatal(err)
					}
				}
			}
			<-all
			for _, c := range conns {
				c.Close()
			}
			wg.Wait()
			used := map[int]bool{}
			for _, s := range srcs {
				from := s.LocalAddr().(*net.UDPAddr).AddrPort()
				ds := got[from]
				if len(ds) != each {
					t.Fatalf("source %s: %d datagrams, want %d (sources seen: %d)", from, len(ds), each, len(got))
				}
				for k, d := range ds {
					if d.socket != ds[0].socket || d.seq != k {
						t.Fatalf("source %s: datagram %d came as %d on socket %d, want %d on socket %d", from, k, d.seq, d.socket, k, ds[0].socket)
					}
				}
				used[ds[0].socket] = true
			}
			if len(used) < 2 {
				t.Errorf("all %d sources on one socket of 4", sources)
			}
		})
	}
}

// TestListenRefusesAPortHeldElsewhere: a port another socket holds, with
// SO_REUSEPORT or without, is refused rather than shared.
func TestListenRefusesAPortHeldElsewhere(t *testing.T) {
	plain, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	shared, err := listenReusePort(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	for _, held := range []*net.UDPConn{plain, shared} {
		addr := held.LocalAddr().(*net.UDPAddr).AddrPort()
		conns, err := listenUDP(addr, 2)
		if !errors.Is(err, syscall.EADDRINUSE) {
			for _, c := range conns {
				c.Close()
			}
			t.Errorf("listen on %s held elsewhere: %v, want address in use", addr, err)
		}
	}
}
