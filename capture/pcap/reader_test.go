package pcap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture/pcap"
	"github.com/earshot-dev/earshot/internal/sharedtest"
)

var (
	src = netip.MustParseAddrPort("10.0.0.1:4000")
	dst = netip.MustParseAddrPort("10.0.0.2:5000")
)

func ipv4UDP(payload []byte, frag uint16, proto byte) []byte {
	udp := binary.BigEndian.AppendUint16(nil, src.Port())
	udp = binary.BigEndian.AppendUint16(udp, dst.Port())
	udp = binary.BigEndian.AppendUint16(udp, uint16(8+len(payload)))
	udp = append(udp, 0, 0)
	udp = append(udp, payload...)
	ip := []byte{0x45, 0}
	ip = binary.BigEndian.AppendUint16(ip, uint16(20+len(udp)))
	ip = append(ip, 0, 0)
	ip = binary.BigEndian.AppendUint16(ip, frag)
	ip = append(ip, 64, proto, 0, 0)
	s, d := src.Addr().As4(), dst.Addr().As4()
	ip = append(ip, s[:]...)
	ip = append(ip, d[:]...)
	return append(ip, udp...)
}

func ipv6UDP(payload []byte) []byte {
	udp := []byte{0x0f, 0xa0, 0x13, 0x88}
	udp = binary.BigEndian.AppendUint16(udp, uint16(8+len(payload)))
	udp = append(udp, 0, 0)
	udp = append(udp, payload...)
	ip := []byte{0x60, 0, 0, 0}
	ip = binary.BigEndian.AppendUint16(ip, uint16(len(udp)))
	ip = append(ip, 17, 64)
	ip = append(ip, netip.MustParseAddr("2001:db8::1").AsSlice()...)
	ip = append(ip, netip.MustParseAddr("2001:db8::2").AsSlice()...)
	return append(ip, udp...)
}

