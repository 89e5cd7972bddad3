package ui

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// within is how soon an event on NATS must reach a browser.
const within = time.Second

func publish(t *testing.T, pub func(context.Context, string, []byte) error, subject string, m msg.Message) {
	t.Helper()
	b, err := msg.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub(context.Background(), subject, b); err != nil {
		t.Fatal(err)
	}
}

func seg(call string, leg msg.Role, turn int, interim bool, rev int, start int64, text string) msg.Segment {
	return msg.Segment{ID: call + "/" + string(leg) + "/" + string(rune('0'+turn)) + "/0", CallID: call, Leg: leg, Turn: turn,
		Interim: interim, Rev: rev, StartMS: start, EndMS: start + 2000, Text: text}
}

// TestLiveFollowsNATS: events published on a real NATS reach the board and
// the call view, in order, within a second; agents see only their calls.
func TestLiveFollowsNATS(t *testing.T) {
	_, conn := bustest.Start(t)
	reg := prometheus.NewRegistry()
	ts := startTestServer(t, Config{JS: conn.JS, Metrics: reg})
	select {
	case <-ts.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	sup := ts.login(t, "sue")
	board, stopBoard := sup.events("/api/ui/live")
	defer stopBoard()
	next(t, board, "snapshot", within)
	annBoard, stopAnn := ts.login(t, "ann").events("/api/ui/live")
	defer stopAnn()
	next(t, annBoard, "snapshot", within)

	const call = "c-live-1"
	pub := conn.Publish
	publish(t, pub, msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted, Time: time.Now(), StartedAt: time.Now(), Agent: "bob", Queue: "billing"})
	var row boardRow
	if err := json.Unmarshal([]byte(next(t, board, "row", within).data), &row); err != nil || row.CallID != call || row.Agent != "bob" || row.Queue != "billing" {
		t.Fatalf("row %+v (%v)", row, err)
	}

	view, stopView := sup.events("/api/ui/calls/" + call + "/events")
	defer stopView()
	next(t, view, "snapshot", within)

	publish(t, pub, msg.SubjectTranscript(call), seg(call, msg.RoleCustomer, 1, true, 1, 500, "I want to"))
	var got msg.StoredSegment
	_ = json.Unmarshal([]byte(next(t, view, "segment", within).data), &got)
	if !got.Interim || got.Text != "I want to" {
		t.Fatalf("interim %+v", got)
	}
	final := seg(call, msg.RoleCustomer, 1, false, 0, 500, "I want to cancel my card 4111 1111 1111 1111")
	publish(t, pub, msg.SubjectTranscript(call), final)
	_ = json.Unmarshal([]byte(next(t, view, "segment", within).data), &got)
	if got.Interim || got.ID != final.ID || got.Text != "I want to cancel my card [PII]" {
		t.Fatalf("final %+v: want the interim replaced, the card number redacted", got)
	}
	// A late interim does not replace the final.
	publish(t, pub, msg.SubjectTranscript(call), seg(call, msg.RoleCustomer, 1, true, 2, 500, "I want to cancel"))
	publish(t, pub, msg.SubjectScoredSegment(call), msg.ScoredSegment{Segment: final, Sentiment: msg.Sentiment{Label: msg.Negative, Compound: -0.6}})
	_ = json.Unmarshal([]byte(next(t, view, "segment", within).data), &got)
	if got.Interim || got.Sentiment == nil || got.Sentiment.Label != msg.Negative {
		t.Fatalf("scored %+v", got)
	}
	publish(t, pub, msg.SubjectCallSentiment(call), msg.CallSentiment{CallID: call, AtMS: 2500, Participants: map[msg.Role]msg.ParticipantSentiment{
		msg.RoleCustomer: {Current: -3, Trend: []msg.TrendPoint{{AtMS: 2500, Score: -3}}},
	}})
	_ = json.Unmarshal([]byte(next(t, board, "row", within).data), &row)
	if row.Participants[msg.RoleCustomer].Current != -3 {
		t.Fatalf("row sentiment %+v", row.Participants)
	}
	// An alert as a rules process of an older build published it: its
	// text unredacted. The original, for admins, rides apart.
	publish(t, pub, msg.SubjectAlert(call), msg.Alert{ID: "a1", CallID: call, RuleID: "r", RuleName: "Angry customer", Severity: "critical", AtMS: 2500,
		Message: "Angry customer: card 4111 1111 1111 1111", Matches: []msg.Match{{SegmentID: final.ID, Text: "card 4111 1111 1111 1111"}},
		Original: &msg.AlertOriginal{Message: "Angry customer: card 4111 1111 1111 1111", Matches: []string{"card 4111 1111 1111 1111"}}})
	_ = json.Unmarshal([]byte(next(t, board, "row", within).data), &row)
	if row.Alerts != 1 || row.TopAlert == nil || row.TopAlert.RuleName != "Angry customer" || row.TopAlert.Message != "Angry customer: card [PII]" {
		t.Fatalf("row after alert %+v: want the top alert's message redacted", row.TopAlert)
	}
	var alert msg.Alert
	_ = json.Unmarshal([]byte(next(t, view, "alert", within).data), &alert)
	if alert.Matches[0].Text != "card [PII]" || alert.Message != "Angry customer: card [PII]" || alert.Original != nil {
		t.Fatalf("alert %+v: want its text redacted and no original", alert)
	}
	resp, b := ts.login(t, "root").do("GET", "/api/ui/calls/"+call+"?original=1", nil, nil)
	var orig struct{ Record msg.CallRecord }
	if err := json.Unmarshal(b, &orig); err != nil || resp.StatusCode != 200 || len(orig.Record.Alerts) != 1 ||
		orig.Record.Alerts[0].Message != "Angry customer: card 4111 1111 1111 1111" || orig.Record.Alerts[0].Matches[0].Text != "card 4111 1111 1111 1111" {
		t.Fatalf("the admin's original view: %s", b)
	}
	publish(t, pub, msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, Time: time.Now(), DurationMS: 9000, Reason: msg.EndBye})
	if ev := next(t, board, "remove", within); !strings.Contains(ev.data, call) {
		t.Fatalf("remove %s", ev.data)
	}

	// ann (agent) saw none of bob's call; her own appears.
	publish(t, pub, msg.SubjectCall("c-ann"), msg.CallEvent{CallID: "c-ann", Kind: msg.CallStarted, StartedAt: time.Now(), Agent: "ann"})
	ev := next(t, annBoard, "row", within)
	if !strings.Contains(ev.data, `"c-ann"`) {
		t.Fatalf("ann's first row is %s; want her own call, not bob's", ev.data)
	}

	// The finished call, not yet in the store, stays readable from memory.
	resp, b = sup.do("GET", "/api/ui/calls/"+call, nil, nil)
	var out struct {
		Live   bool
		Record msg.CallRecord
	}
	if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if out.Live || len(out.Record.Alerts) != 1 || len(out.Record.Segments) != 1 || out.Record.Call.EndedAt == nil {
		t.Fatalf("ended call %+v", out)
	}
	if n := testutil.ToFloat64(ts.metrics.pushed); n < 10 {
		t.Errorf("events pushed metric %v, want at least 10", n)
	}
	if n := testutil.ToFloat64(ts.metrics.clients); n != 3 {
		t.Errorf("event streams metric %v, want 3 open", n)
	}
	if n := testutil.ToFloat64(ts.metrics.applied); n < 8 {
		t.Errorf("applied metric %v", n)
	}
}

