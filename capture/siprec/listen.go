package siprec

import (
	"fmt"
	"net/netip"
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
