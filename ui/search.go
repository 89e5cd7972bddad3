package ui

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/earshot-dev/earshot/msg"
)

// maxQueryLen bounds a search query's text.
const maxQueryLen = 1000

// parseSearch reads a search from URL query parameters:
//
//	q agent queue from to leg category has_alert min_sentiment max_sentiment
//	min_shift max_shift min_non_talk_ms attr (KEY=VALUE, repeatable)
//	min_score max_score (an evaluation's total, 0-100) csat (a 1-5 survey
//	answer) limit offset
//
// Times are RFC 3339. The error names the parameter and the problem.
func parseSearch(v url.Values) (msg.SearchQuery, error) {
	var q msg.SearchQuery
	q.Text = strings.TrimSpace(v.Get("q"))
	if len(q.Text) > maxQueryLen {
		return q, fmt.Errorf("q: %d bytes, at most %d", len(q.Text), maxQueryLen)
	}
	if !utf8.ValidString(q.Text) {
		return q, fmt.Errorf("q: not valid UTF-8")
	}
	q.Agent = v.Get("agent")
	q.Queue = v.Get("queue")
	q.Category = v.Get("category")
	for _, name := range []string{"agent", "queue", "category"} {
		if s := v.Get(name); len(s) > 200 || !utf8.ValidString(s) {
			return q, fmt.Errorf("%s: at most 200 bytes of UTF-8", name)
		}
	}
	for _, t := range []struct {
		name string
		dst  **time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := v.Get(t.name)
		if s == "" {
			continue
		}
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return q, fmt.Errorf("%s: %q is not an RFC 3339 time (like 2026-01-02T15:04:05Z)", t.name, s)
		}
		*t.dst = &tm
	}
	if q.From != nil && q.To != nil && q.To.Before(*q.From) {
		return q, fmt.Errorf("to: before from")
	}
	if s := v.Get("leg"); s != "" {
		q.Leg = msg.Role(s)
		if !q.Leg.Valid() {
			return q, fmt.Errorf("leg: %q (want agent, customer, a or b)", s)
		}
	}
	if s := v.Get("has_alert"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, fmt.Errorf("has_alert: %q (want true or false)", s)
		}
		q.HasAlert = &b
	}
	for _, f := range []struct {
		name string
		dst  **float64
	}{{"min_sentiment", &q.MinSentiment}, {"max_sentiment", &q.MaxSentiment}, {"min_shift", &q.MinShift}, {"max_shift", &q.MaxShift}} {
		s := v.Get(f.name)
		if s == "" {
			continue
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || x < -10 || x > 10 {
			return q, fmt.Errorf("%s: %q (want a number from -5 to 5)", f.name, s)
		}
		*f.dst = &x
	}
	for _, f := range []struct {
		name string
		dst  **float64
	}{{"min_score", &q.MinScore}, {"max_score", &q.MaxScore}} {
		s := v.Get(f.name)
		if s == "" {
			continue
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || x < 0 || x > 100 {
			return q, fmt.Errorf("%s: %q (want a score from 0 to 100)", f.name, s)
		}
		*f.dst = &x
	}
	if s := v.Get("csat"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 5 {
			return q, fmt.Errorf("csat: %q (want a survey answer from 1 to 5)", s)
		}
		q.CSAT = &n
	}
	ints := []struct {
		name string
		max  int64
		set  func(int64)
	}{
		{"min_non_talk_ms", 1 << 40, func(x int64) { q.MinNonTalkMS = x }},
		{"limit", 100, func(x int64) { q.Limit = int(x) }},
		{"offset", 1 << 20, func(x int64) { q.Offset = int(x) }},
	}
	for _, f := range ints {
		s := v.Get(f.name)
		if s == "" {
			continue
		}
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil || x < 0 || x > f.max {
			return q, fmt.Errorf("%s: %q (want a whole number from 0 to %d)", f.name, s, f.max)
		}
		f.set(x)
	}
	for _, a := range v["attr"] {
		k, val, ok := strings.Cut(a, "=")
		if !ok || k == "" || len(a) > 400 {
			return q, fmt.Errorf("attr: %q (want KEY=VALUE)", a)
		}
		if q.Attributes == nil {
			q.Attributes = map[string]string{}
		}
		q.Attributes[k] = val
	}
	return q, nil
}

// part is a piece of snippet text, marked when a search hit.
type part struct {
	Text string `json:"t"`
	Hit  bool   `json:"hit,omitempty"`
}

// splitHighlights cuts text at the highlight byte ranges [start, end).
// Ranges out of bounds are clipped, overlapping ones merged, and bounds
// inside a UTF-8 sequence moved to the start of its rune, so any input
// gives pieces that concatenate back to text.
func splitHighlights(text string, hl [][2]int) []part {
	rs := make([][2]int, 0, len(hl))
	for _, h := range hl {
		a, b := clampRune(text, h[0], -1), clampRune(text, h[1], +1)
		if a < b {
			rs = append(rs, [2]int{a, b})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	var out []part
	pos := 0
	for _, r := range rs {
		if r[1] <= pos {
			continue
		}
		if r[0] < pos {
			r[0] = pos
		}
		if r[0] > pos {
			out = append(out, part{Text: text[pos:r[0]]})
		}
		if n := len(out); n > 0 && out[n-1].Hit && r[0] == pos {
			out[n-1].Text += text[r[0]:r[1]]
		} else {
			out = append(out, part{Text: text[r[0]:r[1]], Hit: true})
		}
		pos = r[1]
	}
	if pos < len(text) || len(out) == 0 {
		out = append(out, part{Text: text[pos:]})
	}
	return out
}

// clampRune puts byte offset i within s and, when it falls inside a UTF-8
// sequence, moves it to a rune boundary in direction dir (-1 or +1).
func clampRune(s string, i, dir int) int {
	if i < 0 {
		return 0
	}
	if i >= len(s) {
		return len(s)
	}
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i += dir
	}
	return i
}

// searchResponse is the search API's answer: the store's results with
// every snippet also cut into marked parts.
type searchResponse struct {
	Total int       `json:"total"`
	Hits  []hitView `json:"hits"`
}

type hitView struct {
	Call     msg.CallSummary `json:"call"`
	Score    float64         `json:"score"`
	Snippets []snippetView   `json:"snippets,omitempty"`
}

type snippetView struct {
	msg.Snippet
	Parts []part `json:"parts"`
}

func viewResults(r msg.SearchResults) searchResponse {
	out := searchResponse{Total: r.Total, Hits: make([]hitView, 0, len(r.Hits))}
	for _, h := range r.Hits {
		hv := hitView{Call: h.Call, Score: h.Score}
		for _, sn := range h.Snippets {
			hv.Snippets = append(hv.Snippets, snippetView{Snippet: sn, Parts: splitHighlights(sn.Text, sn.Highlights)})
		}
		out.Hits = append(out.Hits, hv)
	}
	return out
}
