package capture

import (
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/survey"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Capture. The zero value listens on 127.0.0.1:40000
// with the defaults documented on each field.
type Config struct {
	// Listen is where RTP is taken, Readers UDP sockets per address
	// (see ParseListen). Default 127.0.0.1:40000.
	Listen []netip.AddrPort
	// Readers is how many sockets take each Listen address, each read by
	// a goroutine of its own a batch of datagrams at a time (recvmmsg on
	// Linux). More than one share the port with SO_REUSEPORT (Linux only):
	// the kernel hashes each source address to one of them, so each
	// source's packets stay in order, but not the order between sources:
	// one leg's packets may be taken a little before or after the other's
	// (which moves where a leg starts in a replay faster than real time,
	// and a call whose streams all said BYE ends without what of its other
	// leg still waits in another socket). Default 1; at most MaxReaders.
	Readers int
	// AgentNets says which sources of undeclared calls are the agent.
	AgentNets []netip.Prefix

	// JitterMin and JitterMax bound how long the jitter buffer holds the
	// packets after a missing one, waiting for it, before the missing one
	// is given up as lost. Within them the wait adapts to the spread of
	// the stream's measured transit times over the last 4-5 s (plus
	// 10 ms); a stream's first packets are held JitterMax, for an earlier
	// one that comes later. Packets in order are not held. Defaults 60 ms
	// and 300 ms; JitterMax at most 1 s.
	JitterMin, JitterMax time.Duration

	// VADThresholdDBFS is the lowest frame level that counts as speech.
	// Default -46 dBFS.
	VADThresholdDBFS float64
	// VADMarginDB is how far above the tracked noise floor a frame must be
	// to count as speech. Default 12 dB.
	VADMarginDB float64
	// Endpoint is the silence that ends a turn. Default 700 ms.
	Endpoint time.Duration
	// Handover is the shorter silence that ends a turn when the call says
	// the turn is over: the speaker's level has fallen at least
	// HandoverFallDB below the turn's speech and the other leg has started
	// a turn (of at least MinTurn) since the speaker's last speech.
	// Default 300 ms; negative: off (Endpoint only). At most Endpoint.
	Handover time.Duration
	// MinTurn is the shortest speech kept as a turn. Default 200 ms.
	MinTurn time.Duration
	// PreRoll and PostRoll are the audio kept before and after the speech
	// of a turn. Default 60 ms each.
	PreRoll, PostRoll time.Duration
	// InterimEvery is how often a turn still going on emits an interim job
	// (the audio so far). Default 2 s; negative: never.
	InterimEvery time.Duration
	// MinSilence is the shortest silence reported on the timeline.
	// Default 1 s.
	MinSilence time.Duration
	// Language is the language hint put on jobs ("" for detect).
	Language string

	// CallTimeout ends a call after this long without packets.
	// Default 20 s.
	CallTimeout time.Duration
	// RateLimit is the packets per second one source address may send,
	// with bursts of twice as many. Default 5000 (100 legs' worth); negative: no limit.
	RateLimit float64
	// MaxCalls bounds the calls held at once. Default 10000.
	MaxCalls int
	// FlushTimeout bounds how long Run waits, on shutdown, for the events
	// still queued to be published. Default 5 s.
	FlushTimeout time.Duration

	// Surveys, when set, are the post-call surveys recognised: the one
	// that starts when the agent leg ends (RTCP BYE from every agent
	// stream, or an intake closing the agent leg) while the call goes on,
	// and those an announce starts by name (msg.CallAnnounce.Survey). The
	// customer's digits then answer it; the answers are published as a
	// msg.SurveyResult when every question is answered or the call ends.
	Surveys *survey.Config

	// Recorder, when set, gets every leg's audio on the call clock and
	// each call's end (see AudioSink).
	Recorder AudioSink

	// Metrics, when set, gets capture's collectors.
	Metrics prometheus.Registerer
	Logger  *slog.Logger
	// Now is the clock; nil for time.Now.
	Now func() time.Time
}

// ParseListen reads a listen spec: "HOST:PORT" or "HOST:PORT1-PORT2" (a
// range of ports on one host), several separated by commas.
func ParseListen(spec string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		i := strings.LastIndexByte(part, ':')
		if i < 0 {
			return nil, fmt.Errorf("capture: listen address %q: want HOST:PORT or HOST:PORT1-PORT2", part)
		}
		host, ports := part[:i], part[i+1:]
		ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil {
			return nil, fmt.Errorf("capture: listen address %q: %w", part, err)
		}
		lo, hi, isRange := strings.Cut(ports, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("capture: listen address %q: port %q: not a number 0-65535", part, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return nil, fmt.Errorf("capture: listen address %q: port %q: not a number 0-65535", part, hi)
			}
			if b < a || b-a >= 1024 || a == 0 {
				return nil, fmt.Errorf("capture: listen address %q: port range %d-%d: want 1 to 1024 ports, low to high", part, a, b)
			}
		}
		for p := a; p <= b; p++ {
			out = append(out, netip.AddrPortFrom(ip, uint16(p)))
		}
	}
	return out, nil
}

