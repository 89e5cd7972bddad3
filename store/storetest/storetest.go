// Package storetest is the one conformance suite every store.Store passes:
// idempotent writes, call records, search (syntax, filters, ranking,
// snippets, pagination), the originals kept apart, retention, and dashboard
// aggregation.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

// Run runs the suite; newStore returns a new, empty store that the test
// closes (or that newStore arranges to close at the end of t).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s store.Store)
	}{
		{"CallRecord", testCallRecord},
		{"Idempotent", testIdempotent},
		{"SentimentKeptAndNewestWins", testSentiment},
		{"Originals", testOriginals},
		{"NotFound", testNotFound},
		{"SearchSyntax", testSearchSyntax},
		{"SearchFilters", testSearchFilters},
		{"SearchRankingSnippets", testRankingSnippets},
		{"SearchPagination", testPagination},
		{"SearchBadQuery", testBadQuery},
		{"Retention", testRetention},
		{"Dashboard", testDashboard},
		{"Evaluations", testEvaluations},
		{"Forms", testForms},
		{"EndedCalls", testEndedCalls},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
				if err := s.Close(); err != nil {
					t.Errorf("second close: %v", err)
				}
			})
			tc.f(t, s)
		})
	}
}

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func seg(call string, leg msg.Role, turn int, startMS int64, text string) msg.StoredSegment {
	return msg.StoredSegment{Segment: msg.Segment{
		ID: fmt.Sprintf("%s/%s/%d/0", call, leg, turn), CallID: call, Leg: leg, Turn: turn,
		StartMS: startMS, EndMS: startMS + 2000, Text: text, Language: "en", Confidence: 0.9,
		Words: []msg.Word{{Text: "x", StartMS: startMS, EndMS: startMS + 100, Confidence: 0.9}},
	}}
}

func startCall(t *testing.T, s store.Store, id, agent, queue string, at time.Time, attrs map[string]string) {
	t.Helper()
	ctx := context.Background()
	must(t, s.PutCall(ctx, msg.CallEvent{CallID: id, Kind: msg.CallStarted, Time: at, StartedAt: at, Agent: agent, Queue: queue, Attributes: attrs,
		Legs: []msg.LegInfo{{Role: msg.RoleAgent, SSRC: 1, Codec: "PCMU"}, {Role: msg.RoleCustomer, SSRC: 2, Codec: "PCMU"}}}))
}

func endCall(t *testing.T, s store.Store, id string, at time.Time, dur time.Duration) {
	t.Helper()
	must(t, s.PutCall(context.Background(), msg.CallEvent{CallID: id, Kind: msg.CallEnded, Time: at.Add(dur), StartedAt: at, DurationMS: dur.Milliseconds(), Reason: msg.EndBye}))
}

func participants(agent, customer [2]float64) map[msg.Role]msg.ParticipantSentiment {
	return map[msg.Role]msg.ParticipantSentiment{
		msg.RoleAgent:    {Overall: agent[0], Shift: agent[1], Turns: 3},
		msg.RoleCustomer: {Overall: customer[0], Shift: customer[1], Turns: 3},
	}
}

