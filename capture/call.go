package capture

import (
	"net/netip"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/survey"
)

// maxFill is the longest timestamp gap filled with silence (5 s at 8 kHz);
// a longer or backward jump re-anchors the leg clock instead.
const maxFill = 5 * msg.SampleRate

type streamKey struct {
	src  netip.AddrPort
	ssrc uint32
}

// stream is one SSRC from one source: its jitter buffer and its place on
// its leg's clock.
type stream struct {
	key     streamKey
	leg     *leg
	jb      *jitter
	refused uint64
	bye     bool
	last    time.Time // wall clock of the last packet

	tsKnown  bool
	expectTS uint32 // timestamp of the next audio sample
	frame    int    // samples in the last audio packet

	// telephone event in progress
	evOn       bool
	evTS       uint32
	evDigit    string
	evDur      uint16
	evStartPos int64
	evDone     uint32 // timestamp of the last event reported
	evDoneOK   bool
}

func (s *stream) stats() msg.StreamStats {
	return msg.StreamStats{
		Leg: s.leg.role, SSRC: s.key.ssrc,
		Received: s.jb.n.received, Lost: s.jb.n.lost, Late: s.jb.n.late,
		Duplicate: s.jb.n.duplicate, Reordered: s.jb.n.reordered, Refused: s.refused,
		JitterMS: int64(s.jb.delay.jitter) / 1000, BufferMS: s.jb.wait.Milliseconds(),
	}
}

// call is one call's state. Its methods run under Capture.mu.
type call struct {
	c         *Capture
	id        string
	announced bool
	intake    string // msg.IntakeRTP, ...
	feeds     []*Leg // legs an intake other than RTP feeds
	agent     string
	queue     string
	attrs     map[string]string
	startedAt time.Time
	local     netip.AddrPort // capture address of an undeclared call
	last      time.Time      // wall clock of the last packet (or the announce)
	legs      []*leg
	declared  []msg.LegSpec // announced legs
	streams   []*stream
	ended     []msg.StreamStats // of streams replaced by an SSRC change

	// timeline
	active      map[msg.Role]int64 // legs in a turn: call-clock ms of its start
	spans       map[msg.Role][][2]int64
	lastTalkEnd int64
	silenceOpen bool  // the silence since lastTalkEnd was published open
	holdFrom    int64 // call-clock ms the call went on hold; -1 when not on hold

	survey   *survey.Recorder // the post-call survey going on, or nil
	surveyed bool             // its result was published
}

// clockMS is where the call clock is at wall time now: the wall clock since
// the call started, or its media when that ran ahead (a replay faster than
// real time).
func (cl *call) clockMS(now time.Time) int64 {
	ms := now.Sub(cl.startedAt).Milliseconds()
	for _, l := range cl.legs {
		ms = max(ms, l.callMS(l.pos()))
	}
	return ms
}

// hold puts the call on hold or takes it off; taking it off (or ending the
// call while on hold) publishes the hold span.
func (cl *call) hold(on bool, now time.Time) {
	at := cl.clockMS(now)
	switch {
	case on && cl.holdFrom < 0:
		cl.holdFrom = at
		cl.timeline(&msg.TimelineEvent{Kind: msg.SpanHold, StartMS: at, EndMS: at, Open: true})
	case !on && cl.holdFrom >= 0:
		cl.timeline(&msg.TimelineEvent{Kind: msg.SpanHold, StartMS: cl.holdFrom, EndMS: at})
		cl.holdFrom = -1
	}
}

func (cl *call) legByRole(r msg.Role) *leg {
	for _, l := range cl.legs {
		if l.role == r {
			return l
		}
	}
	return nil
}

func (cl *call) addLeg(role msg.Role, now time.Time) *leg {
	l := &leg{call: cl, role: role, p: &cl.c.vad, sink: cl, floor: cl.c.vad.absEnergy, rec: cl.c.cfg.Recorder}
	l.info.Role = role
	// The leg starts where the call is now: by the wall clock, or by the
	// media of the legs already there when they ran ahead of it (a replay
	// faster than real time), so legs keep their places relative to
	// each other at any speed.
	l.offset = max(0, now.Sub(cl.startedAt).Milliseconds()*msg.SampleRate/1000)
	for _, o := range cl.legs {
		l.offset = max(l.offset, o.offset+o.pos())
	}
	cl.legs = append(cl.legs, l)
	return l
}

