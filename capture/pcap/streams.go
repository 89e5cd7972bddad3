package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"time"
)

// Packet is one RTP packet of a stream.
type Packet struct {
	At   time.Duration // since the capture's first RTP packet
	Data []byte        // the whole RTP packet
}

// Stream is one RTP stream: one SSRC from one source to one destination.
type Stream struct {
	Src, Dst    netip.AddrPort
	SSRC        uint32
	PayloadType uint8 // of the first packet
	Packets     []Packet
}

// Call is the streams that belong together: one SIP dialog (CallID set) or,
// without SIP, the two directions between the same two addresses.
type Call struct {
	CallID  string // SIP Call-ID, "" when the capture has no SIP for it
	Streams []*Stream
}

// Capture is what a file holds.
type Capture struct {
	Calls []*Call
	// Datagrams counts every UDP datagram read; RTP those taken as RTP.
	Datagrams, RTP int
	// Duplicates counts the streams left out because they are another
	// stream seen again at a second hop (a relay's capture): same SSRC and
	// first sequence number, starting within relayWindow.
	Duplicates int
}

// relayWindow bounds how far apart a stream and its copy at a second hop
// start.
const relayWindow = 2 * time.Second

// ReadStreams reads a whole capture from r (name names it in errors) and
// returns its RTP streams grouped into calls in order of first packet. A
// capture without any RTP stream is an error.
func ReadStreams(r io.Reader, name string) (*Capture, error) {
	rd, err := NewReader(r, name)
	if err != nil {
		return nil, err
	}
	type key struct {
		src, dst netip.AddrPort
		ssrc     uint32
	}
	var (
		order   []*Stream
		streams = map[key]*Stream{}
		media   = map[netip.AddrPort]string{} // SDP media address -> Call-ID
		first   time.Time
		c       Capture
	)
	for {
		d, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		c.Datagrams++
		if id, addrs := parseSIP(d.Payload); id != "" {
			for _, a := range addrs {
				media[a] = id
			}
			continue
		}
		if !looksRTP(d.Payload) {
			continue
		}
		c.RTP++
		if first.IsZero() {
			first = d.Time
		}
		k := key{d.Src, d.Dst, binary.BigEndian.Uint32(d.Payload[8:12])}
		s := streams[k]
		if s == nil {
			s = &Stream{Src: d.Src, Dst: d.Dst, SSRC: k.ssrc, PayloadType: d.Payload[1] & 0x7f}
			streams[k] = s
			order = append(order, s)
		}
		at := d.Time.Sub(first)
		if at < 0 {
			at = 0
		}
		s.Packets = append(s.Packets, Packet{At: at, Data: bytes.Clone(d.Payload)})
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("pcap: %s: %w among %d UDP datagrams", name, ErrNoStreams, c.Datagrams)
	}
	order, c.Duplicates = dropRelayCopies(order)
	calls := map[string]*Call{}
	for _, s := range order {
		id := media[s.Src]
		if id == "" {
			id = media[s.Dst]
		}
		k := "sip:" + id
		if id == "" {
			a, b := s.Src.String(), s.Dst.String()
			if b < a {
				a, b = b, a
			}
			k = "pair:" + a + "-" + b
		}
		call := calls[k]
		if call == nil {
			call = &Call{CallID: id}
			calls[k] = call
			c.Calls = append(c.Calls, call)
		}
		call.Streams = append(call.Streams, s)
	}
	sort.SliceStable(c.Calls, func(i, j int) bool {
		return c.Calls[i].Streams[0].Packets[0].At < c.Calls[j].Streams[0].Packets[0].At
	})
	return &c, nil
}