// fixture stores three calls:
//
//	c1 alice/billing  customer angry about a refund, an alert, category "churn-risk"
//	c2 bob/support    a password reset, happy
//	c3 alice/support  asks to cancel the subscription, refund mentioned by the agent
func fixture(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	startCall(t, s, "c1", "alice", "billing", t0, map[string]string{"tier": "gold", "lang": "en"})
	for _, g := range []msg.StoredSegment{
		seg("c1", msg.RoleAgent, 1, 1000, "Thank you for calling, how can I help?"),
		seg("c1", msg.RoleCustomer, 1, 4000, "I was charged twice and I want a refund right now."),
		seg("c1", msg.RoleAgent, 2, 9000, "I'm sorry, let me check the refund policy for you."),
		seg("c1", msg.RoleCustomer, 2, 15000, "This is the third time, I want to cancel my subscription and get a refund."),
	} {
		g.Sentiment = &msg.Sentiment{Label: msg.Negative, Compound: -0.6}
		must(t, s.PutSegment(ctx, g))
	}
	must(t, s.PutAlert(ctx, msg.Alert{ID: "c1/angry/1", CallID: "c1", RuleID: "angry", RuleName: "Angry customer", Severity: "warning",
		Message: "customer negative", AtMS: 15000, Time: t0.Add(15 * time.Second), Matches: []msg.Match{{SegmentID: "c1/customer/2/0", Leg: msg.RoleCustomer, Text: "cancel", StartMS: 15000, EndMS: 17000}}}))
	must(t, s.PutCategories(ctx, msg.Categories{CallID: "c1", Categories: []msg.Category{{Name: "churn-risk", RuleID: "churn"}}}))
	must(t, s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "c1", AtMS: 20000, Final: true, Participants: participants([2]float64{1, 0.5}, [2]float64{-3, -2})}))
	must(t, s.PutCharacteristics(ctx, msg.Characteristics{CallID: "c1", AtMS: 20000, Final: true, NonTalkMS: 12000, TalkMS: map[msg.Role]int64{msg.RoleAgent: 4000, msg.RoleCustomer: 4000}}))
	endCall(t, s, "c1", t0, 20*time.Second)

	startCall(t, s, "c2", "bob", "support", t0.Add(time.Hour), map[string]string{"tier": "silver"})
	for _, g := range []msg.StoredSegment{
		seg("c2", msg.RoleAgent, 1, 500, "Hello, this is Bob, how can I help you today?"),
		seg("c2", msg.RoleCustomer, 1, 3000, "I need to reset my password please."),
		seg("c2", msg.RoleAgent, 2, 6000, "Sure, I have sent a password reset link to your email."),
		seg("c2", msg.RoleCustomer, 2, 10000, "Great, thank you so much, that was quick!"),
	} {
		g.Sentiment = &msg.Sentiment{Label: msg.Positive, Compound: 0.7}
		must(t, s.PutSegment(ctx, g))
	}
	must(t, s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "c2", AtMS: 12000, Final: true, Participants: participants([2]float64{3, 1}, [2]float64{4, 3})}))
	must(t, s.PutCharacteristics(ctx, msg.Characteristics{CallID: "c2", AtMS: 12000, Final: true, NonTalkMS: 1000}))
	endCall(t, s, "c2", t0.Add(time.Hour), 12*time.Second)

	startCall(t, s, "c3", "alice", "support", t0.Add(2*time.Hour), nil)
	for _, g := range []msg.StoredSegment{
		seg("c3", msg.RoleCustomer, 1, 2000, "Hi, I would like to cancel my subscription."),
		seg("c3", msg.RoleAgent, 1, 5000, "I can do that, and you will get a refund for this month."),
	} {
		must(t, s.PutSegment(ctx, g))
	}
	must(t, s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "c3", AtMS: 6000, Participants: participants([2]float64{0.5, 0}, [2]float64{0, 0})}))
}

func ids(res msg.SearchResults) []string {
	var out []string
	for _, h := range res.Hits {
		out = append(out, h.Call.CallID)
	}
	return out
}

func testCallRecord(t *testing.T, s store.Store) {
	fixture(t, s)
	ctx := context.Background()
	rec, err := s.Call(ctx, "c1", false)
	must(t, err)
	c := rec.Call
	if c.Agent != "alice" || c.Queue != "billing" || c.Attributes["tier"] != "gold" || len(c.Legs) != 2 {
		t.Errorf("summary = %+v", c)
	}
	if !c.StartedAt.Equal(t0) || c.EndedAt == nil || !c.EndedAt.Equal(t0.Add(20*time.Second)) || c.DurationMS != 20000 || c.EndReason != msg.EndBye {
		t.Errorf("times: started %v ended %v duration %d reason %q", c.StartedAt, c.EndedAt, c.DurationMS, c.EndReason)
	}
	if c.Sentiment[msg.RoleCustomer] != -3 || c.Shift[msg.RoleCustomer] != -2 || c.Sentiment[msg.RoleAgent] != 1 {
		t.Errorf("sentiment %v shift %v", c.Sentiment, c.Shift)
	}
	if c.NonTalkMS != 12000 || c.AlertCount != 1 || !slices.Equal(c.Categories, []string{"churn-risk"}) {
		t.Errorf("non-talk %d alerts %d categories %v", c.NonTalkMS, c.AlertCount, c.Categories)
	}
	if len(rec.Segments) != 4 || rec.Segments[0].StartMS != 1000 || rec.Segments[3].Text != "This is the third time, I want to cancel my subscription and get a refund." {
		t.Fatalf("segments = %+v", rec.Segments)
	}
	g := rec.Segments[1]
	if g.ID != "c1/customer/1/0" || g.Leg != msg.RoleCustomer || g.Turn != 1 || g.EndMS != 6000 || g.Sentiment == nil || g.Sentiment.Compound != -0.6 || len(g.Words) != 1 || g.Language != "en" {
		t.Errorf("segment = %+v", g)
	}
	if len(rec.Alerts) != 1 || rec.Alerts[0].RuleName != "Angry customer" || len(rec.Alerts[0].Matches) != 1 || !rec.Alerts[0].Time.Equal(t0.Add(15*time.Second)) {
		t.Errorf("alerts = %+v", rec.Alerts)
	}
	if len(rec.Categories) != 1 || rec.Categories[0].RuleID != "churn" {
		t.Errorf("categories = %+v", rec.Categories)
	}
	if rec.Sentiment == nil || !rec.Sentiment.Final || rec.Characteristics == nil || rec.Characteristics.TalkMS[msg.RoleAgent] != 4000 {
		t.Errorf("sentiment %+v characteristics %+v", rec.Sentiment, rec.Characteristics)
	}
	// A call still going on has no end, and its duration grows.
	rec, err = s.Call(ctx, "c3", false)
	must(t, err)
	if rec.Call.EndedAt != nil || rec.Call.DurationMS <= 0 {
		t.Errorf("live call: ended %v duration %d", rec.Call.EndedAt, rec.Call.DurationMS)
	}
}

