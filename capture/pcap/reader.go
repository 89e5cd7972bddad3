package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Errors, for errors.Is.
var (
	// ErrNotCapture: the input does not start like a pcap or pcapng file.
	ErrNotCapture = errors.New("not a pcap or pcapng file")
	// ErrTruncated: the input ends in the middle of a record.
	ErrTruncated = errors.New("truncated capture")
	// ErrMalformed: a record's header is impossible (a length too large, a
	// block of the wrong size).
	ErrMalformed = errors.New("malformed capture")
	// ErrLinkType: a link type this reader does not decode.
	ErrLinkType = errors.New("unsupported link type")
	// ErrNoStreams: a capture without RTP.
	ErrNoStreams = errors.New("no RTP streams")
)

// Link types (LINKTYPE_* in the tcpdump registry).
const (
	linkNull     = 0
	linkEthernet = 1
	linkRaw      = 101
	linkLoop     = 108
	linkSLL      = 113
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276
)

// maxRecord bounds one captured packet; larger lengths are malformed.
const maxRecord = 256 << 10

// Datagram is one UDP datagram of a capture.
type Datagram struct {
	Time    time.Time
	Src     netip.AddrPort
	Dst     netip.AddrPort
	Payload []byte // valid until the next call to Next
}

// Reader reads UDP datagrams from a pcap or pcapng stream.
type Reader struct {
	r      *bufio.Reader
	name   string
	ng     bool
	order  binary.ByteOrder
	nano   bool      // classic: nanosecond timestamps
	link   int       // classic: the file's link type
	ifaces []ngIface // pcapng: interfaces of the current section
	off    int64     // bytes consumed, for errors
	rec    int       // records read, for errors
	buf    []byte
}

type ngIface struct {
	link    int
	tsScale float64 // seconds per timestamp unit
}

// NewReader reads the file header from r; name names the input in errors.
func NewReader(r io.Reader, name string) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10), name: name}
	magic, err := rd.read(4)
	if err != nil {
		if errors.Is(err, ErrTruncated) {
			return nil, fmt.Errorf("pcap: %s: %w: %d bytes, shorter than a file header", name, ErrNotCapture, rd.off)
		}
		return nil, err
	}
	switch {
	case string(magic) == "\x0a\x0d\x0d\x0a":
		rd.ng = true
		if err := rd.readSHB(); err != nil {
			return nil, err
		}
		return rd, nil
	case binary.LittleEndian.Uint32(magic) == 0xa1b2c3d4:
		rd.order = binary.LittleEndian
	case binary.BigEndian.Uint32(magic) == 0xa1b2c3d4:
		rd.order = binary.BigEndian
	case binary.LittleEndian.Uint32(magic) == 0xa1b23c4d:
		rd.order, rd.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(magic) == 0xa1b23c4d:
		rd.order, rd.nano = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("pcap: %s: %w: starts with % x", name, ErrNotCapture, magic)
	}
	hdr, err := rd.read(20)
	if err != nil {
		return nil, err
	}
	rd.link = int(rd.order.Uint32(hdr[16:20]) & 0xffff)
	if !knownLink(rd.link) {
		return nil, fmt.Errorf("pcap: %s: %w %d", name, ErrLinkType, rd.link)
	}
	return rd, nil
}

func knownLink(l int) bool {
	switch l {
	case linkNull, linkEthernet, linkRaw, linkLoop, linkSLL, linkIPv4, linkIPv6, linkSLL2:
		return true
	}
	return false
}

// read returns the next n bytes (valid until the next read).
func (rd *Reader) read(n int) ([]byte, error) {
	if cap(rd.buf) < n {
		rd.buf = make([]byte, n)
	}
	b := rd.buf[:n]
	got, err := io.ReadFull(rd.r, b)
	rd.off += int64(got)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("pcap: %s: %w: record %d ends at byte %d, %d bytes short", rd.name, ErrTruncated, rd.rec+1, rd.off, n-got)
		}
		return nil, fmt.Errorf("pcap: %s: %w", rd.name, err)
	}
	return b, nil
}

// atEOF reports whether the input is exhausted.
func (rd *Reader) atEOF() (bool, error) {
	_, err := rd.r.Peek(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("pcap: %s: %w", rd.name, err)
	}
	return false, nil
}

