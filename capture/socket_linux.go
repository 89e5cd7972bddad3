package capture

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reusePort says whether several sockets can share a port (SO_REUSEPORT).
const reusePort = true

// batchLen is how many datagrams one read takes at most (one recvmmsg).
const batchLen = 64

// listenReusePort opens a socket on addr with SO_REUSEPORT set, joining
// the sockets already bound there with it.
func listenReusePort(addr netip.AddrPort) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// socketDrops is the kernel's count of datagrams dropped at conn
// (sk_drops: a full receive buffer), as SO_MEMINFO reports it; 0 once conn
// is closed.
func socketDrops(conn *net.UDPConn) uint64 {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	var mem [unix.SK_MEMINFO_VARS]uint32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		n := uint32(unsafe.Sizeof(mem))
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&n)), 0)
	}); err != nil || errno != 0 {
		return 0
	}
	return uint64(mem[unix.SK_MEMINFO_DROPS])
}

// batchReader reads up to batchLen datagrams with one recvmmsg, waiting in
// Go's netpoller when there are none. It allocates nothing per read.
type batchReader struct {
	rc    syscall.RawConn
	hs    [batchLen]unix.Mmsghdr
	iovs  [batchLen]unix.Iovec
	names [batchLen]unix.RawSockaddrInet6 // room for IPv4 and IPv6
	buf   [batchLen][2048]byte
	out   [batchLen]datagram

	recv  func(fd uintptr) bool // r.recvmmsg, made once
	n     int
	errno syscall.Errno
}

func newBatchReader(conn *net.UDPConn) (*batchReader, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &batchReader{rc: rc}
	for i := range r.hs {
		r.iovs[i].Base = &r.buf[i][0]
		r.iovs[i].SetLen(len(r.buf[i]))
		h := &r.hs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
	}
	r.recv = r.recvmmsg
	return r, nil
}

// read returns the next batch (valid until the next read).
func (r *batchReader) read() ([]datagram, error) {
	for i := range r.hs {
		r.hs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		r.hs[i].Hdr.Flags = 0
	}
	r.n, r.errno = 0, 0
	if err := r.rc.Read(r.recv); err != nil {
		return nil, err
	}
	if r.errno != 0 {
		return nil, &net.OpError{Op: "recvmmsg", Net: "udp", Err: r.errno}
	}
	out := r.out[:r.n]
	for i := range out {
		out[i] = datagram{from: sockaddrAddrPort(&r.names[i]), b: r.buf[i][:r.hs[i].Len]}
	}
	return out, nil
}

// recvmmsg is the RawConn.Read callback: false asks the netpoller to wait
// until the socket is readable.
func (r *batchReader) recvmmsg(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hs[0])), batchLen,
			unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case 0:
			r.n = int(n)
		default:
			r.errno = errno
		}
		return true
	}
}

// sockaddrAddrPort reads an AF_INET or AF_INET6 socket address.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port))
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), ntohs(sa.Port))
	}
	return netip.AddrPort{}
}

// ntohs reads a port stored in network byte order.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