func count(t *testing.T, s store.Store, call string) (segs, alerts, cats, dtmf int) {
	t.Helper()
	rec, err := s.Call(context.Background(), call, false)
	must(t, err)
	return len(rec.Segments), len(rec.Alerts), len(rec.Categories), len(rec.DTMF)
}

func testIdempotent(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Events may come before the call's start event.
	g := seg("x1", msg.RoleCustomer, 1, 1000, "my order never arrived")
	a := msg.Alert{ID: "x1/late/1", CallID: "x1", RuleID: "late", RuleName: "Late", Severity: "info", Time: t0}
	cats := msg.Categories{CallID: "x1", Categories: []msg.Category{{Name: "delivery", RuleID: "d"}}}
	d := msg.DTMFEvent{CallID: "x1", Leg: msg.RoleCustomer, Digit: "X", StartMS: 500, DurationMS: 100}
	for range 3 {
		must(t, s.PutSegment(ctx, g))
		must(t, s.PutAlert(ctx, a))
		must(t, s.PutCategories(ctx, cats))
		must(t, s.PutDTMF(ctx, d, "5"))
	}
	startCall(t, s, "x1", "carol", "orders", t0, nil)
	startCall(t, s, "x1", "carol", "orders", t0, nil)
	// Categories accumulate.
	must(t, s.PutCategories(ctx, msg.Categories{CallID: "x1", Final: true, Categories: []msg.Category{{Name: "delivery", RuleID: "d"}, {Name: "refund", RuleID: "r"}}}))
	segs, alerts, ncats, ndtmf := count(t, s, "x1")
	if segs != 1 || alerts != 1 || ncats != 2 || ndtmf != 1 {
		t.Fatalf("after redelivery: %d segments, %d alerts, %d categories, %d dtmf; want 1 1 2 1", segs, alerts, ncats, ndtmf)
	}
	rec, err := s.Call(ctx, "x1", false)
	must(t, err)
	if !rec.Call.StartedAt.Equal(t0) || rec.Call.Agent != "carol" {
		t.Errorf("the start event must set the provisional call: %+v", rec.Call)
	}
	// An update after the end does not undo the end.
	endCall(t, s, "x1", t0, time.Minute)
	must(t, s.PutCall(ctx, msg.CallEvent{CallID: "x1", Kind: msg.CallUpdated, Time: t0.Add(time.Second), StartedAt: t0, Queue: "returns"}))
	rec, err = s.Call(ctx, "x1", false)
	must(t, err)
	if rec.Call.EndedAt == nil || rec.Call.DurationMS != 60000 || rec.Call.Queue != "returns" || rec.Call.Agent != "carol" {
		t.Errorf("after update: %+v", rec.Call)
	}
	if rec.DTMF[0].Digit != "X" {
		t.Errorf("dtmf digit shown %q, want the masked X", rec.DTMF[0].Digit)
	}
	// The text of a segment can be corrected (a final after an interim) without a second row.
	g.Text = "my order never arrived at all"
	must(t, s.PutSegment(ctx, g))
	res, err := s.Search(ctx, msg.SearchQuery{Text: `"at all"`})
	must(t, err)
	if res.Total != 1 {
		t.Errorf("search after correction: %+v", res)
	}
	res, err = s.Search(ctx, msg.SearchQuery{Text: `arrived`})
	must(t, err)
	if res.Total != 1 || len(res.Hits[0].Snippets) != 1 {
		t.Errorf("a corrected segment must be indexed once: %+v", res)
	}
}

