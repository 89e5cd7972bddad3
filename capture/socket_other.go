//go:build !linux

package capture

import (
	"errors"
	"net"
	"net/netip"
)

// reusePort says whether several sockets can share a port: capture uses
// SO_REUSEPORT groups on Linux only.
const reusePort = false

func listenReusePort(netip.AddrPort) (*net.UDPConn, error) {
	return nil, errors.New("sockets sharing a port (SO_REUSEPORT) need Linux")
}

// socketDrops is not read outside Linux.
func socketDrops(*net.UDPConn) uint64 { return 0 }

// batchReader reads one datagram at a time.
type batchReader struct {
	conn *net.UDPConn
	buf  [2048]byte
	out  [1]datagram
}

func newBatchReader(conn *net.UDPConn) (*batchReader, error) {
	return &batchReader{conn: conn}, nil
}

func (r *batchReader) read() ([]datagram, error) {
	n, from, err := r.conn.ReadFromUDPAddrPort(r.buf[:])
	if err != nil {
		return nil, err
	}
	r.out[0] = datagram{from: from, b: r.buf[:n]}
	return r.out[:], nil
}