// Next returns the next UDP datagram, skipping packets that are not UDP over
// IPv4/IPv6 (or are IP fragments). It returns io.EOF at the end.
func (rd *Reader) Next() (Datagram, error) {
	for {
		eof, err := rd.atEOF()
		if err != nil {
			return Datagram{}, err
		}
		if eof {
			return Datagram{}, io.EOF
		}
		var (
			ts   time.Time
			data []byte
			link int
			ok   bool
		)
		if rd.ng {
			ts, data, link, ok, err = rd.nextNG()
		} else {
			ts, data, err = rd.nextClassic()
			link, ok = rd.link, true
		}
		if err != nil {
			return Datagram{}, err
		}
		if !ok {
			continue
		}
		if d, ok := decodeLink(link, data); ok {
			d.Time = ts
			return d, nil
		}
	}
}

func (rd *Reader) nextClassic() (time.Time, []byte, error) {
	h, err := rd.read(16)
	if err != nil {
		return time.Time{}, nil, err
	}
	rd.rec++
	sec, frac := rd.order.Uint32(h[0:4]), rd.order.Uint32(h[4:8])
	incl := rd.order.Uint32(h[8:12])
	if incl > maxRecord {
		return time.Time{}, nil, fmt.Errorf("pcap: %s: %w: record %d claims %d bytes (at most %d)", rd.name, ErrMalformed, rd.rec, incl, maxRecord)
	}
	nsec := int64(frac)
	if !rd.nano {
		nsec *= 1000
	}
	ts := time.Unix(int64(sec), nsec).UTC()
	data, err := rd.read(int(incl))
	return ts, data, err
}

func (rd *Reader) readSHB() error {
	// Block type already read: total length, byte-order magic.
	h, err := rd.read(8)
	if err != nil {
		return err
	}
	switch {
	case binary.LittleEndian.Uint32(h[4:8]) == 0x1a2b3c4d:
		rd.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[4:8]) == 0x1a2b3c4d:
		rd.order = binary.BigEndian
	default:
		return fmt.Errorf("pcap: %s: %w: pcapng section header with byte-order magic % x", rd.name, ErrMalformed, h[4:8])
	}
	total := rd.order.Uint32(h[0:4])
	if total < 28 || total%4 != 0 || total > maxRecord {
		return fmt.Errorf("pcap: %s: %w: pcapng section header of %d bytes", rd.name, ErrMalformed, total)
	}
	if _, err := rd.read(int(total) - 12); err != nil {
		return err
	}
	rd.ifaces = rd.ifaces[:0]
	return nil
}

// nextNG reads one pcapng block; ok is false for blocks without a packet.
func (rd *Reader) nextNG() (ts time.Time, data []byte, link int, ok bool, err error) {
	h, err := rd.read(8)
	if err != nil {
		return ts, nil, 0, false, err
	}
	rd.rec++
	if binary.LittleEndian.Uint32(h[0:4]) == 0x0a0d0d0a {
		return ts, nil, 0, false, rd.readSHB()
	}
	typ, total := rd.order.Uint32(h[0:4]), rd.order.Uint32(h[4:8])
	if total < 12 || total%4 != 0 || total > maxRecord {
		return ts, nil, 0, false, fmt.Errorf("pcap: %s: %w: block %d (type %#x) of %d bytes", rd.name, ErrMalformed, rd.rec, typ, total)
	}
	body, err := rd.read(int(total) - 8)
	if err != nil {
		return ts, nil, 0, false, err
	}
	body = body[:len(body)-4] // trailing total length
	switch typ {
	case 1: // interface description
		if len(body) < 8 {
			return ts, nil, 0, false, fmt.Errorf("pcap: %s: %w: interface block %d of %d bytes", rd.name, ErrMalformed, rd.rec, total)
		}
		ifc := ngIface{link: int(rd.order.Uint16(body[0:2])), tsScale: 1e-6}
		opts := body[8:]
		for len(opts) >= 4 {
			code, l := rd.order.Uint16(opts[0:2]), int(rd.order.Uint16(opts[2:4]))
			if code == 0 || 4+l > len(opts) {
				break
			}
			if code == 9 && l >= 1 { // if_tsresol
				v := opts[4]
				if v&0x80 != 0 {
					ifc.tsScale = 1 / float64(uint64(1)<<(v&0x7f))
				} else {
					ifc.tsScale = 1
					for i := 0; i < int(v); i++ {
						ifc.tsScale /= 10
					}
				}
			}
			opts = opts[4+(l+3)&^3:]
		}
		rd.ifaces = append(rd.ifaces, ifc)
		return ts, nil, 0, false, nil
	case 6: // enhanced packet
		if len(body) < 20 {
			return ts, nil, 0, false, fmt.Errorf("pcap: %s: %w: packet block %d of %d bytes", rd.name, ErrMalformed, rd.rec, total)
		}
		id := rd.order.Uint32(body[0:4])
		if int(id) >= len(rd.ifaces) {
			return ts, nil, 0, false, fmt.Errorf("pcap: %s: %w: packet block %d names interface %d of %d", rd.name, ErrMalformed, rd.rec, id, len(rd.ifaces))
		}
		ifc := rd.ifaces[id]
		raw := uint64(rd.order.Uint32(body[4:8]))<<32 | uint64(rd.order.Uint32(body[8:12]))
		capLen := rd.order.Uint32(body[12:16])
		if int(capLen) > len(body)-20 {
			return ts, nil, 0, false, fmt.Errorf("pcap: %s: %w: packet block %d claims %d captured bytes in %d", rd.name, ErrMalformed, rd.rec, capLen, len(body)-20)
		}
		secs := float64(raw) * ifc.tsScale
		ts = time.Unix(0, int64(secs*1e9)).UTC()
		return ts, body[20 : 20+capLen], ifc.link, knownLink(ifc.link), nil
	case 3: // simple packet: interface 0, no timestamp
		if len(rd.ifaces) == 0 || len(body) < 4 {
			return ts, nil, 0, false, fmt.Errorf("pcap: %s: %w: simple packet block %d without an interface", rd.name, ErrMalformed, rd.rec)
		}
		return ts, body[4:], rd.ifaces[0].link, knownLink(rd.ifaces[0].link), nil
	}
	return ts, nil, 0, false, nil
}

