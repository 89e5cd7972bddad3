package siprec

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Endpoint is where the server takes SIP: a transport (udp, tcp, tls)
// and HOST:PORT.
type Endpoint struct {
	Network string
	Addr    netip.AddrPort
}

// ParseEndpoints reads comma-separated endpoints such as
// "udp://0.0.0.0:5060,tcp://0.0.0.0:5060,tls://0.0.0.0:5061".
func ParseEndpoints(s string) ([]Endpoint, error) {
	var out []Endpoint
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		scheme, addr, ok := strings.Cut(part, "://")
		if !ok || scheme != "udp" && scheme != "tcp" && scheme != "tls" {
			return nil, fmt.Errorf("siprec endpoint %q: want udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT", part)
		}
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("siprec endpoint %q: %v", part, err)
		}
		out = append(out, Endpoint{Network: scheme, Addr: ap})
	}
	return out, nil
}

// ParsePorts reads a media port range "FIRST-LAST", e.g. "16384-32767".
func ParsePorts(s string) ([2]uint16, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	hi, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || lo == 0 || hi < lo+2*maxStreams-1 {
		return [2]uint16{}, fmt.Errorf("media ports %q: want FIRST-LAST, at least %d ports above 0, e.g. 16384-32767", s, 2*maxStreams)
	}
	return [2]uint16{uint16(lo), uint16(hi)}, nil
}
