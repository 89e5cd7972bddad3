package capture

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// maxGap is the longest gap between an intake's writes filled with
// silence (a minute); past it the leg's clock moves on by that much only.
const maxGap = 60 * msg.SampleRate

// CallInfo is what an intake knows of a call: its id and what an announce
// carries (agent, queue, attributes).
type CallInfo struct {
	ID           string
	Agent, Queue string
	Attributes   map[string]string
}

// Call is a call that an intake other than the RTP sockets feeds (a
// WebSocket media stream, AudioSocket, SIPREC): the intake's sub-package
// opens it with [Capture.Open], gets a [Leg] per side and writes each
// leg's audio on the call clock. From there the call takes the same path
// as RTP (voice activity, endpointing, utterance jobs, timeline, DTMF);
// audio written as PCM or G.711 carries no loss and has no jitter buffer
// (RTP given to [Leg.RTP] has one). Its methods
// are safe for concurrent use; after the call ended they do nothing.
type Call struct {
	c  *Capture
	cl *call
}

// Leg is one side of a [Call], fed by its intake.
type Leg struct {
	c      *Capture
	l      *leg
	base   int64     // intake media sample at leg position 0
	last   time.Time // wall clock of the last write
	closed bool
}

// ErrLegTaken is returned by [Call.Leg] for a role that already has audio.
var ErrLegTaken = errors.New("capture: the leg already has audio")

