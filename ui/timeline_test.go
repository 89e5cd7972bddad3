package ui

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/earshot-dev/earshot/msg"
)

// timelineRecord is a finished 80 s call with all a timeline shows: four
// turns a side, the agent twice talking over the customer, a hold, three
// silences, two alerts and each side's sentiment by quarter and by turn.
func timelineRecord() msg.CallRecord {
	start := time.Now().Add(-time.Hour)
	end := start.Add(80 * time.Second)
	turns := []struct {
		leg        msg.Role
		start, end int64
		text       string
		score      float64
	}{
		{msg.RoleAgent, 0, 6000, "thank you for calling, this is Bob", 1},
		{msg.RoleCustomer, 6500, 14000, "my kettle arrived broken and nobody answers my emails", -2.5},
		{msg.RoleAgent, 13000, 20000, "I am so sorry, let me check that order for you", 0.5},
		{msg.RoleAgent, 40000, 47000, "thanks for holding, I found the order", 1},
		{msg.RoleCustomer, 48000, 60000, "I want a refund, not another kettle", -3},
		{msg.RoleCustomer, 62000, 70000, "can you do that today", -1},
		{msg.RoleAgent, 69500, 78000, "yes, the refund is on its way today", 2},
		{msg.RoleCustomer, 78200, 79800, "great, thanks", 3},
	}
	var segs []msg.StoredSegment
	trend := map[msg.Role][]msg.TrendPoint{}
	for i, tn := range turns {
		segs = append(segs, msg.StoredSegment{Segment: msg.Segment{
			ID: "tl-1/" + string(tn.leg) + "/" + string(rune('1'+i)) + "/0", CallID: "tl-1", Leg: tn.leg, Turn: i + 1,
			StartMS: tn.start, EndMS: tn.end, Text: tn.text,
		}, Sentiment: &msg.Sentiment{Label: msg.Neutral, Compound: tn.score / 5}})
		trend[tn.leg] = append(trend[tn.leg], msg.TrendPoint{AtMS: tn.end, Score: tn.score})
	}
	refund := segs[4]
	return msg.CallRecord{
		Call:     msg.CallSummary{CallID: "tl-1", Agent: "bob", Queue: "returns", StartedAt: start, EndedAt: &end, DurationMS: 80000, AlertCount: 2},
		Segments: segs,
		Alerts: []msg.Alert{
			{ID: "a1", CallID: "tl-1", RuleName: "Long hold", Severity: "warning", Message: "on hold over 15 s", AtMS: 37000},
			{ID: "a2", CallID: "tl-1", RuleName: "Refund asked", Severity: "critical", Message: "the customer asked for a refund", AtMS: 60400,
				Matches: []msg.Match{{SegmentID: refund.ID, Leg: msg.RoleCustomer, Text: "refund", StartMS: refund.StartMS, EndMS: refund.EndMS}}},
		},
		Sentiment: &msg.CallSentiment{CallID: "tl-1", Final: true, Participants: map[msg.Role]msg.ParticipantSentiment{
			msg.RoleAgent:    {Overall: 1.1, Current: 2, Shift: 1, Periods: []float64{0.8, 0.5, 1, 2}, Trend: trend[msg.RoleAgent]},
			msg.RoleCustomer: {Overall: -0.9, Current: 3, Shift: 5.5, Periods: []float64{-2.5, -2.5, -2, 1}, Trend: trend[msg.RoleCustomer]},
		}},
		Characteristics: &msg.Characteristics{CallID: "tl-1", Final: true, TalkMS: map[msg.Role]int64{msg.RoleAgent: 28500, msg.RoleCustomer: 29100},
			NonTalk: []msg.Span{{StartMS: 20000, EndMS: 40000}, {StartMS: 60000, EndMS: 62000}}, NonTalkMS: 22000,
			Holds: []msg.Span{{StartMS: 22000, EndMS: 38000}}, HoldMS: 16000,
			Interruptions: []msg.Interruption{{By: msg.RoleAgent, Of: msg.RoleCustomer, StartMS: 13000, EndMS: 14000},
				{By: msg.RoleAgent, Of: msg.RoleCustomer, StartMS: 69500, EndMS: 70000}}},
	}
}