// dropRelayCopies keeps one copy of each stream seen at more than one hop
// (the same SSRC and first sequence number between other addresses, as a
// relay forwards it) and returns the streams kept, in order, and how many
// copies were left out. The copy kept is on the hop (pair of addresses)
// that carries the most of the capture's streams, the first seen of those:
// so both directions of a call are kept on the same hop and pair into one
// call.
func dropRelayCopies(order []*Stream) ([]*Stream, int) {
	type id struct {
		ssrc uint32
		seq  uint16
	}
	type hop struct{ a, b netip.AddrPort }
	hopOf := func(s *Stream) hop {
		if s.Dst.String() < s.Src.String() {
			return hop{s.Dst, s.Src}
		}
		return hop{s.Src, s.Dst}
	}
	copies := map[id][]*Stream{}
	for _, s := range order {
		k := id{s.SSRC, binary.BigEndian.Uint16(s.Packets[0].Data[2:4])}
		if cs := copies[k]; len(cs) > 0 && s.Packets[0].At-cs[0].Packets[0].At > relayWindow {
			continue // a stream that reuses an old SSRC and sequence: not a copy
		}
		copies[k] = append(copies[k], s)
	}
	carried, rank := map[hop]int{}, map[hop]int{}
	for _, cs := range copies {
		for _, s := range cs {
			carried[hopOf(s)]++
		}
	}
	for i, s := range order {
		if _, ok := rank[hopOf(s)]; !ok {
			rank[hopOf(s)] = i
		}
	}
	better := func(x, y hop) bool { // x is the better hop to keep a stream on
		return carried[x] > carried[y] || carried[x] == carried[y] && rank[x] < rank[y]
	}
	drop := map[*Stream]bool{}
	for _, cs := range copies {
		if len(cs) < 2 {
			continue
		}
		keep := cs[0]
		for _, s := range cs[1:] {
			if better(hopOf(s), hopOf(keep)) {
				keep = s
			}
		}
		for _, s := range cs {
			drop[s] = s != keep
		}
	}
	if len(drop) == 0 {
		return order, 0
	}
	kept := order[:0:0]
	for _, s := range order {
		if !drop[s] {
			kept = append(kept, s)
		}
	}
	return kept, len(order) - len(kept)
}

// looksRTP reports whether b is plausibly an RTP packet of an audio or
// telephone-event payload type (and not RTCP).
func looksRTP(b []byte) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		return false
	}
	pt := b[1] & 0x7f
	if pt >= 64 && pt <= 95 { // RTCP range when multiplexed (RFC 5761)
		return false
	}
	return pt <= 34 || pt >= 96
}

// parseSIP returns the Call-ID of a SIP message and the media addresses of
// its SDP body, or "" when b is not SIP.
func parseSIP(b []byte) (string, []netip.AddrPort) {
	if !bytes.HasPrefix(b, []byte("SIP/2.0 ")) && !isSIPRequest(b) {
		return "", nil
	}
	var (
		id    string
		conn  netip.Addr
		ports []uint16
	)
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		name, val, ok := bytes.Cut(line, []byte(":"))
		if ok && (bytes.EqualFold(bytes.TrimSpace(name), []byte("Call-ID")) || bytes.Equal(bytes.TrimSpace(name), []byte("i"))) && id == "" {
			id = string(bytes.TrimSpace(val))
			continue
		}
		switch {
		case bytes.HasPrefix(line, []byte("c=IN IP")):
			f := bytes.Fields(line)
			if len(f) >= 3 {
				if a, err := netip.ParseAddr(string(bytes.SplitN(f[2], []byte("/"), 2)[0])); err == nil {
					conn = a
				}
			}
		case bytes.HasPrefix(line, []byte("m=audio ")):
			f := bytes.Fields(line)
			if len(f) >= 2 {
				if p, err := strconv.ParseUint(string(f[1]), 10, 16); err == nil {
					ports = append(ports, uint16(p))
				}
			}
		}
	}
	if id == "" {
		return "", nil
	}
	var addrs []netip.AddrPort
	if conn.IsValid() {
		for _, p := range ports {
			addrs = append(addrs, netip.AddrPortFrom(conn, p))
		}
	}
	return id, addrs
}

func isSIPRequest(b []byte) bool {
	sp := bytes.IndexByte(b, ' ')
	if sp < 3 || sp > 10 {
		return false
	}
	for _, c := range b[:sp] {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	nl := bytes.IndexByte(b, '\n')
	return nl > 0 && bytes.Contains(b[:nl], []byte(" SIP/2.0"))
}