// legInfos lists the legs for call events: those with RTP, then those
// announced whose RTP has not come yet.
func (cl *call) legInfos() []msg.LegInfo {
	out := make([]msg.LegInfo, 0, len(cl.legs))
	for _, l := range cl.legs {
		out = append(out, l.info)
	}
	for _, d := range cl.declared {
		if cl.legByRole(d.Role) == nil {
			out = append(out, msg.LegInfo{Role: d.Role, SSRC: d.SSRC, Source: d.Source})
		}
	}
	return out
}

// play hands one in-order place of a stream to its leg.
func (s *stream) play(c *Capture, p played) {
	l := s.leg
	if p.lost {
		n := s.frame
		if n == 0 {
			n = frameLen
		}
		l.silence(n)
		s.expectTS += uint32(n)
		return
	}
	switch {
	case p.pt == ptPCMU || p.pt == ptPCMA:
		s.placeAt(c, p.ts)
		if l.info.Codec == "" {
			l.info.Codec = codecName(p.pt)
		}
		l.buf = c.tables.decode(l.buf, p.pt, p.payload)
		l.analyse()
		s.frame = len(p.payload)
		s.expectTS = p.ts + uint32(len(p.payload))
	case p.pt == ptCN:
		// Comfort noise: the timestamp gap to the next packet is filled.
	case isEventPayload(p.pt, p.payload):
		s.event(c, p)
	default:
		s.refused++
		c.refuse(ErrPayloadType, s.key.src, "payload type "+ptName(p.pt))
	}
}

// placeAt fills the gap between the leg's clock and timestamp ts.
func (s *stream) placeAt(c *Capture, ts uint32) {
	l := s.leg
	if !s.tsKnown {
		s.tsKnown = true
		s.expectTS = ts
		// A new stream on a leg starts at the wall clock's place.
		s.reanchor(c)
		return
	}
	gap := int64(int32(ts - s.expectTS))
	switch {
	case gap == 0:
	case gap > 0 && gap <= maxFill:
		l.silence(int(gap))
	default:
		s.reanchor(c)
	}
	s.expectTS = ts
}

// reanchor moves the leg's clock forward to the wall clock when it lags
// (after a timestamp jump or for a new stream on a known leg).
func (s *stream) reanchor(c *Capture) {
	l := s.leg
	wall := c.now().Sub(l.call.startedAt).Milliseconds()*msg.SampleRate/1000 - l.offset
	if gap := wall - l.pos(); gap > 0 && l.pos() > 0 {
		l.silence(int(min(gap, 60*msg.SampleRate)))
	}
}

// event handles one telephone-event packet; a digit is reported once, at
// its end (or when the next event starts without an end being seen).
func (s *stream) event(c *Capture, p played) {
	ev, err := parseTelephoneEvent(p.payload)
	if err != nil {
		s.refused++
		c.refuse(ErrMalformed, s.key.src, err.Error())
		return
	}
	if s.evDoneOK && p.ts == s.evDone {
		return // a retransmitted end
	}
	if s.evOn && p.ts != s.evTS {
		s.endEvent(c)
	}
	if !s.evOn {
		s.evOn, s.evTS = true, p.ts
		s.evDigit = digit(ev.Event)
		pos := s.leg.pos()
		if s.tsKnown {
			if d := int64(int32(p.ts - s.expectTS)); d > -maxFill && d < maxFill {
				pos += d
			}
		}
		s.evStartPos = max(pos, 0)
	}
	s.evDur = ev.Duration
	if ev.End {
		s.endEvent(c)
	}
}

