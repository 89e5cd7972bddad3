package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

// Leg is one side of a call to send.
type Leg struct {
	Role msg.Role
	PCM  []int16 // 8 kHz
	// From is the local address to send from; zero: an ephemeral port.
	From netip.AddrPort
	// SSRC of the stream; zero: random.
	SSRC uint32
}

// SendConfig says what Send sends where.
type SendConfig struct {
	To   netip.AddrPort
	Legs []Leg
	// PCMA sends G.711 A-law instead of µ-law.
	PCMA  bool
	Speed Speed
	// CallID names the call in the announce; "" makes one up.
	CallID string
	// Agent, Queue and Attributes go into the announce.
	Agent, Queue string
	Attributes   map[string]string
	// Announcer, when set, declares the call (each leg by its SSRC and
	// source) before sending and ends it after.
	Announcer Announcer
	// NoBye leaves out the RTCP BYE that ends each stream.
	NoBye bool
	// Started, when set, is told when the legs' clock starts: sample n
	// of a leg goes out at that time + n/8000 s (at real-time speed).
	Started func(time.Time)
	Logger  *slog.Logger
}

// SentLeg describes a leg as sent.
type SentLeg struct {
	Role    msg.Role
	SSRC    uint32
	Source  netip.AddrPort
	Packets int
}

// Sent describes what Send sent.
type Sent struct {
	CallID string
	Legs   []SentLeg
}

const samplesPerPacket = 160 // 20 ms

// Send encodes each leg as G.711 RTP in 20 ms packets and sends the legs
// side by side, in real time times cfg.Speed.
func Send(ctx context.Context, cfg SendConfig) (*Sent, error) {
	if !cfg.To.IsValid() {
		return nil, errors.New("send: no destination address")
	}
	if len(cfg.Legs) == 0 {
		return nil, errors.New("send: no legs")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	callID := cfg.CallID
	if callID == "" {
		callID = fmt.Sprintf("send-%d", time.Now().UnixNano())
	}
	if err := msg.ValidateCallID(callID); err != nil {
		return nil, fmt.Errorf("send: --call: %w", err)
	}
	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	sent := &Sent{CallID: callID}
	var pkts []timed
	pt := uint8(0)
	if cfg.PCMA {
		pt = 8
	}
	for i, l := range cfg.Legs {
		if !l.Role.Valid() {
			return nil, fmt.Errorf("send: leg %d: role %q", i, l.Role)
		}
		conn, err := listenFor(cfg.To, l.From)
		if err != nil {
			return nil, err
		}
		conns = append(conns, conn)
		ssrc := l.SSRC
		for ssrc == 0 {
			ssrc = rand.Uint32()
		}
		seq, ts := uint16(rand.Uint32()), rand.Uint32()
		n := 0
		for off := 0; off < len(l.PCM); off += samplesPerPacket {
			end := min(off+samplesPerPacket, len(l.PCM))
			payload := make([]byte, end-off)
			for k, s := range l.PCM[off:end] {
				if cfg.PCMA {
					payload[k] = g711.EncodeAlawFrame(s)
				} else {
					payload[k] = g711.EncodeUlawFrame(s)
				}
			}
			p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: n == 0, PayloadType: pt,
				SequenceNumber: seq + uint16(n), Timestamp: ts + uint32(off), SSRC: ssrc}, Payload: payload}
			b, err := p.Marshal()
			if err != nil {
				return nil, fmt.Errorf("send: leg %s: %w", l.Role, err)
			}
			pkts = append(pkts, timed{at: time.Duration(off) * time.Second / 8000, conn: i, to: cfg.To, data: b})
			n++
		}
		if !cfg.NoBye {
			pkts = append(pkts, timed{at: time.Duration(len(l.PCM)) * time.Second / 8000, conn: i, to: cfg.To, data: rtcpBye(ssrc)})
		}
		sent.Legs = append(sent.Legs, SentLeg{Role: l.Role, SSRC: ssrc, Source: localAddr(conn), Packets: n})
	}
	if cfg.Announcer != nil {
		a := &msg.CallAnnounce{CallID: callID, Agent: cfg.Agent, Queue: cfg.Queue, Attributes: cfg.Attributes}
		for _, l := range sent.Legs {
			a.Legs = append(a.Legs, msg.LegSpec{Role: l.Role, SSRC: l.SSRC, Source: l.Source.String()})
		}
		if err := cfg.Announcer.Announce(ctx, a); err != nil {
			return nil, err
		}
	}
	if err := transmit(ctx, conns, pkts, cfg.Speed, cfg.Started); err != nil {
		return sent, err
	}
	if cfg.Announcer != nil && cfg.NoBye {
		if err := cfg.Announcer.Announce(ctx, &msg.CallAnnounce{CallID: callID, End: true}); err != nil {
			log.Warn("send: end announce", "call", callID, "err", err)
		}
	}
	return sent, nil
}