// ParseNets reads comma-separated CIDRs (or single addresses).
func ParseNets(spec string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("capture: network %q: %w", s, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("capture: network %q: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// defaults fills in the zero fields and checks the others.
func (c *Config) defaults() error {
	if len(c.Listen) == 0 {
		c.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:40000")}
	}
	if c.Readers == 0 {
		c.Readers = 1
	}
	if c.Readers < 1 || c.Readers > MaxReaders || (c.Readers > 1 && !reusePort) {
		most := MaxReaders
		if !reusePort {
			most = 1
		}
		return fmt.Errorf("capture: %d readers per listen address: want 1 to %d", c.Readers, most)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.JitterMin, 60*time.Millisecond)
	def(&c.JitterMax, 300*time.Millisecond)
	if c.JitterMin < 0 || c.JitterMax < c.JitterMin || c.JitterMax > time.Second {
		return fmt.Errorf("capture: jitter buffer %s to %s: want 0 <= min <= max <= 1s", c.JitterMin, c.JitterMax)
	}
	if c.VADThresholdDBFS == 0 {
		c.VADThresholdDBFS = -46
	}
	if c.VADThresholdDBFS > 0 || c.VADThresholdDBFS < -96 {
		return fmt.Errorf("capture: VAD threshold %g dBFS: want -96 to 0", c.VADThresholdDBFS)
	}
	if c.VADMarginDB == 0 {
		c.VADMarginDB = 12
	}
	if c.VADMarginDB < 0 || c.VADMarginDB > 60 {
		return fmt.Errorf("capture: VAD margin %g dB: want 0 to 60", c.VADMarginDB)
	}
	def(&c.Endpoint, 700*time.Millisecond)
	def(&c.Handover, 300*time.Millisecond)
	def(&c.MinTurn, 200*time.Millisecond)
	def(&c.PreRoll, 60*time.Millisecond)
	def(&c.PostRoll, 60*time.Millisecond)
	def(&c.InterimEvery, 2*time.Second)
	def(&c.MinSilence, time.Second)
	def(&c.CallTimeout, 20*time.Second)
	def(&c.FlushTimeout, 5*time.Second)
	if c.Endpoint < 40*time.Millisecond || c.Endpoint > 10*time.Second {
		return fmt.Errorf("capture: endpoint silence %s: want 40ms to 10s", c.Endpoint)
	}
	if c.Handover > c.Endpoint || c.Handover >= 0 && c.Handover < c.PostRoll {
		return fmt.Errorf("capture: handover silence %s: want from the post-roll (%s) to the endpoint silence (%s), or negative for none", c.Handover, c.PostRoll, c.Endpoint)
	}
	if c.PreRoll < 0 || c.PostRoll < 0 || c.PreRoll > time.Second || c.PostRoll > c.Endpoint {
		return fmt.Errorf("capture: pre-roll %s / post-roll %s: want 0 to 1s and post-roll at most the endpoint silence", c.PreRoll, c.PostRoll)
	}
	if c.InterimEvery > 0 && c.InterimEvery < 200*time.Millisecond {
		return fmt.Errorf("capture: interim every %s: want at least 200ms", c.InterimEvery)
	}
	if c.CallTimeout < 0 || c.MinTurn < 0 || c.MinSilence < 0 {
		return fmt.Errorf("capture: negative durations are not allowed")
	}
	if c.RateLimit == 0 {
		c.RateLimit = 5000
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = 10000
	}
	if c.MaxCalls < 0 {
		return fmt.Errorf("capture: max calls %d: want at least 1", c.MaxCalls)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// handoverFallDB is how far below the turn's speech the speaker's level
// must have fallen for a handover to end the turn.
const handoverFallDB = 10

func samples(d time.Duration) int64 { return int64(d) * msg.SampleRate / int64(time.Second) }

func (c *Config) vadParams() vadParams {
	p := vadParams{
		absEnergy:    fullScale * math.Pow(10, c.VADThresholdDBFS/10),
		margin:       math.Pow(10, c.VADMarginDB/10),
		onsetFrames:  2,
		endpoint:     samples(c.Endpoint),
		handover:     samples(c.Handover),
		handoverFall: math.Pow(10, -handoverFallDB/10),
		minTurn:      samples(c.MinTurn),
		preRoll:      samples(c.PreRoll),
		postRoll:     samples(c.PostRoll),
		interimEvery: samples(c.InterimEvery),
		maxPart:      samples(msg.MaxJobDuration),
		language:     c.Language,
	}
	if c.InterimEvery < 0 {
		p.interimEvery = 0
	}
	return p
}