// Open opens call info.ID for an intake (one of msg.IntakeMediaStream,
// msg.IntakeAudioSocket, msg.IntakeSIPREC), or joins it when it is going
// on: announced first, or with another leg already in by the same intake.
// Joining, the agent, queue and attributes given replace those known
// (attributes are merged). It fails with msg.ErrInvalidCallID for a bad
// id and ErrNoRoom when Config.MaxCalls calls are held.
func (c *Capture) Open(intake string, info CallInfo) (*Call, error) {
	if err := msg.ValidateCallID(info.ID); err != nil {
		return nil, fmt.Errorf("capture: %s call: %w", intake, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	cl := c.calls[info.ID]
	if cl == nil {
		if len(c.calls) >= c.cfg.MaxCalls {
			return nil, fmt.Errorf("capture: %s call %s: %w: %d calls already held", intake, info.ID, ErrNoRoom, len(c.calls))
		}
		cl = c.newCall(info.ID, now)
		cl.intake = intake
		cl.info(info)
		c.started(cl)
		return &Call{c: c, cl: cl}, nil
	}
	if len(cl.streams) == 0 {
		cl.intake = intake
	}
	cl.last = now
	if cl.info(info) {
		c.updated(cl)
	}
	return &Call{c: c, cl: cl}, nil
}

// info takes what an intake says of the call; it reports a change.
func (cl *call) info(info CallInfo) bool {
	changed := false
	if info.Agent != "" && info.Agent != cl.agent {
		cl.agent, changed = info.Agent, true
	}
	if info.Queue != "" && info.Queue != cl.queue {
		cl.queue, changed = info.Queue, true
	}
	for k, v := range info.Attributes {
		if cl.attrs == nil {
			cl.attrs = map[string]string{}
		}
		if old, ok := cl.attrs[k]; !ok || old != v {
			cl.attrs = maps.Clone(cl.attrs) // events already queued keep theirs
			cl.attrs[k] = v
			changed = true
		}
	}
	return changed
}

// ID returns the call's id.
func (h *Call) ID() string { return h.cl.id }

// gone reports whether the call ended (under mu).
func (h *Call) gone() bool { return h.c.calls[h.cl.id] != h.cl }

// Leg opens the leg of role; source names where its audio comes from (for
// the call events). A role that already has audio fails with ErrLegTaken.
func (h *Call) Leg(role msg.Role, source string) (*Leg, error) {
	if !role.Valid() {
		return nil, fmt.Errorf("capture: call %s: leg role %q: want agent, customer, a or b", h.cl.id, role)
	}
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.gone() {
		return nil, fmt.Errorf("capture: call %s: %w: it ended", h.cl.id, msg.ErrNotFound)
	}
	if h.cl.legByRole(role) != nil {
		return nil, fmt.Errorf("capture: call %s: %s: %w", h.cl.id, role, ErrLegTaken)
	}
	now := c.now()
	l := h.cl.addLeg(role, now)
	l.info.Source = source
	f := &Leg{c: c, l: l, last: now}
	h.cl.feeds = append(h.cl.feeds, f)
	h.cl.last = now
	c.updated(h.cl)
	return f, nil
}

// Update takes new announce data (a transfer's new agent, metadata from
// the intake), as a re-announce does.
func (h *Call) Update(info CallInfo) {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if !h.gone() && h.cl.info(info) {
		h.c.updated(h.cl)
	}
}

// Hold puts the call on hold or takes it off, on its timeline.
func (h *Call) Hold(on bool) {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if !h.gone() {
		now := h.c.now()
		h.cl.last = now
		h.cl.hold(on, now)
	}
}

// End ends the call (reason msg.EndHangup): its legs' open turns are
// finished and the ended event published.
func (h *Call) End() {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if !h.gone() {
		h.c.endCall(h.cl, msg.EndHangup)
	}
}

// EndTimeout ends the call (reason msg.EndTimeout): its intake heard
// nothing of it for too long.
func (h *Call) EndTimeout() {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if !h.gone() {
		h.c.endCall(h.cl, msg.EndTimeout)
	}
}

// live reports whether the leg takes writes, and marks it written (under mu).
func (f *Leg) live() bool {
	if f.closed || f.c.calls[f.l.call.id] != f.l.call {
		return false
	}
	now := f.c.now()
	f.last, f.l.call.last = now, now
	return true
}

// place puts the leg's clock at intake media sample at (negative: right
// after the last write), filling a gap with silence; it returns how many
// of the n samples written there come before the leg's clock (already
// covered) and are to be skipped.
func (f *Leg) place(at int64, n int) int {
	l := f.l
	if at < 0 {
		return 0
	}
	gap := at - f.base - l.pos()
	switch {
	case gap > 0:
		fill := min(gap, maxGap)
		l.silence(int(fill))
		f.base += gap - fill // a longer gap is cut to maxGap of silence
	case gap < 0:
		return int(min(-gap, int64(n)))
	}
	return 0
}

// PCM writes 8 kHz 16-bit samples that start at intake media sample at
// (samples since the leg opened, on a clock the call's legs share; negative:
// right after the last write). A gap since the last write is silence; audio
// before the leg's clock is dropped.
func (f *Leg) PCM(at int64, pcm []int16) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if !f.live() {
		return
	}
	if f.l.info.Codec == "" {
		f.l.info.Codec = "L16"
	}
	pcm = pcm[f.place(at, len(pcm)):]
	l := f.l
	n := len(l.buf)
	l.buf = grow(l.buf, len(pcm))
	copy(l.buf[n:], pcm)
	l.analyse()
}

// G711 writes G.711 payload (codec "PCMU" or "PCMA", 8 kHz) at intake media
// sample at, as PCM does.
func (f *Leg) G711(at int64, codec string, payload []byte) error {
	pt := uint8(ptPCMU)
	switch codec {
	case "PCMU":
	case "PCMA":
		pt = ptPCMA
	default:
		return fmt.Errorf("capture: codec %q: want PCMU or PCMA", codec)
	}
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if !f.live() {
		return nil
	}
	if f.l.info.Codec == "" {
		f.l.info.Codec = codec
	}
	payload = payload[f.place(at, len(payload)):]
	f.l.buf = f.c.tables.decode(f.l.buf, pt, payload)
	f.l.analyse()
	return nil
}

// DTMF reports a digit pressed on the leg at intake media sample at
// (negative: where the leg's clock is), lasting dur.
func (f *Leg) DTMF(at int64, digit string, dur time.Duration) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if !f.live() {
		return
	}
	pos := f.l.pos()
	if at >= 0 {
		pos = max(0, at-f.base)
	}
	f.l.call.dtmf(f.l, digit, pos, dur.Milliseconds())
}