func testSentiment(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := seg("s1", msg.RoleCustomer, 1, 1000, "this is terrible")
	g.Sentiment = &msg.Sentiment{Label: msg.Negative, Compound: -0.8}
	must(t, s.PutSegment(ctx, g))
	g.Sentiment = nil // the transcript's copy, arriving late, has none
	must(t, s.PutSegment(ctx, g))
	rec, err := s.Call(ctx, "s1", false)
	must(t, err)
	if rec.Segments[0].Sentiment == nil || rec.Segments[0].Sentiment.Compound != -0.8 {
		t.Fatalf("segment sentiment lost: %+v", rec.Segments[0].Sentiment)
	}
	must(t, s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "s1", AtMS: 5000, Participants: participants([2]float64{1, 0}, [2]float64{-1, 0})}))
	must(t, s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "s1", AtMS: 2000, Participants: participants([2]float64{2, 0}, [2]float64{-4, 0})}))
	rec, err = s.Call(ctx, "s1", false)
	must(t, err)
	if rec.Call.Sentiment[msg.RoleCustomer] != -1 || rec.Sentiment.AtMS != 5000 {
		t.Fatalf("an older sentiment replaced a newer one: %v", rec.Call.Sentiment)
	}
	must(t, s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "s1", AtMS: 4000, Final: true, Participants: participants([2]float64{2, 1}, [2]float64{-2, -1})}))
	must(t, s.PutCallSentiment(ctx, msg.CallSentiment{CallID: "s1", AtMS: 9000, Participants: participants([2]float64{0, 0}, [2]float64{0, 0})}))
	must(t, s.PutCharacteristics(ctx, msg.Characteristics{CallID: "s1", AtMS: 3000, Final: true, NonTalkMS: 700}))
	must(t, s.PutCharacteristics(ctx, msg.Characteristics{CallID: "s1", AtMS: 8000, NonTalkMS: 100}))
	rec, err = s.Call(ctx, "s1", false)
	must(t, err)
	if rec.Call.Sentiment[msg.RoleCustomer] != -2 || rec.Call.Shift[msg.RoleCustomer] != -1 || !rec.Sentiment.Final {
		t.Errorf("the final sentiment must win: %v %+v", rec.Call.Sentiment, rec.Sentiment)
	}
	if rec.Call.NonTalkMS != 700 || !rec.Characteristics.Final {
		t.Errorf("the final characteristics must win: %d", rec.Call.NonTalkMS)
	}
}

