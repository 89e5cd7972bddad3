package ui

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/redact"
)

// subBuffer is how many events a browser may fall behind before it is
// dropped; its EventSource then reconnects and starts from a snapshot.
const subBuffer = 256

// subscriber is one browser's event stream: the board (callID empty) or
// one call's view.
type subscriber struct {
	user     string // who opened it
	cred     string // with which session or API token (principal.cred)
	callID   string
	agent    string // only this agent's calls; empty: all
	original bool   // unredacted text (admin)
	ch       chan []byte
}

// hub fans changes out to subscribers. Its methods are called with
// Server.mu held, so a subscriber's snapshot and the changes after it
// are in order.
type hub struct {
	subs   map[*subscriber]struct{}
	redact func(string) string
	// onDrop and onPush count, for metrics.
	onDrop func()
	onPush func()
}

func (h *hub) add(s *subscriber) { h.subs[s] = struct{}{} }

func (h *hub) remove(s *subscriber) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

func (h *hub) closeAll() {
	for s := range h.subs {
		h.remove(s)
	}
}

// end closes user's streams: all of them when cred is empty, else those
// opened with that session or API token.
func (h *hub) end(user, cred string) {
	for s := range h.subs {
		if s.user == user && (cred == "" || s.cred == cred) {
			h.remove(s)
		}
	}
}

// endCred removes the subscribers opened with the session or API token cred.
func (h *hub) endCred(cred string) {
	for s := range h.subs {
		if s.cred == cred {
			h.remove(s)
		}
	}
}

// send queues a frame for s, dropping s if it has fallen too far behind.
func (h *hub) send(s *subscriber, frame []byte) {
	select {
	case s.ch <- frame:
		h.onPush()
	default:
		h.remove(s)
		h.onDrop()
	}
}

// publish sends ch to every subscriber that watches its call. agentOf is
// the call's agent.
func (h *hub) publish(ch change, agentOf string, row func() boardRow) {
	var frames [2][]byte // redacted, original
	frame := func(original bool, kind string, data any) []byte {
		i := 0
		if original {
			i = 1
		}
		if frames[i] == nil {
			frames[i] = sseFrame(kind, h.view(data, original))
		}
		return frames[i]
	}
	var rowFrame, removeFrame []byte
	for s := range h.subs {
		if s.agent != "" && s.agent != agentOf {
			continue
		}
		if s.callID == "" {
			if ch.ended {
				if removeFrame == nil {
					removeFrame = sseFrame("remove", map[string]string{"call_id": ch.callID})
				}
				h.send(s, removeFrame)
			} else if ch.row {
				if rowFrame == nil {
					rowFrame = sseFrame("row", redactAny(row(), h.redact))
				}
				h.send(s, rowFrame)
			}
			continue
		}
		if s.callID != ch.callID {
			continue
		}
		if ch.kind != "call" {
			h.send(s, frame(s.original, ch.kind, ch.data))
		}
		if ch.row {
			if rowFrame == nil {
				rowFrame = sseFrame("row", redactAny(row(), h.redact))
			}
			h.send(s, rowFrame)
		}
	}
}

// removed tells board subscribers a call is gone.
func (h *hub) removed(callID, agentOf string) {
	f := sseFrame("remove", map[string]string{"call_id": callID})
	for s := range h.subs {
		if s.callID == "" && (s.agent == "" || s.agent == agentOf) {
			h.send(s, f)
		}
	}
}

// view is data as a viewer sees it: text redacted unless original, word
// lists (unredacted text) left out; with original, alerts' original text.
func (h *hub) view(data any, original bool) any { return viewAs(data, original, h.redact) }

func viewAs(data any, original bool, redact func(string) string) any {
	if original {
		return originalAny(data)
	}
	return redactAny(data, redact)
}

// redactAny is data as someone who may not read originals sees it. Alert
// text comes redacted from the rules stage; it is redacted again here, as
// the one place the web view lets text out.
func redactAny(data any, redact func(string) string) any {
	switch v := data.(type) {
	case msg.StoredSegment:
		v.Text = redact(v.Text)
		v.Words = nil
		v.Original = ""
		return v
	case msg.Alert:
		return redactAlert(v, redact)
	case msg.Categories:
		v.Categories = redactCategories(v.Categories, redact)
		return v
	case msg.CallRecord:
		segs := make([]msg.StoredSegment, len(v.Segments))
		for i, s := range v.Segments {
			segs[i] = redactAny(s, redact).(msg.StoredSegment)
		}
		v.Segments = segs
		as := make([]msg.Alert, len(v.Alerts))
		for i, a := range v.Alerts {
			as[i] = redactAlert(a, redact)
		}
		v.Alerts = as
		v.Categories = redactCategories(v.Categories, redact)
		return v
	case boardRow:
		if v.TopAlert != nil {
			ta := *v.TopAlert
			ta.Message = redact(ta.Message)
			v.TopAlert = &ta
		}
		return v
	}
	return data
}

func redactAlert(a msg.Alert, redact func(string) string) msg.Alert {
	a.Message = redact(a.Message)
	a.Matches = redactMatches(a.Matches, redact)
	a.Original = nil
	return a
}

// originalAny is data as an admin asking for originals sees it: alerts
// with their original text in place of the redacted.
func originalAny(data any) any {
	switch v := data.(type) {
	case msg.Alert:
		return originalAlert(v)
	case msg.CallRecord:
		as := make([]msg.Alert, len(v.Alerts))
		for i, a := range v.Alerts {
			as[i] = originalAlert(a)
		}
		v.Alerts = as
		return v
	}
	return data
}

func originalAlert(a msg.Alert) msg.Alert {
	o := a.Original
	if o == nil {
		return a
	}
	a.Original = nil
	a.Message = o.Message
	if len(o.Matches) == len(a.Matches) {
		ms := make([]msg.Match, len(a.Matches))
		for i, m := range a.Matches {
			m.Text = o.Matches[i]
			ms[i] = m
		}
		a.Matches = ms
	}
	return a
}

func redactCategories(cats []msg.Category, redact func(string) string) []msg.Category {
	out := make([]msg.Category, len(cats))
	for i, c := range cats {
		c.Matches = redactMatches(c.Matches, redact)
		out[i] = c
	}
	return out
}

func redactMatches(ms []msg.Match, redact func(string) string) []msg.Match {
	if ms == nil {
		return nil
	}
	out := make([]msg.Match, len(ms))
	for i, m := range ms {
		m.Text = redact(m.Text)
		out[i] = m
	}
	return out
}

// digitRun is four or more digits, possibly split by spaces or dashes:
// card, account and phone numbers.
var digitRun = regexp.MustCompile(`\d(?:[ \-]?\d){3,}`)

// RedactDigits masks every run of four or more digits as [redacted].
func RedactDigits(s string) string { return digitRun.ReplaceAllString(s, "[redacted]") }

// RedactLive is the default redaction of live text: the redactor every
// stage shares (package redact: card, account, phone numbers and the rest,
// written or spoken, in English or Korean), then RedactDigits over what it
// left, so no long written number reaches a viewer whatever it is.
func RedactLive(s string) string {
	out, _ := redact.Redact(s)
	return RedactDigits(out)
}

// sseFrame is one server-sent event. JSON has no raw newlines, so data is
// one line.
func sseFrame(kind string, data any) []byte {
	b, err := json.Marshal(data)
	if err != nil {
		b = []byte(`null`)
	}
	return fmt.Appendf(nil, "event: %s\ndata: %s\n\n", kind, b)
}
