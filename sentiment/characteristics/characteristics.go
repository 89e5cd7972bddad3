// Package characteristics computes a call's conversation characteristics as
// Amazon Connect Contact Lens defines them, from capture's timeline spans and
// transcribe's final segments: talk time per participant, non-talk time
// (silences longer than 3 s on both legs; hold, as the PBX announces it; both
// also while they go on), interruptions (who talked over whom, and for how
// long), talk speed in words per minute (for Korean, words are eojeol, the
// space-separated units) and, for Korean turns, in Hangul syllables per
// minute, and loudness per turn and per participant.
package characteristics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/earshot-dev/earshot/msg"
)

// Config sets the thresholds; the zero value is Contact Lens's.
type Config struct {
	// MinSilence is how long both legs must be silent for the gap to count
	// as non-talk time; only longer gaps count. Default 3 s.
	MinSilence time.Duration
	// LiveTurns is how many of the latest turns' loudness a live (not
	// final) snapshot carries, so that updates stay small in long calls;
	// the final snapshot carries them all. Default 20.
	LiveTurns int
}

// Call accumulates one call's spans and segments. It is not safe for
// concurrent use. Duplicates (a redelivered span or segment) count once.
type Call struct {
	cfg   Config
	id    string
	spans map[msg.TimelineEvent]bool
	talk  []msg.TimelineEvent // talk spans, in arrival order
	over  []msg.TimelineEvent // overlap spans
	holds []msg.Span          // hold, as the PBX announced it
	quiet []msg.Span          // silences longer than MinSilence, as capture reported them
	// The silence and hold going on (capture published them open), or -1.
	openSilence, openHold int64
	segs                  map[string]bool
	words                 map[msg.Role]int
	ms                    map[msg.Role]int64 // speaking time behind words
	syl                   map[msg.Role]int   // Hangul syllables
	sylMS                 map[msg.Role]int64 // speaking time of the turns with them
}

// New returns an empty call.
func New(callID string, cfg Config) (*Call, error) {
	if cfg.MinSilence < 0 || cfg.LiveTurns < 0 {
		return nil, fmt.Errorf("characteristics: min silence %v, live turns %d: neither may be negative", cfg.MinSilence, cfg.LiveTurns)
	}
	if cfg.LiveTurns == 0 {
		cfg.LiveTurns = 20
	}
	if cfg.MinSilence == 0 {
		cfg.MinSilence = 3 * time.Second
	}
	return &Call{
		cfg: cfg, id: callID, openSilence: -1, openHold: -1,
		spans: map[msg.TimelineEvent]bool{},
		segs:  map[string]bool{},
		words: map[msg.Role]int{},
		ms:    map[msg.Role]int64{},
		syl:   map[msg.Role]int{},
		sylMS: map[msg.Role]int64{},
	}, nil
}

// AddSpan records a timeline span: a finished one, or a silence or hold
// published open, which counts as non-talk time going on until its
// finished span (same kind and start) comes. Non-talk time is computed
// from both legs' talk spans; a finished silence counts too, so that a
// silence is not lost between its end (a turn starts) and the talk span
// (the turn ends).
func (c *Call) AddSpan(ev msg.TimelineEvent) {
	open := func(kind msg.TimelineKind) *int64 {
		switch kind {
		case msg.SpanSilence:
			return &c.openSilence
		case msg.SpanHold:
			return &c.openHold
		}
		return nil
	}
	if o := open(ev.Kind); o != nil {
		switch {
		case ev.Open:
			*o = ev.StartMS
			return
		case *o == ev.StartMS:
			*o = -1
		}
	}
	if ev.Open || ev.EndMS <= ev.StartMS || c.spans[ev] {
		return
	}
	c.spans[ev] = true
	span := msg.Span{StartMS: ev.StartMS, EndMS: ev.EndMS}
	switch ev.Kind {
	case msg.SpanTalk:
		c.talk = append(c.talk, ev)
	case msg.SpanOverlap:
		c.over = append(c.over, ev)
	case msg.SpanHold:
		c.holds = append(c.holds, span)
	case msg.SpanSilence:
		if span.EndMS-span.StartMS > c.cfg.MinSilence.Milliseconds() {
			c.quiet = append(c.quiet, span)
		}
	}
}

// AddSegment records a final segment's words for talk speed: the words
// over the time from the first word's start to the last word's end, or,
// without word timings, the text's words over the segment's duration.
// A segment with Hangul also counts its syllables over the same time, for
// talk speed in syllables per minute. Interim segments and segments
// without text are ignored.
func (c *Call) AddSegment(seg msg.Segment) {
	if seg.Interim || seg.Error != "" || c.segs[seg.ID] {
		return
	}
	c.segs[seg.ID] = true
	n, start, end := 0, int64(0), int64(0)
	for _, w := range seg.Words {
		if !hasLetterOrDigit(w.Text) {
			continue
		}
		if n == 0 || w.StartMS < start {
			start = w.StartMS
		}
		end = max(end, w.EndMS)
		n++
	}
	if n == 0 {
		n = countWords(seg.Text)
		start, end = seg.StartMS, seg.EndMS
	}
	if n == 0 || end <= start {
		return
	}
	c.words[seg.Leg] += n
	c.ms[seg.Leg] += end - start
	if syl := countHangulSyllables(seg.Text); syl > 0 {
		c.syl[seg.Leg] += syl
		c.sylMS[seg.Leg] += end - start
	}
}