// decodeLink strips the link header and decodes IP and UDP.
func decodeLink(link int, b []byte) (Datagram, bool) {
	var ethType uint16
	switch link {
	case linkEthernet:
		if len(b) < 14 {
			return Datagram{}, false
		}
		ethType, b = binary.BigEndian.Uint16(b[12:14]), b[14:]
		for (ethType == 0x8100 || ethType == 0x88a8) && len(b) >= 4 { // VLAN tags
			ethType, b = binary.BigEndian.Uint16(b[2:4]), b[4:]
		}
	case linkSLL:
		if len(b) < 16 {
			return Datagram{}, false
		}
		ethType, b = binary.BigEndian.Uint16(b[14:16]), b[16:]
	case linkSLL2:
		if len(b) < 20 {
			return Datagram{}, false
		}
		ethType, b = binary.BigEndian.Uint16(b[0:2]), b[20:]
	case linkNull, linkLoop:
		if len(b) < 4 {
			return Datagram{}, false
		}
		b = b[4:]
		ethType = ipVersionType(b)
	case linkRaw, linkIPv4, linkIPv6:
		ethType = ipVersionType(b)
	default:
		return Datagram{}, false
	}
	switch ethType {
	case 0x0800:
		return decodeIPv4(b)
	case 0x86dd:
		return decodeIPv6(b)
	}
	return Datagram{}, false
}

func ipVersionType(b []byte) uint16 {
	if len(b) == 0 {
		return 0
	}
	switch b[0] >> 4 {
	case 4:
		return 0x0800
	case 6:
		return 0x86dd
	}
	return 0
}

func decodeIPv4(b []byte) (Datagram, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return Datagram{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl || len(b) < ihl {
		return Datagram{}, false
	}
	if total <= len(b) {
		b = b[:total] // drop Ethernet padding
	}
	if flags := binary.BigEndian.Uint16(b[6:8]); flags&0x3fff != 0 {
		return Datagram{}, false // fragment
	}
	if b[9] != 17 {
		return Datagram{}, false
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	return decodeUDP(src, dst, b[ihl:])
}

func decodeIPv6(b []byte) (Datagram, bool) {
	if len(b) < 40 || b[0]>>4 != 6 {
		return Datagram{}, false
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if b[6] != 17 { // extension headers are not followed
		return Datagram{}, false
	}
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	b = b[40:]
	if plen <= len(b) {
		b = b[:plen]
	}
	return decodeUDP(src, dst, b)
}

func decodeUDP(src, dst netip.Addr, b []byte) (Datagram, bool) {
	if len(b) < 8 {
		return Datagram{}, false
	}
	l := int(binary.BigEndian.Uint16(b[4:6]))
	if l < 8 || l > len(b) {
		return Datagram{}, false // truncated by the snap length
	}
	return Datagram{
		Src:     netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:2])),
		Dst:     netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:4])),
		Payload: b[8:l],
	}, true
}