// TestLiveRebuildsOnStart: a ui started after events were published shows
// the calls still going on, with their transcript, and not the ended ones.
func TestLiveRebuildsOnStart(t *testing.T) {
	_, conn := bustest.Start(t)
	pub := conn.Publish
	publish(t, pub, msg.SubjectCall("on"), msg.CallEvent{CallID: "on", Kind: msg.CallStarted, StartedAt: time.Now(), Agent: "ann", Queue: "q1"})
	publish(t, pub, msg.SubjectTranscript("on"), seg("on", msg.RoleAgent, 1, false, 0, 0, "thank you for calling"))
	publish(t, pub, msg.SubjectCall("off"), msg.CallEvent{CallID: "off", Kind: msg.CallStarted, StartedAt: time.Now()})
	publish(t, pub, msg.SubjectCall("off"), msg.CallEvent{CallID: "off", Kind: msg.CallEnded})
	if err := pub(context.Background(), msg.SubjectTranscript("on"), []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	// The stream's last message is one the ui does not follow: it must
	// still know when it has caught up.
	publish(t, pub, msg.SubjectRuleEvent("on"), msg.RuleEvent{CallID: "on", RuleID: "r"})

	ts := startTestServer(t, Config{JS: conn.JS})
	select {
	case <-ts.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	sup := ts.login(t, "sue")
	evs, stop := sup.events("/api/ui/live")
	defer stop()
	var snap struct{ Rows []boardRow }
	if err := json.Unmarshal([]byte(next(t, evs, "snapshot", within).data), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Rows) != 1 || snap.Rows[0].CallID != "on" || snap.Rows[0].Queue != "q1" {
		t.Fatalf("rows %+v: want only the active call", snap.Rows)
	}
	_, b := sup.do("GET", "/api/ui/calls/on", nil, nil)
	if !strings.Contains(string(b), "thank you for calling") || !strings.Contains(string(b), `"live":true`) {
		t.Fatalf("call view %s", b)
	}
}

func TestApply(t *testing.T) {
	ls := liveState{calls: map[string]*liveCall{}}
	now := time.Now()
	put := func(subject string, m msg.Message) (change, error) {
		b, _ := msg.Marshal(m)
		return ls.apply(subject, b, now)
	}
	const c = "c1"
	for _, tc := range []struct {
		name    string
		subject string
		m       msg.Message
		refused bool
		kind    string
	}{
		{"start", msg.SubjectCall(c), msg.CallEvent{CallID: c, Kind: msg.CallStarted, Agent: "a"}, false, "call"},
		{"interim", msg.SubjectTranscript(c), seg(c, msg.RoleAgent, 1, true, 2, 0, "hel"), false, "segment"},
		{"older interim", msg.SubjectTranscript(c), seg(c, msg.RoleAgent, 1, true, 1, 0, "h"), false, ""},
		{"final", msg.SubjectTranscript(c), seg(c, msg.RoleAgent, 1, false, 0, 0, "hello"), false, "segment"},
		{"late interim", msg.SubjectTranscript(c), seg(c, msg.RoleAgent, 1, true, 3, 0, "hello th"), false, ""},
		{"no id", msg.SubjectTranscript(c), msg.Segment{CallID: c}, false, ""},
		{"other call in data", msg.SubjectTranscript(c), seg("c2", msg.RoleAgent, 1, false, 0, 0, "x"), true, ""},
		{"unknown schema", msg.SubjectTranscript(c), msg.AnnounceReply{OK: true}, true, ""},
		{"bad subject", "earshot.transcript", seg(c, msg.RoleAgent, 1, false, 0, 0, "x"), true, ""},
		{"alert", msg.SubjectAlert(c), msg.Alert{ID: "a1", CallID: c}, false, "alert"},
		{"redelivered alert", msg.SubjectAlert(c), msg.Alert{ID: "a1", CallID: c}, false, ""},
		{"silence", msg.SubjectTimeline(c), msg.TimelineEvent{CallID: c, Kind: msg.SpanSilence, StartMS: 0, EndMS: 1500}, false, "call"},
		{"overlap", msg.SubjectTimeline(c), msg.TimelineEvent{CallID: c, Kind: msg.SpanOverlap}, false, "call"},
		{"talk", msg.SubjectTimeline(c), msg.TimelineEvent{CallID: c, Kind: msg.SpanTalk}, false, ""},
		{"dtmf", msg.SubjectDTMF(c), msg.DTMFEvent{CallID: c, Digit: "5"}, false, "dtmf"},
		{"categories", msg.SubjectCategories(c), msg.Categories{CallID: c, Categories: []msg.Category{{Name: "churn"}}}, false, "categories"},
		{"characteristics", msg.SubjectCharacteristics(c), msg.Characteristics{CallID: c, NonTalkMS: 7000, Interruptions: []msg.Interruption{{}, {}}}, false, "characteristics"},
		{"end", msg.SubjectCall(c), msg.CallEvent{CallID: c, Kind: msg.CallEnded, DurationMS: 10}, false, "call"},
	} {
		ch, err := put(tc.subject, tc.m)
		if tc.refused != (err != nil) || tc.refused && !errors.Is(err, errRefused) {
			t.Errorf("%s: err %v, want refused=%v", tc.name, err, tc.refused)
		}
		if ch.kind != tc.kind {
			t.Errorf("%s: change %q, want %q", tc.name, ch.kind, tc.kind)
		}
	}
	if _, err := ls.apply(msg.SubjectTranscript(c), []byte("{"), now); !errors.Is(err, errRefused) {
		t.Errorf("malformed: %v", err)
	}
	lc := ls.calls[c]
	rec := lc.record(now)
	if len(rec.Segments) != 1 || rec.Segments[0].Text != "hello" || rec.Segments[0].Interim {
		t.Fatalf("segments %+v: want the final only", rec.Segments)
	}
	row := lc.summary(now)
	if row.Alerts != 1 || row.NonTalkMS != 7000 || row.Interruptions != 2 || !row.Ended || len(row.Categories) != 1 {
		t.Fatalf("row %+v", row)
	}
	if gone := ls.prune(now.Add(time.Hour), 10*time.Minute, 4*time.Hour); len(gone) != 1 || len(ls.calls) != 0 {
		t.Fatalf("prune: %v", gone)
	}
	// Post-call results for a forgotten call do not bring it back as a
	// ghost on the board.
	for _, m := range []msg.Message{
		msg.CallSentiment{CallID: c, Final: true}, msg.Characteristics{CallID: c, Final: true}, msg.Categories{CallID: c, Final: true},
	} {
		subject := map[string]string{"call-sentiment": msg.SubjectCallSentiment(c), "characteristics": msg.SubjectCharacteristics(c), "categories": msg.SubjectCategories(c)}
		name, _ := m.Schema()
		if _, err := put(subject[name], m); err != nil || len(ls.calls) != 0 {
			t.Fatalf("final %s after prune: %v, %d calls", name, err, len(ls.calls))
		}
	}
}

// TestOpenNonTalkOnTheBoard: an open silence is not yet a silence of the
// board's own count; open spans in the characteristics give the board
// where to count up from: the earliest, on top of the non-talk before it.
func TestOpenNonTalkOnTheBoard(t *testing.T) {
	ls := liveState{calls: map[string]*liveCall{}}
	now := time.Now()
	put := func(subject string, m msg.Message) {
		t.Helper()
		b, _ := msg.Marshal(m)
		if _, err := ls.apply(subject, b, now); err != nil {
			t.Fatal(err)
		}
	}
	const c = "c-hold"
	put(msg.SubjectCall(c), msg.CallEvent{CallID: c, Kind: msg.CallStarted, StartedAt: now})
	put(msg.SubjectTimeline(c), msg.TimelineEvent{CallID: c, Kind: msg.SpanSilence, StartMS: 5000, EndMS: 6000, Open: true})
	if row := ls.calls[c].summary(now); row.NonTalkMS != 0 || row.NonTalkOpen != nil {
		t.Fatalf("row %+v: an open silence counted as finished", row)
	}
	put(msg.SubjectCharacteristics(c), msg.Characteristics{CallID: c, AtMS: 21000,
		NonTalkMS: 4000, NonTalk: []msg.Span{{StartMS: 0, EndMS: 4000}},
		Open: []msg.OpenSpan{{Kind: msg.SpanHold, StartMS: 20000}, {Kind: msg.SpanSilence, StartMS: 5000, AfterMS: 3000}}})
	row := ls.calls[c].summary(now)
	if want := (rowOpen{StartMS: 5000, AfterMS: 3000, BaseMS: 4000}); row.NonTalkMS != 4000 || row.NonTalkOpen == nil || *row.NonTalkOpen != want {
		t.Fatalf("row non-talk %d, open %+v; want 4000 and %+v", row.NonTalkMS, row.NonTalkOpen, want)
	}
	put(msg.SubjectCall(c), msg.CallEvent{CallID: c, Kind: msg.CallEnded, DurationMS: 30000})
	if row := ls.calls[c].summary(now); row.NonTalkOpen != nil {
		t.Errorf("an ended call counts up: %+v", row.NonTalkOpen)
	}
}

// TestSlowBrowserDropped: a stream that falls behind is dropped (closed),
// not waited for; the others still get the event.
func TestSlowBrowserDropped(t *testing.T) {
	drops := 0
	h := hub{subs: map[*subscriber]struct{}{}, redact: RedactDigits, onDrop: func() { drops++ }, onPush: func() {}}
	slow := &subscriber{ch: make(chan []byte)}
	fast := &subscriber{ch: make(chan []byte, 1)}
	h.add(slow)
	h.add(fast)
	h.publish(change{callID: "c", kind: "sentiment", row: true}, "", func() boardRow { return boardRow{CallID: "c"} })
	if _, open := <-slow.ch; open || drops != 1 {
		t.Fatalf("slow subscriber open=%v drops=%d; want closed and counted", open, drops)
	}
	if f := <-fast.ch; !strings.HasPrefix(string(f), "event: row\n") {
		t.Fatalf("fast got %q", f)
	}
}

func TestRedactDigits(t *testing.T) {
	for in, want := range map[string]string{
		"card 4111 1111 1111 1111 ok": "card [redacted] ok",
		"call 555-123-4567":           "call [redacted]",
		"room 12 at 3":                "room 12 at 3",
		"year 2024":                   "year [redacted]",
	} {
		if got := RedactDigits(in); got != want {
			t.Errorf("RedactDigits(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzApply: no message crashes the live state, and whatever it takes
// can be shown (summary and record) and marshalled.
func FuzzApply(f *testing.F) {
	for _, m := range []msg.Message{
		msg.CallEvent{CallID: "c", Kind: msg.CallStarted, Agent: "a"},
		seg("c", msg.RoleAgent, 1, true, 1, 0, "hi"),
		msg.ScoredSegment{Segment: seg("c", msg.RoleAgent, 1, false, 0, 0, "hi")},
		msg.CallSentiment{CallID: "c", Participants: map[msg.Role]msg.ParticipantSentiment{"agent": {Trend: []msg.TrendPoint{{}}}}},
		msg.Alert{ID: "x", CallID: "c"},
		msg.TimelineEvent{CallID: "c", Kind: msg.SpanSilence, EndMS: 5},
	} {
		b, _ := msg.Marshal(m)
		f.Add("earshot.x.c", b)
	}
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		ls := liveState{calls: map[string]*liveCall{}}
		now := time.Now()
		for range 2 {
			ch, err := ls.apply(subject, data, now)
			if err != nil {
				if !errors.Is(err, errRefused) {
					t.Fatalf("error not marked refused: %v", err)
				}
				return
			}
			if c, ok := ls.calls[ch.callID]; ok {
				if _, err := json.Marshal(redactAny(c.record(now), RedactDigits)); err != nil {
					t.Fatal(err)
				}
				_ = sseFrame("row", c.summary(now))
			}
		}
	})
}

// TestHostileTextNeverMarkup: whatever the call said, no API answer or
// event frame carries a raw '<' (JSON escapes it), and pages are served
// with a CSP that forbids inline script.
func TestHostileTextNeverMarkup(t *testing.T) {
	rec := searchRecord()
	ts := startTestServer(t, Config{}, rec)
	const c = "evil"
	ts.inject(t, msg.SubjectCall(c), msg.CallEvent{CallID: c, Kind: msg.CallStarted, StartedAt: time.Now(), Agent: hostileImg, Queue: hostileScript})
	ts.inject(t, msg.SubjectTranscript(c), seg(c, msg.RoleCustomer, 1, false, 0, 0, hostileScript+hostileImg))
	ts.inject(t, msg.SubjectAlert(c), msg.Alert{ID: "1", CallID: c, RuleName: hostileScript, Message: hostileImg, Matches: []msg.Match{{Text: hostileImg}}})
	ts.inject(t, msg.SubjectCategories(c), msg.Categories{CallID: c, Categories: []msg.Category{{Name: hostileImg}}})
	admin := ts.login(t, "root")
	for _, path := range []string{
		"/api/ui/calls/evil", "/api/ui/calls/evil?original=1", "/api/ui/calls/evil/events", "/api/ui/live",
		"/api/ui/calls/past-1", "/api/ui/search?q=kettle",
	} {
		resp, b := admin.do("GET", path, nil, nil)
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if strings.ContainsAny(string(b), "<>") {
			t.Errorf("%s: raw markup characters in %s", path, b)
		}
		if !strings.Contains(string(b), `\u003c`) {
			t.Errorf("%s: the hostile text is missing: %s", path, b)
		}
	}
	resp, b := admin.do("POST", "/api/ui/rules/dryrun", map[string]string{"text": "rule x"}, nil)
	if resp.StatusCode != 200 || strings.ContainsAny(string(b), "<>") {
		t.Errorf("dry run: %d %s", resp.StatusCode, b)
	}
	resp, _ = admin.do("GET", "/", nil, nil)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
}

// TestTopAlert: the board's badge names the most severe alert of a call,
// not the latest: a warning after a critical leaves the critical showing.
func TestTopAlert(t *testing.T) {
	ls := liveState{calls: map[string]*liveCall{}}
	now := time.Now()
	for _, a := range []msg.Alert{
		{ID: "1", CallID: "c", RuleName: "Greeting missed", Severity: "info", AtMS: 1000},
		{ID: "2", CallID: "c", RuleName: "Threat to cancel", Severity: "critical", AtMS: 2000},
		{ID: "3", CallID: "c", RuleName: "Long hold", Severity: "warning", AtMS: 3000},
		{ID: "4", CallID: "c", RuleName: "Angry customer", Severity: "critical", AtMS: 4000},
		{ID: "5", CallID: "c", RuleName: "Silence", Severity: "info", AtMS: 5000},
	} {
		b, err := msg.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ls.apply(msg.SubjectAlert("c"), b, now); err != nil {
			t.Fatal(err)
		}
	}
	row := ls.calls["c"].summary(now)
	if row.Alerts != 5 || row.TopAlert == nil || row.TopAlert.Severity != "critical" || row.TopAlert.RuleName != "Angry customer" {
		t.Fatalf("row %+v, top %+v: want 5 alerts, the latest critical on top", row, row.TopAlert)
	}
}