// countHangulSyllables counts the precomposed Hangul syllables of text
// (가..힣), one per spoken syllable.
func countHangulSyllables(text string) int {
	n := 0
	for _, r := range text {
		if r >= 0xAC00 && r <= 0xD7A3 {
			n++
		}
	}
	return n
}

// Snapshot returns the characteristics at atMS. endMS > 0 says the call
// ended then: the silence after the last talk up to endMS counts too. A live
// (not final) snapshot carries the loudness of the last LiveTurns turns,
// and the silence and hold going on (Open).
func (c *Call) Snapshot(atMS, endMS int64, final bool) msg.Characteristics {
	ch := msg.Characteristics{CallID: c.id, AtMS: atMS, Final: final, TalkMS: map[msg.Role]int64{}}
	talk := append([]msg.TimelineEvent(nil), c.talk...)
	sort.Slice(talk, func(i, j int) bool { return talk[i].StartMS < talk[j].StartMS })
	type level struct{ energy, ms float64 }
	levels := map[msg.Role]*level{}
	for _, t := range talk {
		d := t.EndMS - t.StartMS
		ch.TalkMS[t.Leg] += d
		if t.LoudnessDBFS != 0 {
			ch.Turns = append(ch.Turns, msg.TurnLoudness{Leg: t.Leg, StartMS: t.StartMS, EndMS: t.EndMS, LoudnessDBFS: t.LoudnessDBFS})
			l := levels[t.Leg]
			if l == nil {
				l = &level{}
				levels[t.Leg] = l
			}
			l.energy += float64(d) * math.Pow(10, t.LoudnessDBFS/10)
			l.ms += float64(d)
		}
	}
	if len(levels) > 0 {
		ch.LoudnessDBFS = map[msg.Role]float64{}
		for leg, l := range levels {
			ch.LoudnessDBFS[leg] = math.Round(10*math.Log10(l.energy/l.ms)*10) / 10
		}
	}
	if !final && len(ch.Turns) > c.cfg.LiveTurns {
		ch.Turns = ch.Turns[len(ch.Turns)-c.cfg.LiveTurns:]
	}
	for _, h := range c.holds {
		ch.HoldMS += h.EndMS - h.StartMS
	}
	ch.Holds = slices.Clone(c.holds)
	slices.SortFunc(ch.Holds, func(a, b msg.Span) int { return cmp.Compare(a.StartMS, b.StartMS) })
	ch.NonTalk = union(slices.Concat(c.nonTalk(talk, endMS), c.holds, c.quiet))
	if endMS <= 0 && !final {
		if c.openSilence >= 0 {
			ch.Open = append(ch.Open, msg.OpenSpan{Kind: msg.SpanSilence, StartMS: c.openSilence, AfterMS: c.cfg.MinSilence.Milliseconds()})
		}
		if c.openHold >= 0 {
			ch.Open = append(ch.Open, msg.OpenSpan{Kind: msg.SpanHold, StartMS: c.openHold})
		}
	}
	for _, s := range ch.NonTalk {
		ch.NonTalkMS += s.EndMS - s.StartMS
	}
	over := append([]msg.TimelineEvent(nil), c.over...)
	sort.Slice(over, func(i, j int) bool { return over[i].StartMS < over[j].StartMS })
	for _, o := range over {
		ch.Interruptions = append(ch.Interruptions, msg.Interruption{By: o.Leg, Of: o.Other, StartMS: o.StartMS, EndMS: o.EndMS})
	}
	ch.TalkSpeedWPM = perMinute(c.words, c.ms)
	ch.TalkSpeedSPM = perMinute(c.syl, c.sylMS)
	return ch
}

// perMinute is each leg's count per minute of its time, to 0.1; nil when
// no leg has any.
func perMinute(counts map[msg.Role]int, ms map[msg.Role]int64) map[msg.Role]float64 {
	var out map[msg.Role]float64
	for leg, n := range counts {
		if ms[leg] > 0 {
			if out == nil {
				out = map[msg.Role]float64{}
			}
			out[leg] = math.Round(float64(n)*60000/float64(ms[leg])*10) / 10
		}
	}
	return out
}

// nonTalk returns the gaps longer than MinSilence in the union of both legs'
// talk (talk is sorted by start), from the call's start, and to endMS when
// the call has ended. Snapshot adds the holds to them.
func (c *Call) nonTalk(talk []msg.TimelineEvent, endMS int64) []msg.Span {
	min := c.cfg.MinSilence.Milliseconds()
	var gaps []msg.Span
	covered := int64(0) // the union of talk so far ends here
	for _, t := range talk {
		if t.StartMS-covered > min {
			gaps = append(gaps, msg.Span{StartMS: covered, EndMS: t.StartMS})
		}
		covered = max(covered, t.EndMS)
	}
	if endMS > 0 && endMS-covered > min {
		gaps = append(gaps, msg.Span{StartMS: covered, EndMS: endMS})
	}
	return gaps
}

func hasLetterOrDigit(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

func countWords(text string) int {
	n := 0
	for _, f := range strings.Fields(text) {
		if hasLetterOrDigit(f) {
			n++
		}
	}
	return n
}

// union merges overlapping spans, in start order: non-talk time counts a
// silence during a hold once.
func union(spans []msg.Span) []msg.Span {
	if len(spans) == 0 {
		return nil
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].StartMS < spans[j].StartMS })
	out := []msg.Span{spans[0]}
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.StartMS <= last.EndMS {
			last.EndMS = max(last.EndMS, s.EndMS)
			continue
		}
		out = append(out, s)
	}
	return out
}