func (s *stream) endEvent(c *Capture) {
	if !s.evOn {
		return
	}
	s.evOn = false
	s.evDone, s.evDoneOK = s.evTS, true
	if s.evDigit == "" {
		return
	}
	s.leg.call.dtmf(s.leg, s.evDigit, s.evStartPos, int64(s.evDur)*1000/msg.SampleRate)
}

// dtmf publishes a digit pressed on leg l at leg position pos.
func (cl *call) dtmf(l *leg, digit string, pos, durMS int64) {
	cl.c.dtmfCount++
	cl.c.out.add(cl.id, msg.SubjectDTMF(cl.id), &msg.DTMFEvent{
		CallID: cl.id, Leg: l.role, Digit: digit, StartMS: l.callMS(pos), DurationMS: durMS,
	})
	cl.surveyKey(l, digit, l.callMS(pos))
}

// job implements legSink.
func (cl *call) job(l *leg, j *msg.UtteranceJob) {
	b, err := msg.EncodeUtterance(j)
	if err != nil {
		cl.c.log.Error("capture: utterance not encoded", "call", cl.id, "job", j.ID(), "err", err)
		return
	}
	if j.Interim {
		cl.c.interimJobs++
	} else {
		cl.c.finalJobs++
	}
	cl.c.out.addRaw(cl.id, msg.SubjectAudio(cl.id, l.role), b, j.MsgID())
}

// openSilence publishes the silence going on at call-clock time nowMS as
// open, once it has lasted the shortest silence reported: from then on
// non-talk time is seen growing, not only once the silence ends.
func (cl *call) openSilence(nowMS int64) {
	if cl.silenceOpen || len(cl.active) > 0 || nowMS-cl.lastTalkEnd < cl.c.minSilenceMS {
		return
	}
	cl.silenceOpen = true
	cl.timeline(&msg.TimelineEvent{Kind: msg.SpanSilence, StartMS: cl.lastTalkEnd, EndMS: nowMS, Open: true})
}

// talkStart implements legSink: a silence span ends when a turn starts
// while no other leg is talking (reported when long enough, or when it was
// published open, to close it).
func (cl *call) talkStart(l *leg, startPos int64) {
	start := l.callMS(startPos)
	if len(cl.active) == 0 && (start-cl.lastTalkEnd >= cl.c.minSilenceMS || cl.silenceOpen) {
		cl.timeline(&msg.TimelineEvent{Kind: msg.SpanSilence, StartMS: cl.lastTalkEnd, EndMS: max(start, cl.lastTalkEnd)})
	}
	cl.silenceOpen = false
	cl.active[l.role] = start
}

// talkEnd implements legSink: a talk span, and an overlap with every
// finished span of another leg that it overlaps (reported when the second
// of the two ends, the interrupter being the later starter).
func (cl *call) talkEnd(l *leg, startPos, endPos int64, loud float64) {
	delete(cl.active, l.role)
	s, e := l.callMS(startPos), l.callMS(endPos)
	cl.timeline(&msg.TimelineEvent{Kind: msg.SpanTalk, Leg: l.role, StartMS: s, EndMS: e, LoudnessDBFS: loud})
	for role, spans := range cl.spans {
		if role == l.role {
			continue
		}
		for _, o := range spans {
			os, oe := o[0], o[1]
			if oe <= s || os >= e {
				continue
			}
			ev := &msg.TimelineEvent{Kind: msg.SpanOverlap, StartMS: max(s, os), EndMS: min(e, oe)}
			if s >= os {
				ev.Leg, ev.Other = l.role, role
			} else {
				ev.Leg, ev.Other = role, l.role
			}
			cl.timeline(ev)
		}
	}
	sp := append(cl.spans[l.role], [2]int64{s, e})
	if len(sp) > 16 {
		sp = sp[len(sp)-16:]
	}
	cl.spans[l.role] = sp
	cl.lastTalkEnd = max(cl.lastTalkEnd, e)
}

func (cl *call) timeline(ev *msg.TimelineEvent) {
	ev.CallID = cl.id
	cl.c.out.add(cl.id, msg.SubjectTimeline(cl.id), ev)
}