func testOriginals(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := seg("o1", msg.RoleCustomer, 1, 1000, "my card is [PII] thanks")
	g.Original = "my card is 4111 1111 1111 1111 thanks"
	must(t, s.PutSegment(ctx, g))
	h := seg("o1", msg.RoleAgent, 1, 3000, "thank you")
	must(t, s.PutSegment(ctx, h))
	must(t, s.PutDTMF(ctx, msg.DTMFEvent{CallID: "o1", Leg: msg.RoleCustomer, Digit: "X", StartMS: 4000, DurationMS: 80}, "7"))
	rec, err := s.Call(ctx, "o1", false)
	must(t, err)
	if rec.Segments[0].Original != "" || rec.Segments[0].Text != "my card is [PII] thanks" || rec.DTMF[0].Digit != "X" {
		t.Fatalf("original shown without asking: %+v %+v", rec.Segments[0], rec.DTMF)
	}
	rec, err = s.Call(ctx, "o1", true)
	must(t, err)
	if rec.Segments[0].Original != g.Original || rec.Segments[1].Original != "" || rec.DTMF[0].Digit != "7" {
		t.Fatalf("original not returned: %+v %+v", rec.Segments, rec.DTMF)
	}
	// The original is never searchable.
	res, err := s.Search(ctx, msg.SearchQuery{Text: "4111"})
	must(t, err)
	if res.Total != 0 {
		t.Fatalf("the original text is searchable: %+v", res)
	}
	res, err = s.Search(ctx, msg.SearchQuery{Text: "PII"})
	must(t, err)
	if res.Total != 1 {
		t.Fatalf("masked text not searchable: %+v", res)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	for _, id := range []string{"nope", "bad id!", ""} {
		if _, err := s.Call(context.Background(), id, false); !errors.Is(err, msg.ErrNotFound) {
			t.Errorf("Call(%q) = %v, want msg.ErrNotFound", id, err)
		}
	}
}

func search(t *testing.T, s store.Store, q msg.SearchQuery) msg.SearchResults {
	t.Helper()
	res, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return res
}

func testSearchSyntax(t *testing.T, s store.Store) {
	fixture(t, s)
	cases := []struct {
		q    string
		want []string // sorted
	}{
		{"refund", []string{"c1", "c3"}},
		{"REFUND", []string{"c1", "c3"}},
		{`"cancel my subscription"`, []string{"c1", "c3"}},
		{`"subscription my cancel"`, nil},
		{"passw*", []string{"c2"}},
		{"refund OR password", []string{"c1", "c2", "c3"}},
		{"refund AND policy", []string{"c1"}},
		{"refund policy", []string{"c1"}},
		{"refund NOT policy", []string{"c1", "c3"}}, // c1's other turns mention refund without policy
		{"refund -charged -policy -cancel", []string{"c3"}},
		{"(password OR subscription) -reset", []string{"c1", "c3"}},
		{"thank", []string{"c1", "c2"}},
		{"charg*", []string{"c1"}},
		{"charge", nil},
		{"thank*", []string{"c1", "c2"}},
		{"i'm", []string{"c1"}},
		{"bob", []string{"c2"}},
		{"refund AND password", nil},
		{"zebra", nil},
	}
	for _, c := range cases {
		res := search(t, s, msg.SearchQuery{Text: c.q})
		got := ids(res)
		slices.Sort(got)
		if !slices.Equal(got, c.want) || res.Total != len(c.want) {
			t.Errorf("%s: got %v (total %d), want %v", c.q, got, res.Total, c.want)
		}
	}
	// Korean: words carry particles (계좌를, 계좌가), and a word is found
	// whatever particle it carries, in phrases too; a longer word
	// (계좌번호, a compound) is another word, found by a prefix.
	must(t, s.PutSegment(context.Background(), seg("k1", msg.RoleCustomer, 1, 0, "계좌를 해지하고 싶어요")))
	must(t, s.PutSegment(context.Background(), seg("k1", msg.RoleAgent, 1, 3000, "네, 고객님 계좌가 확인되었습니다")))
	must(t, s.PutSegment(context.Background(), seg("k1", msg.RoleCustomer, 2, 6000, "계좌번호는 몰라요")))
	must(t, s.PutSegment(context.Background(), seg("k1", msg.RoleAgent, 2, 9000, "계좌 please, not the 계좌번호")))
	for q, want := range map[string][]string{
		"계좌":         {"계좌를", "계좌가", "계좌"},
		"계좌를":        {"계좌를", "계좌가", "계좌"},
		"계좌*":        {"계좌를", "계좌가", "계좌|계좌번호"}, // store.SnippetsPerHit of the 4
		"계좌번호":       {"계좌번호는", "계좌번호"},
		`"고객님 계좌"`:   {"고객님|계좌가"},
		`"고객님이 계좌가"`: {"고객님|계좌가"},
		"계좌 please":  {"계좌|please"},
		"계좌 -please": {"계좌를", "계좌가"},
		"해지":         nil, // 해지하고 is the verb 해지하다, not 해지 with a particle
		"해지*":        {"해지하고"},
		"pleas":      nil,
	} {
		res := search(t, s, msg.SearchQuery{Text: q})
		var got []string
		if len(res.Hits) > 1 {
			t.Errorf("%s: %d hits, want at most the one call", q, len(res.Hits))
		}
		if len(res.Hits) == 1 {
			for _, sn := range res.Hits[0].Snippets {
				var marked []string
				for _, h := range sn.Highlights {
					marked = append(marked, sn.Text[h[0]:h[1]])
				}
				got = append(got, strings.Join(marked, "|"))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: matching segments marked %q, want %q", q, got, want)
		}
	}
}

func fp(v float64) *float64     { return &v }
func tp(v time.Time) *time.Time { return &v }
func bp(v bool) *bool           { return &v }

func testSearchFilters(t *testing.T, s store.Store) {
	fixture(t, s)
	cases := []struct {
		name string
		q    msg.SearchQuery
		want []string
	}{
		{"agent", msg.SearchQuery{Text: "refund", Agent: "alice"}, []string{"c1", "c3"}},
		{"agent without text", msg.SearchQuery{Agent: "alice"}, []string{"c1", "c3"}},
		{"queue", msg.SearchQuery{Text: "refund", Queue: "support"}, []string{"c3"}},
		{"from", msg.SearchQuery{From: tp(t0.Add(30 * time.Minute))}, []string{"c2", "c3"}},
		{"to", msg.SearchQuery{To: tp(t0.Add(90 * time.Minute))}, []string{"c1", "c2"}},
		{"leg customer", msg.SearchQuery{Text: "refund", Leg: msg.RoleCustomer}, []string{"c1"}},
		{"leg agent", msg.SearchQuery{Text: "refund", Leg: msg.RoleAgent}, []string{"c1", "c3"}},
		{"negative customers", msg.SearchQuery{MaxSentiment: fp(-1), Leg: msg.RoleCustomer}, []string{"c1"}},
		{"any participant positive", msg.SearchQuery{MinSentiment: fp(2)}, []string{"c2"}},
		{"sentiment range", msg.SearchQuery{MinSentiment: fp(0.5), MaxSentiment: fp(1.5), Leg: msg.RoleAgent}, []string{"c1", "c3"}},
		{"shift down", msg.SearchQuery{MaxShift: fp(-1)}, []string{"c1"}},
		{"shift up", msg.SearchQuery{MinShift: fp(2), Leg: msg.RoleCustomer}, []string{"c2"}},
		{"category", msg.SearchQuery{Category: "churn-risk"}, []string{"c1"}},
		{"has alert", msg.SearchQuery{HasAlert: bp(true)}, []string{"c1"}},
		{"no alert", msg.SearchQuery{HasAlert: bp(false), Text: "refund"}, []string{"c3"}},
		{"non-talk", msg.SearchQuery{MinNonTalkMS: 5000}, []string{"c1"}},
		{"attribute", msg.SearchQuery{Attributes: map[string]string{"tier": "gold"}}, []string{"c1"}},
		{"two attributes", msg.SearchQuery{Attributes: map[string]string{"tier": "gold", "lang": "fr"}}, nil},
		{"phrase and two filters", msg.SearchQuery{Text: `"cancel my subscription"`, Agent: "alice", From: tp(t0.Add(time.Minute))}, []string{"c3"}},
	}
	for _, c := range cases {
		res := search(t, s, c.q)
		got := ids(res)
		slices.Sort(got)
		if !slices.Equal(got, c.want) || res.Total != len(c.want) {
			t.Errorf("%s: got %v (total %d), want %v", c.name, got, res.Total, c.want)
		}
	}
	// Without text, the newest calls come first.
	if got := ids(search(t, s, msg.SearchQuery{})); !slices.Equal(got, []string{"c3", "c2", "c1"}) {
		t.Errorf("no query: %v, want newest first", got)
	}
}

func testRankingSnippets(t *testing.T, s store.Store) {
	fixture(t, s)
	res := search(t, s, msg.SearchQuery{Text: "refund"})
	if len(res.Hits) != 2 || res.Hits[0].Call.CallID != "c1" || res.Hits[0].Score <= res.Hits[1].Score {
		t.Fatalf("c1 says refund three times and must rank first: %+v", res.Hits)
	}
	// The same with a filter (stores may rank filtered searches another way).
	res = search(t, s, msg.SearchQuery{Text: "refund", Agent: "alice"})
	if len(res.Hits) != 2 || res.Hits[0].Call.CallID != "c1" || res.Hits[0].Score <= res.Hits[1].Score {
		t.Fatalf("filtered: c1 says refund three times and must rank first: %+v", res.Hits)
	}
	h := res.Hits[0]
	if h.Call.Agent != "alice" || h.Call.AlertCount != 1 || h.Call.Sentiment[msg.RoleCustomer] != -3 {
		t.Errorf("hit summary = %+v", h.Call)
	}
	if len(h.Snippets) != store.SnippetsPerHit {
		t.Fatalf("snippets = %+v", h.Snippets)
	}
	for i, sn := range h.Snippets {
		if i > 0 && sn.StartMS < h.Snippets[i-1].StartMS {
			t.Errorf("snippets out of call-clock order: %+v", h.Snippets)
		}
		if len(sn.Highlights) == 0 {
			t.Errorf("snippet without highlight: %+v", sn)
		}
		for _, hl := range sn.Highlights {
			if w := sn.Text[hl[0]:hl[1]]; w != "refund" {
				t.Errorf("highlight %v of %q is %q", hl, sn.Text, w)
			}
		}
	}
	if sn := h.Snippets[0]; sn.SegmentID != "c1/customer/1/0" || sn.StartMS != 4000 || sn.Leg != msg.RoleCustomer {
		t.Errorf("first snippet = %+v", sn)
	}
	res = search(t, s, msg.SearchQuery{Text: `"cancel my subscription" OR passw*`, Leg: msg.RoleCustomer})
	for _, h := range res.Hits {
		for _, sn := range h.Snippets {
			if sn.Leg != msg.RoleCustomer {
				t.Errorf("leg filter: snippet from %s", sn.Leg)
			}
			var words []string
			for _, hl := range sn.Highlights {
				words = append(words, sn.Text[hl[0]:hl[1]])
			}
			if !slices.Equal(words, []string{"cancel", "my", "subscription"}) && !slices.Equal(words, []string{"password"}) {
				t.Errorf("highlights of %q: %v", sn.Text, words)
			}
		}
	}
}

func testPagination(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 25 {
		id := fmt.Sprintf("p%02d", i)
		startCall(t, s, id, "dave", "sales", t0.Add(time.Duration(i)*time.Minute), nil)
		for j := 0; j <= i%5; j++ {
			must(t, s.PutSegment(ctx, seg(id, msg.RoleCustomer, j+1, int64(j*1000), "I want to upgrade my plan")))
		}
	}
	seen := map[string]bool{}
	for off := 0; off < 25; off += 10 {
		res := search(t, s, msg.SearchQuery{Text: "upgrade", Limit: 10, Offset: off})
		if res.Total != 25 {
			t.Fatalf("offset %d: total %d, want 25", off, res.Total)
		}
		if want := min(10, 25-off); len(res.Hits) != want {
			t.Fatalf("offset %d: %d hits, want %d", off, len(res.Hits), want)
		}
		for _, h := range res.Hits {
			if seen[h.Call.CallID] {
				t.Errorf("%s on two pages", h.Call.CallID)
			}
			seen[h.Call.CallID] = true
		}
	}
	res := search(t, s, msg.SearchQuery{Text: "upgrade", Limit: 10, Offset: 30})
	if res.Total != 25 || len(res.Hits) != 0 {
		t.Errorf("past the end: total %d, %d hits", res.Total, len(res.Hits))
	}
	res = search(t, s, msg.SearchQuery{Limit: 1000})
	if len(res.Hits) != store.MaxLimit && len(res.Hits) != 25 {
		t.Errorf("limit above the maximum: %d hits", len(res.Hits))
	}
}

func testBadQuery(t *testing.T, s store.Store) {
	fixture(t, s)
	for _, q := range []msg.SearchQuery{
		{Text: `"unclosed phrase`},
		{Text: `refund AND`},
		{Text: `(refund`},
		{Text: `NOT refund`},
		{Text: `refund OR -policy`},
		{Text: `a*`},
		{Leg: "boss"},
		{Limit: -1},
		{MinSentiment: fp(2), MaxSentiment: fp(1)},
		{From: tp(t0), To: tp(t0.Add(-time.Hour))},
	} {
		if _, err := s.Search(context.Background(), q); !errors.Is(err, msg.ErrBadQuery) {
			t.Errorf("Search(%+v) = %v, want msg.ErrBadQuery", q, err)
		}
	}
}

func testRetention(t *testing.T, s store.Store) {
	fixture(t, s)
	ctx := context.Background()
	must(t, s.PutDTMF(ctx, msg.DTMFEvent{CallID: "c1", Leg: msg.RoleCustomer, Digit: "X", StartMS: 1}, "1"))
	g := seg("c1", msg.RoleCustomer, 9, 30000, "[PII]")
	g.Original = "4111111111111111"
	must(t, s.PutSegment(ctx, g))
	n, err := s.DeleteBefore(ctx, t0.Add(90*time.Minute))
	must(t, err)
	if n != 2 {
		t.Fatalf("deleted %d calls, want 2 (c1, c2)", n)
	}
	for _, id := range []string{"c1", "c2"} {
		if _, err := s.Call(ctx, id, true); !errors.Is(err, msg.ErrNotFound) {
			t.Errorf("%s after retention: %v", id, err)
		}
	}
	if got := ids(search(t, s, msg.SearchQuery{Text: "refund"})); !slices.Equal(got, []string{"c3"}) {
		t.Errorf("search after retention: %v", got)
	}
	if res := search(t, s, msg.SearchQuery{Category: "churn-risk"}); res.Total != 0 {
		t.Errorf("categories of deleted calls remain: %+v", res)
	}
	// Everything of the deleted calls is gone: writing c1 again starts empty.
	must(t, s.PutSegment(ctx, seg("c1", msg.RoleAgent, 1, 0, "hello again")))
	segs, alerts, cats, dtmf := count(t, s, "c1")
	if segs != 1 || alerts != 0 || cats != 0 || dtmf != 0 {
		t.Errorf("c1 rows left behind: %d segments %d alerts %d categories %d dtmf", segs, alerts, cats, dtmf)
	}
	rec, err := s.Call(ctx, "c1", true)
	must(t, err)
	if rec.Call.Sentiment != nil || rec.Segments[0].Original != "" {
		t.Errorf("c1 sentiment or originals left behind: %+v", rec)
	}
	n, err = s.DeleteBefore(ctx, t0)
	must(t, err)
	if n != 0 {
		t.Errorf("second pass deleted %d", n)
	}
}

// SearchTimeLimit checks that a store bounds the time of one search: open
// returns a new, empty store whose searches may take at most limit (0:
// the default, store.MaxSearchTime); SearchTimeLimit closes it. Over its
// limit a search is refused as a bad query that names the limit; a
// caller's own deadline ends a search with the caller's error, not as a
// bad query; and the store answers the next search.
func SearchTimeLimit(t *testing.T, open func(t *testing.T, limit time.Duration) store.Store) {
	opened := func(t *testing.T, limit time.Duration) store.Store {
		s := open(t, limit)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		fixture(t, s)
		return s
	}
	t.Run("OverTheLimit", func(t *testing.T) {
		s := opened(t, time.Nanosecond)
		for _, q := range []msg.SearchQuery{{Text: "refund"}, {Agent: "alice"}, {Text: `"cancel my subscription" OR refun*`, Queue: "support"}} {
			_, err := s.Search(context.Background(), q)
			if !errors.Is(err, msg.ErrBadQuery) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "longer than 1ns") {
				t.Errorf("Search(%+v) = %v, want msg.ErrBadQuery saying it took longer than 1ns", q, err)
			}
		}
	})
	t.Run("CallerDeadline", func(t *testing.T) {
		s := opened(t, 0)
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		res, err := s.Search(ctx, msg.SearchQuery{Text: "refund"})
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, msg.ErrBadQuery) || len(res.Hits) != 0 {
			t.Errorf("Search past the caller's deadline = %d hits, %v; want the caller's context.DeadlineExceeded, not a bad query", len(res.Hits), err)
		}
		if got := ids(search(t, s, msg.SearchQuery{Text: "refund"})); len(got) != 2 {
			t.Errorf("the next search: %v, want c1 and c3", got)
		}
	})
}

