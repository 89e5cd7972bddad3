package ui

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// Limits on what one call keeps in memory, so a flood of hostile messages
// can't grow it without bound. The store keeps everything.
const (
	maxSegmentsPerCall = 5000
	maxAlertsPerCall   = 500
	maxDTMFPerCall     = 500
	maxTrendPoints     = 30
)

// errRefused: a NATS message the live state does not take.
var errRefused = errors.New("refused")

// liveCall is what the ui knows of one call from NATS.
type liveCall struct {
	id        string
	info      msg.CallEvent // the latest start/update, merged
	ended     bool
	endedAt   time.Time
	lastEvent time.Time
	segs      map[string]*msg.StoredSegment
	sentiment *msg.CallSentiment
	chars     *msg.Characteristics
	alerts    []msg.Alert
	cats      *msg.Categories
	dtmf      []msg.DTMFEvent
	// From timeline spans, until characteristics arrive.
	silenceMS int64
	overlaps  int
}

// liveState is every call the ui follows. Its methods are called with
// Server.mu held.
type liveState struct {
	calls map[string]*liveCall
}

// change is what one applied message changed, for the browsers.
type change struct {
	callID string
	kind   string // segment, sentiment, characteristics, alert, categories, dtmf, call
	data   any    // the message as the browser gets it (before redaction)
	row    bool   // the board row changed
	ended  bool
}

// apply takes one message from subject into the state. It refuses
// malformed messages and messages whose call id differs from the subject's.
func (ls *liveState) apply(subject string, data []byte, now time.Time) (change, error) {
	callID, err := msg.CallFromSubject(subject)
	if err != nil {
		return change{}, fmt.Errorf("%w: %w", errRefused, err)
	}
	schema, _, err := msg.SchemaOf(data)
	if err != nil {
		return change{}, fmt.Errorf("%w: %s: %w", errRefused, subject, err)
	}
	mismatch := func(got string) error {
		if got != callID {
			return fmt.Errorf("%w: %s: call_id %q differs from the subject's", errRefused, subject, got)
		}
		return nil
	}
	decode := func(m msg.Message) error {
		if err := msg.Unmarshal(data, m); err != nil {
			return fmt.Errorf("%w: %s: %w", errRefused, subject, err)
		}
		return nil
	}
	ch := change{callID: callID, kind: schema}
	switch schema {
	case "call":
		var e msg.CallEvent
		if err := decode(&e); err != nil {
			return change{}, err
		}
		if err := mismatch(e.CallID); err != nil {
			return change{}, err
		}
		c := ls.call(callID, now)
		if !e.StartedAt.IsZero() {
			c.info.StartedAt = e.StartedAt
		}
		if e.Agent != "" {
			c.info.Agent = e.Agent
		}
		if e.Queue != "" {
			c.info.Queue = e.Queue
		}
		if e.Attributes != nil {
			c.info.Attributes = e.Attributes
		}
		if e.Legs != nil {
			c.info.Legs = e.Legs
		}
		c.info.CallID = callID
		if e.Kind == msg.CallEnded {
			c.ended = true
			c.endedAt = now
			c.info.DurationMS = e.DurationMS
			c.info.Reason = e.Reason
			ch.ended = true
		}
		ch.kind, ch.data, ch.row = "call", c.summary(now), true
	case "segment":
		var s msg.Segment
		if err := decode(&s); err != nil {
			return change{}, err
		}
		if err := mismatch(s.CallID); err != nil {
			return change{}, err
		}
		c := ls.call(callID, now)
		st, ok := c.putSegment(s, nil)
		if !ok {
			return change{callID: callID}, nil
		}
		ch.data = st
	case "scored-segment":
		var s msg.ScoredSegment
		if err := decode(&s); err != nil {
			return change{}, err
		}
		if err := mismatch(s.Segment.CallID); err != nil {
			return change{}, err
		}
		c := ls.call(callID, now)
		sent := s.Sentiment
		st, ok := c.putSegment(s.Segment, &sent)
		if !ok {
			return change{callID: callID}, nil
		}
		ch.kind, ch.data = "segment", st
	case "call-sentiment":
		var s msg.CallSentiment
		if err := decode(&s); err != nil {
			return change{}, err
		}
		if err := mismatch(s.CallID); err != nil {
			return change{}, err
		}
		if s.Final && ls.calls[callID] == nil {
			return change{callID: callID}, nil // after the call was forgotten
		}
		c := ls.call(callID, now)
		c.sentiment = &s
		ch.kind, ch.data, ch.row = "sentiment", s, true
	case "characteristics":
		var s msg.Characteristics
		if err := decode(&s); err != nil {
			return change{}, err
		}
		if err := mismatch(s.CallID); err != nil {
			return change{}, err
		}
		if s.Final && ls.calls[callID] == nil {
			return change{callID: callID}, nil
		}
		c := ls.call(callID, now)
		c.chars = &s
		ch.data, ch.row = s, true
	case "alert":
		var a msg.Alert
		if err := decode(&a); err != nil {
			return change{}, err
		}
		if err := mismatch(a.CallID); err != nil {
			return change{}, err
		}
		c := ls.call(callID, now)
		for _, x := range c.alerts {
			if x.ID == a.ID && a.ID != "" { // redelivered
				return change{callID: callID}, nil
			}
		}
		if len(c.alerts) >= maxAlertsPerCall {
			return change{}, fmt.Errorf("%w: %s: more than %d alerts", errRefused, subject, maxAlertsPerCall)
		}
		c.alerts = append(c.alerts, a)
		ch.data, ch.row = a, true
	case "categories":
		var s msg.Categories
		if err := decode(&s); err != nil {
			return change{}, err
		}
		if err := mismatch(s.CallID); err != nil {
			return change{}, err
		}
		if s.Final && ls.calls[callID] == nil {
			return change{callID: callID}, nil
		}
		c := ls.call(callID, now)
		c.cats = &s
		ch.data, ch.row = s, true
	case "dtmf":
		var d msg.DTMFEvent
		if err := decode(&d); err != nil {
			return change{}, err
		}
		if err := mismatch(d.CallID); err != nil {
			return change{}, err
		}
		c := ls.call(callID, now)
		if len(c.dtmf) >= maxDTMFPerCall {
			return change{}, fmt.Errorf("%w: %s: more than %d digits", errRefused, subject, maxDTMFPerCall)
		}
		c.dtmf = append(c.dtmf, d)
		ch.data = d
	case "timeline":
		var t msg.TimelineEvent
		if err := decode(&t); err != nil {
			return change{}, err
		}
		if err := mismatch(t.CallID); err != nil {
			return change{}, err
		}
		c := ls.call(callID, now)
		switch t.Kind {
		case msg.SpanSilence:
			if !t.Open && t.EndMS > t.StartMS {
				c.silenceMS += t.EndMS - t.StartMS
			}
		case msg.SpanOverlap:
			c.overlaps++
		default:
			return change{callID: callID}, nil
		}
		if c.chars != nil { // characteristics say it better
			return change{callID: callID}, nil
		}
		ch.kind, ch.data, ch.row = "call", c.summary(now), true
	default:
		return change{}, fmt.Errorf("%w: %s: schema %q is not one the ui shows", errRefused, subject, schema)
	}
	return ch, nil
}

