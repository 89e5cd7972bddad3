package sender

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"
)

// Speed says how fast packets go out: Factor times real time (0 means 1),
// or, with Max, as fast as the sockets take them (the receiver's socket
// buffer may then drop packets).
type Speed struct {
	Factor float64
	Max    bool
}

// ParseSpeed reads "max" or a positive factor ("1", "20").
func ParseSpeed(s string) (Speed, error) {
	if s == "max" {
		return Speed{Max: true}, nil
	}
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil || f <= 0 || f > 1e6 {
		return Speed{}, fmt.Errorf("speed %q: want a positive factor (1 is real time) or max", s)
	}
	return Speed{Factor: f}, nil
}

// timed is one datagram to send at a time since the start.
type timed struct {
	at   time.Duration
	conn int
	to   netip.AddrPort
	data []byte
}

// listenFor opens a UDP socket to send to to: on from when it is valid,
// else on an ephemeral port of the loopback or unspecified address.
func listenFor(to, from netip.AddrPort) (*net.UDPConn, error) {
	if !from.IsValid() {
		switch {
		case to.Addr().Is4() && to.Addr().IsLoopback():
			from = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)
		case to.Addr().Is4():
			from = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		default:
			from = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(from))
	if err != nil {
		return nil, fmt.Errorf("send: socket on %s: %w", from, err)
	}
	_ = c.SetWriteBuffer(1 << 20)
	return c, nil
}

func localAddr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// transmit sends pkts (in any order) on their sockets at their times;
// started, when set, is told when their clock starts.
func transmit(ctx context.Context, conns []*net.UDPConn, pkts []timed, sp Speed, started func(time.Time)) error {
	sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].at < pkts[j].at })
	factor := sp.Factor
	if factor == 0 {
		factor = 1
	}
	start := time.Now()
	if started != nil {
		started(start)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for _, p := range pkts {
		if !sp.Max {
			if wait := time.Until(start.Add(time.Duration(float64(p.at) / factor))); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-timer.C:
				}
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := conns[p.conn].WriteToUDPAddrPort(p.data, p.to); err != nil {
			return fmt.Errorf("send: to %s: %w", p.to, err)
		}
	}
	return nil
}

// rtcpBye builds an RTCP BYE for ssrc.
func rtcpBye(ssrc uint32) []byte {
	b := make([]byte, 8)
	b[0] = 2<<6 | 1
	b[1] = 203
	binary.BigEndian.PutUint16(b[2:4], 1)
	binary.BigEndian.PutUint32(b[4:8], ssrc)
	return b
}
