package rules

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// segState is one final segment as the rules see it.
type segState struct {
	id        string
	leg       msg.Role
	lang      string
	startMS   int64
	endMS     int64
	toks      []token
	sentiment msg.Sentiment
	scored    bool
}

// hit is one place a pattern matched: words [from, to) of a segment.
type hit struct {
	seg      int32
	from, to int32
}

// fireState remembers that a rule fired on a call.
type fireState struct {
	count int
	sig   string
}

// callState is everything the rules know of one call. It is not safe for
// concurrent use; the engine serialises access.
type callState struct {
	mu       sync.Mutex // held while the call's events are applied and its actions run
	finished bool       // its post-call evaluation is done
	id       string
	rs       *RuleSet

	known      bool // a call event was seen: agent, queue, attributes are known
	agent      string
	queue      string
	attrs      map[string]string
	ended      bool // the ended event came: the duration is known
	complete   bool // everything about the call is known: post-call
	durationMS int64
	nowMS      int64     // the latest call-clock time seen
	startedAt  time.Time // wall clock of the call clock's zero, when known

	segs      []segState
	segIDs    map[string]bool
	hits      map[int32][]hit
	armed     map[int32]bool
	dtmf      []msg.DTMFEvent
	sentiment *msg.CallSentiment
	chars     *msg.Characteristics

	fired    map[int32]*fireState
	cats     []msg.Category
	catsSent int // categories in the last Categories published

	// Derived values, computed once per change of the state.
	memoRoles  []msg.Role
	memoNegRun map[msg.Role]int

	// Engine bookkeeping.
	finalSentiment, finalChars bool
	endedAt, lastSeen          time.Time
}

func newCallState(id string, rs *RuleSet) *callState {
	return &callState{
		id: id, rs: rs,
		segIDs: map[string]bool{}, hits: map[int32][]hit{}, armed: map[int32]bool{},
		fired: map[int32]*fireState{},
	}
}

// changed drops derived values after the state changed.
func (cs *callState) changed() {
	cs.memoRoles, cs.memoNegRun = nil, nil
}

func (cs *callState) advance(ms int64) {
	if ms > cs.nowMS {
		cs.nowMS = ms
	}
}

// callEvent takes what a call event says about the call.
func (cs *callState) callEvent(ev *msg.CallEvent) {
	cs.known = true
	if !ev.StartedAt.IsZero() {
		cs.startedAt = ev.StartedAt
	}
	if ev.Agent != "" {
		cs.agent = ev.Agent
	}
	if ev.Queue != "" {
		cs.queue = ev.Queue
	}
	if len(ev.Attributes) > 0 {
		if cs.attrs == nil {
			cs.attrs = map[string]string{}
		}
		for k, v := range ev.Attributes {
			cs.attrs[k] = v
		}
	}
	if ev.Kind == msg.CallEnded {
		cs.ended = true
		cs.durationMS = ev.DurationMS
		cs.advance(ev.DurationMS)
	}
}

func (cs *callState) addDTMF(ev msg.DTMFEvent) {
	for _, d := range cs.dtmf {
		if d.StartMS == ev.StartMS && d.Leg == ev.Leg && d.Digit == ev.Digit {
			return // redelivered
		}
	}
	cs.dtmf = append(cs.dtmf, ev)
	sort.SliceStable(cs.dtmf, func(i, j int) bool { return cs.dtmf[i].StartMS < cs.dtmf[j].StartMS })
	cs.advance(ev.StartMS + ev.DurationMS)
}

func (cs *callState) setSentiment(s *msg.CallSentiment) {
	cs.changed()
	cs.sentiment = s
	cs.advance(s.AtMS)
}

func (cs *callState) setCharacteristics(c *msg.Characteristics) {
	cs.chars = c
	cs.advance(c.AtMS)
}