// classic builds a pcap file of records with the given link type.
func classic(order binary.AppendByteOrder, nano bool, link uint32, recs ...[]byte) []byte {
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = order.AppendUint32(b, 65535)
	b = order.AppendUint32(b, link)
	for i, r := range recs {
		b = order.AppendUint32(b, 1000+uint32(i))
		b = order.AppendUint32(b, 500)
		b = order.AppendUint32(b, uint32(len(r)))
		b = order.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b
}

func ngBlock(typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, uint32(12+len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, uint32(12+len(body)))
}

func pcapng(link uint16, tsresol byte, frames ...[]byte) []byte {
	shb := binary.LittleEndian.AppendUint32(nil, 0x1a2b3c4d)
	shb = append(shb, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	b := ngBlock(0x0a0d0d0a, shb)
	idb := binary.LittleEndian.AppendUint16(nil, link)
	idb = append(idb, 0, 0, 0xff, 0xff, 0, 0)
	idb = append(idb, 9, 0, 1, 0, tsresol, 0, 0, 0, 0, 0, 0, 0) // if_tsresol, end of options
	b = append(b, ngBlock(1, idb)...)
	for _, f := range frames {
		epb := binary.LittleEndian.AppendUint32(nil, 0)
		ts := uint64(1000) // 1000 s + 500 units of 10^-tsresol s
		for i := byte(0); i < tsresol; i++ {
			ts *= 10
		}
		ts += 500
		epb = binary.LittleEndian.AppendUint32(epb, uint32(ts>>32))
		epb = binary.LittleEndian.AppendUint32(epb, uint32(ts))
		epb = binary.LittleEndian.AppendUint32(epb, uint32(len(f)))
		epb = binary.LittleEndian.AppendUint32(epb, uint32(len(f)))
		b = append(b, ngBlock(6, append(epb, f...))...)
	}
	return b
}

func ether(ip []byte, ethType uint16, vlan bool) []byte {
	b := make([]byte, 12)
	if vlan {
		b = append(b, 0x81, 0x00, 0, 7)
	}
	b = binary.BigEndian.AppendUint16(b, ethType)
	return append(b, ip...)
}

func TestReaderLinkTypesAndFormats(t *testing.T) {
	payload := []byte("hello rtp")
	ip := ipv4UDP(payload, 0, 17)
	sll := append(append(make([]byte, 14), 0x08, 0x00), ip...)
	sll2 := append(append([]byte{0x08, 0x00}, make([]byte, 18)...), ip...)
	for name, file := range map[string][]byte{
		"ethernet LE":        classic(binary.LittleEndian, false, 1, ether(ip, 0x0800, false)),
		"ethernet BE nano":   classic(binary.BigEndian, true, 1, ether(ip, 0x0800, false)),
		"ethernet vlan":      classic(binary.LittleEndian, false, 1, ether(ip, 0x0800, true)),
		"linux sll":          classic(binary.LittleEndian, false, 113, sll),
		"linux sll2":         classic(binary.LittleEndian, false, 276, sll2),
		"raw ip":             classic(binary.LittleEndian, false, 101, ip),
		"bsd loopback":       classic(binary.LittleEndian, false, 0, append([]byte{2, 0, 0, 0}, ip...)),
		"pcapng ethernet us": pcapng(1, 6, ether(ip, 0x0800, false)),
		"pcapng sll ns":      pcapng(113, 9, sll),
		"skips tcp and fragments": classic(binary.LittleEndian, false, 101,
			ipv4UDP(payload, 0x2000, 17), ipv4UDP(payload, 0, 6), ip),
	} {
		r, err := pcap.NewReader(bytes.NewReader(file), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.Src != src || d.Dst != dst || string(d.Payload) != string(payload) {
			t.Errorf("%s: %v -> %v %q", name, d.Src, d.Dst, d.Payload)
		}
		if d.Time.Before(time.Unix(1000, 0)) || d.Time.After(time.Unix(1003, 0)) {
			t.Errorf("%s: time %v", name, d.Time)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("%s: after the one datagram: %v, want io.EOF", name, err)
		}
	}
	r, err := pcap.NewReader(bytes.NewReader(classic(binary.LittleEndian, false, 1, ether(ipv6UDP(payload), 0x86dd, false))), "v6")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := r.Next(); err != nil || d.Src.String() != "[2001:db8::1]:4000" || string(d.Payload) != string(payload) {
		t.Errorf("ipv6: %+v %v", d, err)
	}
}

func TestReaderRefusesBadFiles(t *testing.T) {
	good := classic(binary.LittleEndian, false, 1, ether(ipv4UDP([]byte("x"), 0, 17), 0x0800, false))
	huge := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(huge[24+8:], 1<<30)
	for _, tc := range []struct {
		name string
		file []byte
		want error
		text string
	}{
		{"empty", nil, pcap.ErrNotCapture, "0 bytes"},
		{"text", []byte("GET / HTTP/1.1\r\n\r\n"), pcap.ErrNotCapture, "starts with"},
		{"cut header", good[:10], pcap.ErrTruncated, "record 1"},
		{"cut record", good[:len(good)-3], pcap.ErrTruncated, "3 bytes short"},
		{"huge record", huge, pcap.ErrMalformed, "claims 1073741824 bytes"},
		{"link type", classic(binary.LittleEndian, false, 147), pcap.ErrLinkType, "147"},
		{"cut pcapng", pcapng(1, 6, []byte("abc"))[:40], pcap.ErrTruncated, ""},
		{"no rtp", good, pcap.ErrNoStreams, "1 UDP datagrams"},
	} {
		_, err := pcap.ReadStreams(bytes.NewReader(tc.file), "calls/"+tc.name+".pcap")
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "calls/"+tc.name+".pcap") || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v; want %v naming the file and %q", tc.name, err, tc.want, tc.text)
		}
	}
}

func TestReadStreamsPairsLegsBySIP(t *testing.T) {
	f, err := os.Open(sharedtest.Path(t, "data/pcaps/SIP_CALL_RTP_G711.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := pcap.ReadStreams(f, f.Name())
	if err != nil {
		t.Fatal(err)
	}
	// The capture was taken at a B2BUA: the dialog's two streams are seen
	// again between the B2BUA and the other party, without SDP. Those
	// copies are left out rather than made a second call.
	if len(c.Calls) != 2 || c.Duplicates != 2 {
		t.Fatalf("%d calls, %d duplicate streams; want 2 (one SIP dialog, one short stream) and 2 (the B2BUA's copies)", len(c.Calls), c.Duplicates)
	}
	first := c.Calls[0]
	if first.CallID != "12013223@200.57.7.195" || len(first.Streams) != 2 {
		t.Fatalf("first call %q with %d streams", first.CallID, len(first.Streams))
	}
	n := map[uint32]int{}
	for _, s := range first.Streams {
		n[s.SSRC] = len(s.Packets)
		if s.PayloadType != 8 {
			t.Errorf("stream %08x: payload type %d, want PCMA", s.SSRC, s.PayloadType)
		}
	}
	if n[0xd2bd4e3e] != 548 || n[0x58f33dea] != 891 {
		t.Errorf("packets per stream %v", n)
	}
}