func (ls *liveState) call(id string, now time.Time) *liveCall {
	c, ok := ls.calls[id]
	if !ok {
		c = &liveCall{id: id, segs: map[string]*msg.StoredSegment{}}
		c.info.CallID = id
		ls.calls[id] = c
	}
	c.lastEvent = now
	return c
}

// putSegment takes an interim or final segment; an interim never replaces
// a final or a later interim of the same part. It reports whether the
// segment was taken.
func (c *liveCall) putSegment(s msg.Segment, sent *msg.Sentiment) (msg.StoredSegment, bool) {
	if s.ID == "" {
		return msg.StoredSegment{}, false
	}
	old, ok := c.segs[s.ID]
	if ok && s.Interim && (!old.Interim || old.Rev > s.Rev) {
		return msg.StoredSegment{}, false
	}
	if !ok && len(c.segs) >= maxSegmentsPerCall {
		return msg.StoredSegment{}, false
	}
	if ok && sent == nil && !s.Interim && old.Sentiment != nil {
		sent = old.Sentiment // the final again, after its score
	}
	st := &msg.StoredSegment{Segment: s, Sentiment: sent}
	c.segs[s.ID] = st
	return *st, true
}

// boardRow is one call on the live board.
type boardRow struct {
	CallID        string               `json:"call_id"`
	Agent         string               `json:"agent,omitempty"`
	Queue         string               `json:"queue,omitempty"`
	StartedAt     time.Time            `json:"started_at"`
	Ended         bool                 `json:"ended,omitempty"`
	DurationMS    int64                `json:"duration_ms,omitempty"`
	Participants  map[msg.Role]rowSent `json:"participants,omitempty"`
	NonTalkMS     int64                `json:"non_talk_ms"`
	NonTalkOpen   *rowOpen             `json:"non_talk_open,omitempty"`
	Interruptions int                  `json:"interruptions"`
	Alerts        int                  `json:"alerts"`
	TopAlert      *rowAlert            `json:"top_alert,omitempty"` // the most severe, the latest of those
	Categories    []string             `json:"categories,omitempty"`
}

type rowSent struct {
	Current float64   `json:"current"`
	Trend   []float64 `json:"trend,omitempty"`
}

