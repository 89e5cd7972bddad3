package capture

import (
	"errors"
	"net"
	"net/netip"
)

// MaxReaders bounds Config.Readers.
const MaxReaders = 64

// datagram is one datagram a socket read: its source and its bytes (valid
// until the socket's next read).
type datagram struct {
	from netip.AddrPort
	b    []byte
}

// SocketStats are counters of capture's RTP sockets.
type SocketStats struct {
	// Datagrams is how many datagrams capture read from its sockets.
	Datagrams uint64
	// Drops is how many datagrams the kernel dropped because a socket's
	// receive buffer was full (capture did not read fast enough).
	Drops uint64
}

// SocketStats reads the sockets' counters.
func (c *Capture) SocketStats() SocketStats {
	s := SocketStats{Datagrams: c.datagrams.Load()}
	for _, conn := range c.conns {
		s.Drops += socketDrops(conn)
	}
	return s
}

// readBuffer is the receive buffer asked for each socket (the kernel caps
// it at net.core.rmem_max).
const readBuffer = 4 << 20

// listenUDP opens n sockets on addr. More than one share its port with
// SO_REUSEPORT: the kernel hashes each source to one of them, so one
// source's packets always come through one socket. Before the group binds,
// a socket without SO_REUSEPORT takes the port (or picks one for port 0)
// and lets it go, so that a port someone else holds is refused as before
// rather than shared with them.
func listenUDP(addr netip.AddrPort, n int) ([]*net.UDPConn, error) {
	probe, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	if n == 1 {
		_ = probe.SetReadBuffer(readBuffer)
		return []*net.UDPConn{probe}, nil
	}
	addr = probe.LocalAddr().(*net.UDPAddr).AddrPort()
	probe.Close()
	conns := make([]*net.UDPConn, 0, n)
	for range n {
		conn, err := listenReusePort(addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		_ = conn.SetReadBuffer(readBuffer)
		conns = append(conns, conn)
	}
	return conns, nil
}

// read reads conn until it is closed, a batch at a time, and hands each
// batch on in the order it came.
func (c *Capture) read(conn *net.UDPConn) {
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	r, err := newBatchReader(conn)
	if err != nil {
		c.log.Error("capture: udp reader", "addr", local, "err", err)
		return
	}
	for {
		ds, err := r.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn("capture: udp read", "addr", local, "err", err)
			continue
		}
		c.handleBatch(ds, local)
		c.datagrams.Add(uint64(len(ds)))
	}
}