// RTP takes one RTP packet of the leg that came from source from to the
// intake's own media socket (SIPREC): it takes the path of packets on
// capture's sockets (a jitter buffer per SSRC, G.711 decoding, RFC 4733
// DTMF, loss counted in the call's stream stats). RTCP is skipped. A
// packet that is not RTP, or of a payload type capture does not take, is
// refused with an error wrapping ErrMalformed or ErrPayloadType (not
// counted: the intake counts it).
func (f *Leg) RTP(b []byte, from netip.AddrPort) error {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(b) >= 8 && b[0]>>6 == 2 && isRTCP(b) {
		return nil
	}
	if len(b) < 12 || b[0]>>6 != 2 {
		return fmt.Errorf("%w: %d bytes, not RTP version 2", ErrMalformed, len(b))
	}
	if !f.live() {
		return nil
	}
	p := &c.pkt
	if err := p.Unmarshal(b); err != nil {
		return fmt.Errorf("%w: rtp: %v", ErrMalformed, err)
	}
	now := c.now()
	k := streamKey{from, p.SSRC}
	s := c.streams[k]
	if s == nil || s.leg != f.l {
		pt := p.PayloadType
		if codecName(pt) == "" && pt != ptCN && !isEventPayload(pt, p.Payload) {
			return fmt.Errorf("%w: payload type %s (capture takes PCMU 0, PCMA 8, CN 13, telephone-event)", ErrPayloadType, ptName(pt))
		}
		if s != nil { // the source moved to this leg
			c.retire(s)
		}
		s = c.attach(k, f.l, now)
	}
	s.last = now
	s.jb.push(now, p.SequenceNumber, p.Timestamp, p.PayloadType, p.Payload, func(pl played) { s.play(c, pl) })
	return nil
}

// Close says the leg's audio is over: its open turn is finished. A call
// whose every leg closed (and that has no RTP) ends, reason msg.EndHangup.
func (f *Leg) Close() {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if f.closed || f.c.calls[f.l.call.id] != f.l.call {
		return
	}
	f.closed = true
	cl := f.l.call
	for _, s := range slices.Clone(cl.streams) { // the leg's own RTP (Leg.RTP)
		if s.leg == f.l {
			s.jb.flush(func(p played) { s.play(f.c, p) })
			s.endEvent(f.c)
			cl.ended = append(cl.ended, s.stats())
			f.c.retire(s)
			f.c.markGone(s.key, f.c.now())
			if f.c.bySource[s.key.src] == f.l {
				delete(f.c.bySource, s.key.src)
			}
		}
	}
	f.l.finish()
	if !cl.fed() && len(cl.streams) == 0 {
		f.c.endCall(cl, msg.EndHangup)
	} else if f.l.role == msg.RoleAgent {
		cl.agentLeft()
	}
}

// fed reports whether an intake still feeds a leg of the call: such a
// call does not time out, its intake ends it (and closes a connection
// that went idle).
func (cl *call) fed() bool {
	for _, f := range cl.feeds {
		if !f.closed {
			return true
		}
	}
	return false
}

// RefuseIntake counts input an intake refused, by intake and reason (a
// short label: "malformed", "unauthorized", "forbidden", "no_room", ...),
// for the metric earshot_capture_intake_refused_total, and logs it once a
// minute per reason and source.
func (c *Capture) RefuseIntake(intake, reason, from, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.intakeRefused[intakeReason{intake, reason}]++
	c.logRefusal(intake+" "+reason+" "+from, "capture: "+intake+" refused", "from", from, "reason", reason, "detail", detail)
}

// IntakeRefused returns how many inputs intake refused for reason.
func (c *Capture) IntakeRefused(intake, reason string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.intakeRefused[intakeReason{intake, reason}]
}

type intakeReason struct{ intake, reason string }