// TestTimeline: the call view draws a finished call's timeline under the
// player (talk per side, overlaps, silences, a hold, alerts, sentiment on
// one m:ss axis, with a legend) in English and in Korean, and a click on
// it plays the recording from there.
func TestTimeline(t *testing.T) {
	rec := timelineRecord()
	ctx, ts, _ := liveBrowser(t, Config{Recordings: recordCallsFor(t, 80, "tl-1")}, rec)
	browserLogin(t, ctx, ts.http.URL, "sue", "/")
	do(t, ctx, "open the call", chromedp.Navigate(ts.http.URL+"/calls/tl-1"), chromedp.WaitVisible("#timeline svg"))
	count := func(sel string) string { return `document.querySelectorAll('#timeline ` + sel + `').length` }
	waitFor(t, ctx, "the timeline drawn", `(() => `+count(`rect.talk[data-leg="agent"]`)+` === 4 && `+count(`rect.talk[data-leg="customer"]`)+` === 4
		&& `+count(`rect.overlap`)+` === 2 && `+count(`rect.hold`)+` === 1 && `+count(`rect.silence`)+` === 3
		&& `+count(`path.alert-mark`)+` === 2 && `+count(`path.alert-mark.sev-critical`)+` === 1
		&& `+count(`polyline.sent-quarters`)+` === 2 && `+count(`circle.sent-turn`)+` === 8
		&& `+count(`ul.legend li`)+` === 8)()`)
	// The axis: m:ss ticks every 10 s up to 1:20; the lanes named.
	waitFor(t, ctx, "the time axis and lanes", `(() => { const ticks = [...document.querySelectorAll('#timeline text.tick')].map((x) => x.textContent);
		const lanes = [...document.querySelectorAll('#timeline text.lane-label')].map((x) => x.textContent).join('|');
		return ticks.includes('0:00') && ticks.includes('0:40') && ticks.includes('1:20') && lanes === 'agent|customer|overlap|silence · hold|alerts|sentiment'; })()`)
	waitFor(t, ctx, "the hold's title", `document.querySelector('#timeline rect.hold title').textContent === 'On hold 0:22–0:38'`)
	waitFor(t, ctx, "the player ready, the timeline saying a click plays", `document.querySelector('#audio').readyState >= 1 && !document.querySelector('#timeline-hint').hidden`)
	fullShot(t, ctx, "call-timeline")

	do(t, ctx, "click the hold", chromedp.Click(`#timeline rect.hold`))
	waitFor(t, ctx, "the player in the hold", `(() => { const a = document.querySelector('#audio'); return a.currentTime > 22 && a.currentTime < 38; })()`)
	waitFor(t, ctx, "the playhead at the hold", `(() => { const h = document.querySelector('#timeline-head'), r = document.querySelector('#timeline rect.hold');
		const x = Number(h.getAttribute('x1')); return h.getAttribute('visibility') === 'visible' && x > Number(r.getAttribute('x')) && x < Number(r.getAttribute('x')) + Number(r.getAttribute('width')); })()`)
	do(t, ctx, "click the critical alert", chromedp.Click(`#timeline path.alert-mark.sev-critical`))
	waitFor(t, ctx, "the player at the alert", `Math.abs(document.querySelector('#audio').currentTime - 48) < 0.5`)
	do(t, ctx, "click the customer's last turn", chromedp.Click(`#timeline rect.talk[data-seg="`+rec.Segments[7].ID+`"]`))
	waitFor(t, ctx, "that turn highlighted", `(document.querySelector('#transcript li.playing') || {dataset: {}}).dataset.seg === `+jsString(rec.Segments[7].ID))

	// In Korean.
	if err := ts.users.setLanguage(context.Background(), "sue", "ko"); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "open the call in Korean", chromedp.Navigate(ts.http.URL+"/calls/tl-1"), chromedp.WaitVisible("#timeline svg"))
	waitFor(t, ctx, "the Korean timeline", `(() => { const lanes = [...document.querySelectorAll('#timeline text.lane-label')].map((x) => x.textContent).join('|');
		return document.documentElement.lang === 'ko' && lanes === '상담원|고객|겹침|무음 · 보류|알림|감정' && document.querySelector('#timeline-card h2').textContent === '통화 타임라인'
			&& document.querySelector('#timeline ul.legend').textContent.includes('보류') && document.querySelector('#timeline rect.hold title').textContent === '보류 0:22–0:38'; })()`)
	waitFor(t, ctx, "the player ready", `document.querySelector('#audio').readyState >= 1`)
	fullShot(t, ctx, "ko-call-timeline")
}