// addSegment tokenises a final segment and finds every pattern in it. It
// reports false for an interim or a segment already seen.
func (cs *callState) addSegment(seg *msg.Segment, sent *msg.Sentiment) bool {
	if seg.Interim || cs.segIDs[seg.ID] {
		return false
	}
	cs.segIDs[seg.ID] = true
	s := segState{id: seg.ID, leg: seg.Leg, lang: seg.Language, startMS: seg.StartMS, endMS: seg.EndMS}
	if sent != nil {
		s.sentiment, s.scored = *sent, true
	}
	if len(seg.Words) > 0 {
		for _, w := range seg.Words {
			n := len(s.toks)
			s.toks = tokenize(s.toks, w.Text, seg.Language)
			for i := n; i < len(s.toks); i++ {
				s.toks[i].startMS, s.toks[i].endMS = w.StartMS, w.EndMS
			}
		}
	} else {
		s.toks = tokenize(nil, seg.Text, seg.Language)
		n := int64(len(s.toks))
		span := seg.EndMS - seg.StartMS
		for i := range s.toks {
			s.toks[i].startMS = seg.StartMS + span*int64(i)/n
			s.toks[i].endMS = seg.StartMS + span*int64(i+1)/n
		}
	}
	idx := int32(len(cs.segs))
	cs.changed()
	cs.segs = append(cs.segs, s)
	cs.advance(seg.EndMS)
	cs.scan(idx)
	return true
}

// scan runs the rule set's automaton over one segment and records hits.
func (cs *callState) scan(idx int32) {
	rs := cs.rs
	s := &cs.segs[idx]
	if len(s.toks) == 0 || len(rs.patterns) == 0 {
		return
	}
	if len(rs.anchors) > 0 {
		var b strings.Builder
		starts := make([]int, len(s.toks))
		b.WriteByte(' ')
		for i, t := range s.toks {
			starts[i] = b.Len()
			b.WriteString(t.norm)
			b.WriteByte(' ')
		}
		text := b.String()
		it := rs.ac.IterOverlapping(text)
		for m := it.Next(); m != nil; m = it.Next() {
			at, ok := slices.BinarySearch(starts, m.Start()+1)
			if !ok {
				continue
			}
			for _, pid := range rs.anchors[m.Pattern()] {
				pt := rs.patterns[pid]
				if !langOK(pt.lang, s.lang) {
					continue
				}
				if from, to, ok := pt.matchAround(s.toks, at); ok {
					cs.addHit(pid, hit{seg: idx, from: int32(from), to: int32(to)})
				}
			}
		}
	}
	for _, pid := range rs.unanchored {
		pt := rs.patterns[pid]
		if !langOK(pt.lang, s.lang) {
			continue
		}
		for i := 0; i < len(s.toks); i++ {
			if end, ok := matchFwd(pt.toks, s.toks, i); ok {
				cs.addHit(pid, hit{seg: idx, from: int32(i), to: int32(end)})
				if end > i {
					i = end - 1
				}
			}
		}
	}
}

func (cs *callState) addHit(pid int32, h hit) {
	for _, o := range cs.hits[pid] {
		if o == h {
			return
		}
	}
	cs.hits[pid] = append(cs.hits[pid], h)
	for _, r := range cs.rs.gates[pid] {
		cs.armed[r] = true
	}
}

func langOK(rule, seg string) bool {
	return rule == "" || seg == "" || strings.HasPrefix(strings.ToLower(seg), rule)
}

// match turns a hit into the span an alert carries.
func (cs *callState) match(seg int32, from, to int32) msg.Match {
	s := &cs.segs[seg]
	words := make([]string, 0, to-from)
	for _, t := range s.toks[from:to] {
		words = append(words, t.raw)
	}
	return msg.Match{
		SegmentID: s.id, Leg: s.leg, Text: strings.Join(words, " "),
		StartMS: s.toks[from].startMS, EndMS: s.toks[to-1].endMS,
	}
}

// fromRecord builds the state of a stored call, as it stood when it ended.
func fromRecord(rs *RuleSet, rec *msg.CallRecord) *callState {
	cs := newCallState(rec.Call.CallID, rs)
	cs.known = true
	cs.agent, cs.queue = rec.Call.Agent, rec.Call.Queue
	cs.attrs = rec.Call.Attributes
	segs := slices.Clone(rec.Segments)
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].StartMS < segs[j].StartMS })
	for i := range segs {
		cs.addSegment(&segs[i].Segment, segs[i].Sentiment)
	}
	for _, d := range rec.DTMF {
		cs.addDTMF(d)
	}
	if rec.Sentiment != nil {
		cs.setSentiment(rec.Sentiment)
	}
	if rec.Characteristics != nil {
		cs.setCharacteristics(rec.Characteristics)
	}
	cs.ended, cs.complete = true, true
	cs.durationMS = max(rec.Call.DurationMS, cs.nowMS)
	cs.advance(cs.durationMS)
	return cs
}
