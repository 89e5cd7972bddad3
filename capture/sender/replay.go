package sender

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/capture/pcap"
	"github.com/earshot-dev/earshot/msg"
)

// ReplayConfig says where Replay sends a capture's streams.
type ReplayConfig struct {
	// To is where the calls go: call i to To[i % len(To)], so a port range
	// gives each call its own port.
	To    []netip.AddrPort
	Speed Speed
	// Calls, when not empty, keeps only the calls with these SIP Call-IDs.
	Calls []string
	// Announcer, when set, declares each call (SIP Call-ID as the call id
	// when it is a valid one, legs a and b by source address) first.
	Announcer Announcer
	// NoBye leaves out the RTCP BYE that ends each stream.
	NoBye  bool
	Logger *slog.Logger
}

// ReplayedCall describes one call as replayed.
type ReplayedCall struct {
	SIPCallID string
	CallID    string // as announced ("" when not announced)
	To        netip.AddrPort
	Streams   []ReplayedStream
	// Refused are the streams (sent too) that capture refuses, by its rule
	// for calls that are not announced: a port holds one such call at a
	// time, of two streams.
	Refused []ReplayedStream
}

// undeclaredStreams is how many streams capture takes of a call that is not
// announced, on one port, at a time: its legs a and b. More are refused
// ("no room for a new stream").
const undeclaredStreams = 2

// ReplayedStream is one stream as replayed.
type ReplayedStream struct {
	SSRC    uint32
	Source  netip.AddrPort // the local socket it was sent from
	Packets []pcap.Packet
}

// ReplayFile reads a pcap or pcapng file and replays it.
func ReplayFile(ctx context.Context, path string, cfg ReplayConfig) ([]ReplayedCall, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := pcap.ReadStreams(f, path)
	if err != nil {
		return nil, err
	}
	return Replay(ctx, c, cfg)
}

// Replay sends every RTP stream of c, each from its own socket, with the
// capture's timing scaled by cfg.Speed.
func Replay(ctx context.Context, c *pcap.Capture, cfg ReplayConfig) ([]ReplayedCall, error) {
	if len(cfg.To) == 0 {
		return nil, errors.New("replay: no destination address")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var calls []*pcap.Call
	for _, call := range c.Calls {
		if len(cfg.Calls) == 0 || contains(cfg.Calls, call.CallID) {
			calls = append(calls, call)
		}
	}
	if len(calls) == 0 {
		return nil, fmt.Errorf("replay: none of the SIP calls %q is in the capture", cfg.Calls)
	}
	if len(calls) > len(cfg.To) && cfg.Announcer == nil {
		log.Warn("replay: more calls than destination ports and no announce: capture groups undeclared calls by port", "calls", len(calls), "ports", len(cfg.To))
	}
	var (
		conns []*net.UDPConn
		pkts  []timed
		out   []ReplayedCall
	)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	stamp := time.Now().UnixMilli()
	for i, call := range calls {
		to := cfg.To[i%len(cfg.To)]
		rc := ReplayedCall{SIPCallID: call.CallID, To: to}
		for _, s := range call.Streams {
			conn, err := listenFor(to, netip.AddrPort{})
			if err != nil {
				return nil, err
			}
			conns = append(conns, conn)
			k := len(conns) - 1
			for _, p := range s.Packets {
				pkts = append(pkts, timed{at: p.At, conn: k, to: to, data: p.Data})
			}
			if !cfg.NoBye {
				pkts = append(pkts, timed{at: s.Packets[len(s.Packets)-1].At + time.Millisecond, conn: k, to: to, data: rtcpBye(s.SSRC)})
			}
			rc.Streams = append(rc.Streams, ReplayedStream{SSRC: s.SSRC, Source: localAddr(conn), Packets: s.Packets})
		}
		if cfg.Announcer != nil {
			rc.CallID = replayCallID(call.CallID, i, stamp)
			a := &msg.CallAnnounce{CallID: rc.CallID, Attributes: map[string]string{"source": "replay"}}
			if call.CallID != "" {
				a.Attributes["sip_call_id"] = call.CallID
			}
			for j, s := range rc.Streams {
				if j >= 2 {
					log.Warn("replay: call has more than two streams; the others are not announced", "call", rc.CallID, "streams", len(rc.Streams))
					break
				}
				a.Legs = append(a.Legs, msg.LegSpec{Role: []msg.Role{msg.RoleA, msg.RoleB}[j], Source: s.Source.String()})
			}
			if err := cfg.Announcer.Announce(ctx, a); err != nil {
				return nil, err
			}
		}
		out = append(out, rc)
	}
	if cfg.Announcer == nil {
		markRefused(calls, out, cfg.NoBye)
	}
	if err := transmit(ctx, conns, pkts, cfg.Speed, nil); err != nil {
		return out, err
	}
	return out, nil
}

// markRefused fills each replayed call's Refused with the streams capture
// will refuse when the calls are not announced: on each port, a call that
// starts while another one's streams still flow (or, without BYE, any
// later call: capture waits for its idle timeout), and the streams past
// the first two of a call.
func markRefused(calls []*pcap.Call, out []ReplayedCall, noBye bool) {
	type span struct{ start, end time.Duration }
	spanOf := func(c *pcap.Call) span {
		sp := span{start: c.Streams[0].Packets[0].At}
		for _, s := range c.Streams {
			sp.start = min(sp.start, s.Packets[0].At)
			sp.end = max(sp.end, s.Packets[len(s.Packets)-1].At)
		}
		return sp
	}
	order := make([]int, len(calls))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(spanOf(calls[i]).start, spanOf(calls[j]).start) })
	holding := map[netip.AddrPort]span{} // the call each port holds
	for _, i := range order {
		rc, sp := &out[i], spanOf(calls[i])
		if held, ok := holding[rc.To]; ok && (noBye || held.end >= sp.start) {
			rc.Refused = rc.Streams
			continue
		}
		holding[rc.To] = sp
		if len(rc.Streams) > undeclaredStreams {
			rc.Refused = rc.Streams[undeclaredStreams:]
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// replayCallID makes a call id from a SIP Call-ID: characters a call id
// cannot hold become '-'.
func replayCallID(sip string, i int, stamp int64) string {
	if sip == "" {
		return fmt.Sprintf("replay-%d-%d", stamp, i+1)
	}
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_:@+", r) {
			return r
		}
		return '-'
	}, sip)
	if len(id) > msg.MaxCallIDLen {
		id = id[:msg.MaxCallIDLen]
	}
	return id
}