// KoreanKeptBefore checks the migration that indexes Korean words without
// their particles: segments a store kept at the first schema (first, which
// the check closes) are found through their particles once open has
// migrated the database, and segments stored after it too.
func KoreanKeptBefore(t *testing.T, first *sql.DB, open func() store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, stmt := range []string{
		`INSERT INTO calls (id, started_at) VALUES ('old', 1000)`,
		`INSERT INTO segments (id, call_id, leg, turn, part, start_ms, end_ms, text, language, confidence, words, engine, model, dropped, error)
			VALUES ('old/customer/1/0', 'old', 'customer', 1, 0, 0, 2000, '계좌를 해지하고 싶어요', 'ko', 0.9, '[]', '', '', '', '')`,
		`INSERT INTO segments (id, call_id, leg, turn, part, start_ms, end_ms, text, language, confidence, words, engine, model, dropped, error)
			VALUES ('old/agent/1/0', 'old', 'agent', 1, 0, 3000, 5000, '네, 고객님 계좌가 확인되었습니다', 'ko', 0.9, '[]', '', '', '', '')`,
		`INSERT INTO segments (id, call_id, leg, turn, part, start_ms, end_ms, text, language, confidence, words, engine, model, dropped, error)
			VALUES ('old/agent/2/0', 'old', 'agent', 2, 0, 6000, 8000, 'your account is closed', 'en', 0.9, '[]', '', '', '', '')`,
	} {
		if _, err := first.ExecContext(ctx, stmt); err != nil {
			first.Close()
			t.Fatalf("first schema: %v", err)
		}
	}
	must(t, first.Close())
	s := open()
	defer s.Close()
	must(t, s.PutSegment(ctx, seg("old", msg.RoleCustomer, 2, 9000, "그 계좌에서 돈이 빠져나갔어요")))
	for q, want := range map[string]int{"계좌": 3, `"고객님 계좌"`: 1, "계좌를": 3, "account": 1, "closed account": 1, "계좌번호": 0} {
		res := search(t, s, msg.SearchQuery{Text: q})
		n := 0
		if len(res.Hits) == 1 {
			n = len(res.Hits[0].Snippets)
		}
		if n != want {
			t.Errorf("%s after the migration: %d matching segments, want %d", q, n, want)
		}
	}
}