// rowOpen is the non-talk time going on (the earliest open silence or
// hold): the board counts it up from StartMS on the call clock, once past
// AfterMS, on top of BaseMS, the non-talk time before it.
type rowOpen struct {
	StartMS int64 `json:"start_ms"`
	AfterMS int64 `json:"after_ms"`
	BaseMS  int64 `json:"base_ms"`
}

// openRow picks the open span the board counts up from.
func openRow(ch *msg.Characteristics) *rowOpen {
	if len(ch.Open) == 0 {
		return nil
	}
	o := slices.MinFunc(ch.Open, func(a, b msg.OpenSpan) int { return cmp.Compare(a.StartMS, b.StartMS) })
	r := &rowOpen{StartMS: o.StartMS, AfterMS: o.AfterMS}
	for _, s := range ch.NonTalk {
		r.BaseMS += max(0, min(s.EndMS, o.StartMS)-s.StartMS)
	}
	return r
}

type rowAlert struct {
	RuleName string `json:"rule_name"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

func (c *liveCall) summary(now time.Time) boardRow {
	r := boardRow{
		CallID: c.id, Agent: c.info.Agent, Queue: c.info.Queue, StartedAt: c.info.StartedAt,
		Ended: c.ended, DurationMS: c.info.DurationMS,
		NonTalkMS: c.silenceMS, Interruptions: c.overlaps, Alerts: len(c.alerts),
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = now
	}
	if c.chars != nil {
		r.NonTalkMS = c.chars.NonTalkMS
		if !c.ended {
			r.NonTalkOpen = openRow(c.chars)
		}
		r.Interruptions = len(c.chars.Interruptions)
	}
	if c.sentiment != nil {
		r.Participants = map[msg.Role]rowSent{}
		for role, p := range c.sentiment.Participants {
			rs := rowSent{Current: p.Current}
			tr := p.Trend
			if len(tr) > maxTrendPoints {
				tr = tr[len(tr)-maxTrendPoints:]
			}
			for _, t := range tr {
				rs.Trend = append(rs.Trend, t.Score)
			}
			r.Participants[role] = rs
		}
	}
	if a, ok := topAlert(c.alerts); ok {
		r.TopAlert = &rowAlert{RuleName: a.RuleName, Severity: a.Severity, Message: a.Message}
	}
	if c.cats != nil {
		for _, x := range c.cats.Categories {
			r.Categories = append(r.Categories, x.Name)
		}
	}
	return r
}

// severityRank orders alert severities; one the ui does not know ranks
// with critical, so that nothing unknown hides behind a warning.
func severityRank(s string) int {
	switch s {
	case "info":
		return 0
	case "warning":
		return 1
	}
	return 2
}

// topAlert is the most severe of alerts, the latest among equals.
func topAlert(alerts []msg.Alert) (msg.Alert, bool) {
	if len(alerts) == 0 {
		return msg.Alert{}, false
	}
	top := alerts[0]
	for _, a := range alerts[1:] {
		if severityRank(a.Severity) >= severityRank(top.Severity) {
			top = a
		}
	}
	return top, true
}

// record is the call as a msg.CallRecord, segments in call-clock order.
func (c *liveCall) record(now time.Time) msg.CallRecord {
	row := c.summary(now)
	rec := msg.CallRecord{
		Call: msg.CallSummary{
			CallID: c.id, Agent: c.info.Agent, Queue: c.info.Queue, Attributes: c.info.Attributes,
			Legs: c.info.Legs, StartedAt: row.StartedAt, DurationMS: c.info.DurationMS,
			EndReason: c.info.Reason, NonTalkMS: row.NonTalkMS, Categories: row.Categories,
			AlertCount: len(c.alerts),
		},
		Alerts:          append([]msg.Alert(nil), c.alerts...),
		Sentiment:       c.sentiment,
		Characteristics: c.chars,
		DTMF:            append([]msg.DTMFEvent(nil), c.dtmf...),
		Segments:        make([]msg.StoredSegment, 0, len(c.segs)),
	}
	if c.ended {
		t := c.endedAt
		rec.Call.EndedAt = &t
	}
	if c.cats != nil {
		rec.Categories = c.cats.Categories
	}
	for _, s := range c.segs {
		rec.Segments = append(rec.Segments, *s)
	}
	sort.Slice(rec.Segments, func(i, j int) bool {
		a, b := rec.Segments[i], rec.Segments[j]
		if a.StartMS != b.StartMS {
			return a.StartMS < b.StartMS
		}
		return a.ID < b.ID
	})
	return rec
}

// prune forgets calls that ended more than linger ago and calls with no
// event for stale (their end was lost).
func (ls *liveState) prune(now time.Time, linger, stale time.Duration) (gone []string) {
	for id, c := range ls.calls {
		if c.ended && now.Sub(c.endedAt) > linger || now.Sub(c.lastEvent) > stale {
			delete(ls.calls, id)
			gone = append(gone, id)
		}
	}
	return gone
}
