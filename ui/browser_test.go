package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/internal/browsertest"
	"github.com/earshot-dev/earshot/msg"
)

// Hostile text: what a caller might say, or a rule author might type.
const (
	hostileScript = `<script>window.__pwned=1</script>`
	hostileImg    = `"><img src=x onerror="window.__pwned=1">`
)

func browser(t *testing.T) context.Context { return browsertest.Start(t) }

// liveBrowser starts a browser and a test server that follows a real NATS,
// and waits for the server to catch up.
func liveBrowser(t *testing.T, cfg Config, recs ...msg.CallRecord) (context.Context, *testServer, *bus.Conn) {
	t.Helper()
	ctx := browser(t)
	_, conn := bustest.Start(t)
	cfg.JS = conn.JS
	ts := startTestServer(t, cfg, recs...)
	<-ts.Ready()
	return ctx, ts, conn
}

func artifactDir(t *testing.T) string { return browsertest.ArtifactDir(t, "ui") }

func screenshot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	return browsertest.Screenshot(t, ctx, artifactDir(t), name)
}

// waitFor waits until the JavaScript expression is true on the page.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	browsertest.WaitFor(t, ctx, artifactDir(t), 10*time.Second, what, expr)
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Do(t, ctx, what, steps...)
}

// notPwned checks that no hostile markup ran or became an element.
func notPwned(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	bad, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__pwned !== undefined || document.querySelector('img[src="x"], main script') !== null`))
	if err != nil || bad {
		t.Fatalf("%s: hostile text ran or became markup (err %v)", page, err)
	}
}

func searchRecord() msg.CallRecord {
	start := time.Now().Add(-2 * time.Hour)
	end := start.Add(4 * time.Minute)
	segs := []msg.StoredSegment{}
	lines := []struct {
		leg  msg.Role
		text string
	}{
		{msg.RoleAgent, "thank you for calling, how can I help"},
		{msg.RoleCustomer, "my parcel never arrived " + hostileScript},
		{msg.RoleAgent, "I am sorry to hear that"},
		{msg.RoleCustomer, "I want a refund for the broken kettle " + hostileImg},
	}
	for i, l := range lines {
		segs = append(segs, msg.StoredSegment{Segment: msg.Segment{
			ID: "past-1/" + string(l.leg) + "/" + string(rune('1'+i)) + "/0", CallID: "past-1", Leg: l.leg, Turn: i + 1,
			StartMS: int64(i) * 20000, EndMS: int64(i)*20000 + 4000, Text: l.text,
		}, Sentiment: &msg.Sentiment{Label: msg.Negative, Compound: -0.4}})
	}
	return msg.CallRecord{
		Call:     msg.CallSummary{CallID: "past-1", Agent: "bob", Queue: "returns", StartedAt: start, EndedAt: &end, DurationMS: 240000, AlertCount: 1},
		Segments: segs,
		Alerts:   []msg.Alert{{ID: "x", CallID: "past-1", RuleName: hostileImg, Severity: "warning", Message: hostileScript}},
		Surveys: []msg.SurveyResult{{CallID: "past-1", Survey: "post-call", Answers: []msg.SurveyAnswer{
			{Question: "satisfied", Prompt: "How satisfied were you with the agent?", Scale: msg.ScaleCSAT, Value: 4, AtMS: 241000},
			{Question: "recommend", Prompt: hostileImg, Scale: msg.ScaleNPS, Value: 10, AtMS: 246000}}}},
	}
}

// TestBrowser drives the pages in headless Chromium: log in, watch calls
// appear on the board and an alert badge fire, read a transcript grow
// (interim replaced by final), search a phrase and open the hit, and see
// hostile text shown as text everywhere.
func TestBrowser(t *testing.T) {
	ctx, ts, conn := liveBrowser(t, Config{}, searchRecord())
	base := ts.http.URL
	pub := conn.Publish

	// Log in as the supervisor.
	do(t, ctx, "log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "sue"),
		chromedp.SendKeys("#password", testPassword),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#board"),
	)
	waitFor(t, ctx, "board connected", `document.querySelector('#conn').textContent === 'live'`)

	// Calls start; the board shows them.
	now := time.Now()
	calls := []struct{ id, agent, queue string }{
		{"c-1001", "Ana Silva", "billing"}, {"c-1002", "Ben Okafor", "billing"}, {"c-1003", "Chloe Park", "sales"},
	}
	for i, c := range calls {
		publish(t, pub, msg.SubjectCall(c.id), msg.CallEvent{CallID: c.id, Kind: msg.CallStarted, Time: now,
			StartedAt: now.Add(-time.Duration(40+70*i) * time.Second), Agent: c.agent, Queue: c.queue})
	}
	waitFor(t, ctx, "three rows", `document.querySelectorAll('#rows tr').length === 3`)
	trend := func(xs ...float64) []msg.TrendPoint {
		var tp []msg.TrendPoint
		for i, x := range xs {
			tp = append(tp, msg.TrendPoint{AtMS: int64(i) * 5000, Score: x})
		}
		return tp
	}
	sentiments := map[string][2][]float64{
		"c-1001": {{1, 1.5, 2, 2.5}, {0, 1, 2, 3}},
		"c-1002": {{0.5, 1, 0.5, 1}, {-1, -2.5, -3.5, -4.2}},
		"c-1003": {{1, 1, 1.5, 2}, {0, 0.5, 0.5, 1}},
	}
	for id, s := range sentiments {
		publish(t, pub, msg.SubjectCallSentiment(id), msg.CallSentiment{CallID: id, Participants: map[msg.Role]msg.ParticipantSentiment{
			msg.RoleAgent:    {Current: s[0][3], Trend: trend(s[0]...)},
			msg.RoleCustomer: {Current: s[1][3], Trend: trend(s[1]...)},
		}})
		publish(t, pub, msg.SubjectCharacteristics(id), msg.Characteristics{CallID: id, NonTalkMS: 12000, Interruptions: []msg.Interruption{{By: msg.RoleAgent}}})
	}
	waitFor(t, ctx, "sentiment on the board", `document.querySelectorAll('#rows svg.spark polyline').length === 6`)
	// c-1003 (3 minutes in) has been on hold for the last 30 s: the board
	// counts it up, on top of the 12 s before.
	publish(t, pub, msg.SubjectCharacteristics("c-1003"), msg.Characteristics{CallID: "c-1003", AtMS: 150000, NonTalkMS: 12000,
		NonTalk: []msg.Span{{StartMS: 60000, EndMS: 72000}}, Open: []msg.OpenSpan{{Kind: msg.SpanHold, StartMS: 150000}},
		Interruptions: []msg.Interruption{{By: msg.RoleAgent}}})
	secs := `(() => { const m = document.querySelector('tr[data-call="c-1003"] td.non-talk').textContent.match(/^(?:(\d+) min )?(\d+) s$/); return m ? Number(m[1] || 0) * 60 + Number(m[2]) : -1; })()`
	waitFor(t, ctx, "the hold counted on the board", `(window.nt0 = `+secs+`) >= 42 && window.nt0 < 60`)
	waitFor(t, ctx, "the hold counted up", secs+` >= window.nt0 + 2`)

	// An alert fires: the badge appears.
	publish(t, pub, msg.SubjectAlert("c-1002"), msg.Alert{ID: "a1", CallID: "c-1002", RuleID: "angry", RuleName: "Angry customer",
		Severity: "critical", Message: "customer sentiment below -3", AtMS: 15000, Time: now})
	waitFor(t, ctx, "the alert badge", `(() => { const b = document.querySelector('tr[data-call="c-1002"] [data-testid=alert-badge]'); return !!b && b.textContent.includes('Angry customer'); })()`)
	waitFor(t, ctx, "the alert banner", `!document.querySelector('#alert-banner').hidden`)
	waitFor(t, ctx, "queue counts", `document.querySelector('#queues').textContent.includes('2billing')`)
	png := screenshot(t, ctx, "board")
	if os.Getenv("EARSHOT_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(filepath.Join("..", "docs", "board.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A call with hostile text everywhere the board shows it.
	const evil = "c-evil"
	publish(t, pub, msg.SubjectCall(evil), msg.CallEvent{CallID: evil, Kind: msg.CallStarted, StartedAt: now, Agent: hostileImg, Queue: hostileScript})
	publish(t, pub, msg.SubjectAlert(evil), msg.Alert{ID: "e1", CallID: evil, RuleName: hostileScript + hostileImg, Severity: hostileImg, Message: hostileImg})
	waitFor(t, ctx, "the hostile row", `(() => { const r = document.querySelector('tr[data-call="c-evil"]'); return !!r && r.querySelector('.agent').textContent === `+jsString(hostileImg)+` && r.querySelector('[data-testid=alert-badge]') !== null; })()`)
	notPwned(t, ctx, "board")

	// Open the call view; the transcript grows turn by turn.
	do(t, ctx, "open the call", chromedp.Click(`tr[data-call="c-evil"] a`), chromedp.WaitVisible("#transcript"))
	waitFor(t, ctx, "live badge", `!document.querySelector('#live').hidden`)
	first := seg(evil, msg.RoleCustomer, 1, true, 1, 1000, "my card number is")
	publish(t, pub, msg.SubjectTranscript(evil), first)
	waitFor(t, ctx, "the interim turn", `(() => { const li = document.querySelector('#transcript li.interim'); return !!li && li.textContent.includes('my card number is'); })()`)
	final := first
	final.Interim, final.Rev, final.Text = false, 0, "my card number is 4111 1111 1111 1111 "+hostileScript
	publish(t, pub, msg.SubjectScoredSegment(evil), msg.ScoredSegment{Segment: final, Sentiment: msg.Sentiment{Label: msg.Negative, Compound: -0.5}})
	waitFor(t, ctx, "the final turn replacing the interim", `(() => { const lis = document.querySelectorAll('#transcript li'); return lis.length === 1 && !lis[0].classList.contains('interim') && lis[0].querySelector('.text').textContent === `+jsString("my card number is [PII] "+hostileScript)+` && lis[0].querySelector('.mark.negative') !== null; })()`)
	publish(t, pub, msg.SubjectTranscript(evil), seg(evil, msg.RoleAgent, 2, false, 0, 5000, "let me check that "+hostileImg))
	waitFor(t, ctx, "the second turn", `document.querySelectorAll('#transcript li').length === 2 && document.querySelectorAll('#transcript li')[1].querySelector('.who').textContent === 'agent'`)
	publish(t, pub, msg.SubjectCallSentiment(evil), msg.CallSentiment{CallID: evil, Participants: map[msg.Role]msg.ParticipantSentiment{
		msg.RoleCustomer: {Current: -2, Trend: trend(-1, -2)}, msg.RoleAgent: {Current: 1, Trend: trend(0.5, 1)}}})
	publish(t, pub, msg.SubjectDTMF(evil), msg.DTMFEvent{CallID: evil, Leg: msg.RoleCustomer, Digit: "#", StartMS: 6000})
	publish(t, pub, msg.SubjectCategories(evil), msg.Categories{CallID: evil, Categories: []msg.Category{{Name: hostileImg}}})
	waitFor(t, ctx, "trend, DTMF and categories", `document.querySelectorAll('#trend polyline').length === 2 && document.querySelector('#dtmf').textContent.includes('#') && document.querySelector('#categories').textContent === `+jsString(hostileImg))
	waitFor(t, ctx, "the alert in place", `document.querySelector('#alerts').textContent.includes(`+jsString(hostileScript)+`)`)
	// An alert whose message carries a card number shows it masked.
	publish(t, pub, msg.SubjectAlert(evil), msg.Alert{ID: "e2", CallID: evil, RuleName: "Card read out", Severity: "critical", AtMS: 5000,
		Message: "Card read out: card number is 4111 1111 1111 1111"})
	waitFor(t, ctx, "the card alert, masked", `(() => { const t = document.querySelector('#alerts').textContent; return t.includes('Card read out: card number is [PII]') && !t.includes('4111'); })()`)
	publish(t, pub, msg.SubjectCharacteristics(evil), msg.Characteristics{CallID: evil, TalkMS: map[msg.Role]int64{msg.RoleCustomer: 3000},
		TalkSpeedWPM: map[msg.Role]float64{msg.RoleCustomer: 100, msg.RoleAgent: 150}, TalkSpeedSPM: map[msg.Role]float64{msg.RoleCustomer: 240}})
	waitFor(t, ctx, "talk speed, with syllables for the Korean leg only", `(() => { const t = document.querySelector('#characteristics').textContent; return t.includes('100 words and 240 syllables a minute') && t.includes('150 words a minute') && !t.includes('150 words and'); })()`)
	screenshot(t, ctx, "call-live")
	do(t, ctx, "show the characteristics", chromedp.ScrollIntoView("#characteristics"))
	screenshot(t, ctx, "call-characteristics")
	notPwned(t, ctx, "call view")

	// Search a phrase and open the hit at its moment.
	browserSearch(t, ctx, base, "broken kettle")
	waitFor(t, ctx, "a hit with the phrase marked", `(() => { const m = document.querySelector('#hits .snippet mark'); return !!m && m.textContent === 'broken kettle'; })()`)
	waitFor(t, ctx, "hostile snippet as text", `document.querySelector('#hits .snippet').textContent.includes(`+jsString(hostileImg)+`)`)
	notPwned(t, ctx, "search")
	screenshot(t, ctx, "search")
	do(t, ctx, "open the hit", chromedp.Click("#hits .snippet"), chromedp.WaitVisible("#transcript"))
	waitFor(t, ctx, "the moment in the call", `(() => { const li = document.querySelector('#transcript li.target'); return !!li && li.querySelector('mark') !== null && li.textContent.includes('broken kettle'); })()`)
	waitFor(t, ctx, "the stored alert", `document.querySelector('#alerts').textContent.includes(`+jsString(hostileImg)+`)`)
	waitFor(t, ctx, "the survey answers", `(() => { const tds = [...document.querySelectorAll('#survey td')].map((td) => td.textContent); return tds.join('|') === 'How satisfied were you with the agent?|4 / 1–5|4:01|'+`+jsString(hostileImg)+`+'|10 / 0–10|4:06'; })()`)
	notPwned(t, ctx, "finished call view")
	do(t, ctx, "scroll to the survey", chromedp.ScrollIntoView("#survey"))
	screenshot(t, ctx, "call-finished")

	// Rules (as the analyst): problems, and a dry run whose rule name is hostile.
	// A next= that leads off-site (/\host is //host to a browser) is ignored.
	do(t, ctx, "log in as analyst",
		chromedp.Navigate(base+"/login?next=%2F%5Cevil.example%2F"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "quinn"),
		chromedp.SendKeys("#password", testPassword),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#hits"),
	)
	waitFor(t, ctx, "the analyst's home page", `location.host === `+jsString(strings.TrimPrefix(base, "http://"))+` && location.pathname === '/search'`)
	do(t, ctx, "open rules", chromedp.Navigate(base+"/rules"))
	waitFor(t, ctx, "the rule text", `document.querySelector('#text').value.includes('greeting')`)
	do(t, ctx, "validate", chromedp.SetValue("#text", "rule one\nbad rule"), chromedp.Click("#check"))
	waitFor(t, ctx, "a problem on line 2", `document.querySelector('#problems').textContent.includes('line 2:1') && document.querySelector('#problems').textContent.includes('<b>bad</b>')`)
	do(t, ctx, "dry run", chromedp.SetValue("#text", "rule one"), chromedp.Click("#dryrun-submit"))
	waitFor(t, ctx, "dry run matches", `document.querySelector('#matches').textContent.includes(`+jsString(hostileScript)+`)`)
	notPwned(t, ctx, "rules")
	screenshot(t, ctx, "rules")

	// Users (as the admin): create a user, give them a token.
	do(t, ctx, "log in as admin",
		chromedp.Navigate(base+"/login?next=/users"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "root"),
		chromedp.SendKeys("#password", testPassword),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#create"),
	)
	waitFor(t, ctx, "the user list", `document.querySelector('tr[data-user="sue"]') !== null`)
	do(t, ctx, "create a user",
		chromedp.SendKeys("#new-name", "dana"),
		chromedp.SetValue("#new-role", "analyst"),
		chromedp.SendKeys("#new-password", "dana-password-1"),
		chromedp.Click(`#create button[type=submit]`),
	)
	waitFor(t, ctx, "the new user", `(() => { const r = document.querySelector('tr[data-user="dana"]'); return !!r && r.querySelector('select').value === 'analyst'; })()`)
	if u, err := ts.users.get(context.Background(), "dana"); err != nil || u.Role != RoleAnalyst {
		t.Fatalf("dana: %+v %v", u, err)
	}
	do(t, ctx, "new token", chromedp.Click(`tr[data-user="dana"] button:nth-of-type(3)`))
	waitFor(t, ctx, "the token shown once", `(document.querySelector('#status .token') || {}).textContent?.startsWith('est_') === true`)
	tok, err := chromedp.Run(ctx, chromedp.TextContent("#status .token"))
	if err != nil {
		t.Fatal(err)
	}
	if u, _, ok := ts.users.byToken(tok); !ok || u.Name != "dana" {
		t.Fatal("the token shown does not log in as dana")
	}
	screenshot(t, ctx, "users")
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "<", `\x3c`)
	return `"` + r.Replace(s) + `"`
}

// TestPlayer plays a stored call in headless Chromium: opened from a
// search hit, the player starts at the hit's turn and highlights it; the
// highlight follows the audio as it plays and when it is sought; a click
// on a turn seeks to it.
func TestPlayer(t *testing.T) {
	rec := searchRecord()
	ctx, ts, _ := liveBrowser(t, Config{Recordings: recordCallsFor(t, 80, "past-1")}, rec)
	do(t, ctx, "log in",
		chromedp.Navigate(ts.http.URL+"/login"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "sue"),
		chromedp.SendKeys("#password", testPassword),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#board"),
	)
	hit := rec.Segments[3] // "I want a refund ...", at 60 s
	do(t, ctx, "open the search hit", chromedp.Navigate(ts.http.URL+"/calls/past-1?q=refund&seg="+hit.ID), chromedp.WaitVisible("#audio"))
	playing := `(document.querySelector('#transcript li.playing') || {}).dataset`
	waitFor(t, ctx, "the player at the hit's turn", `(() => { const a = document.querySelector('#audio'); const p = `+playing+`;
		return a.readyState >= 1 && Math.abs(a.currentTime - 60) < 0.01 && p && p.seg === `+jsString(hit.ID)+`; })()`)
	run(t, ctx, `(() => { const a = document.querySelector('#audio'); a.muted = true; a.play(); return true; })()`)
	waitFor(t, ctx, "the audio playing on in the hit's turn", `(() => { const a = document.querySelector('#audio'); const p = `+playing+`;
		return !a.paused && a.currentTime > 60.3 && p && p.seg === `+jsString(hit.ID)+`; })()`)
	screenshot(t, ctx, "call-player")
	do(t, ctx, "click the second turn", chromedp.Click(`#transcript li[data-seg="`+rec.Segments[1].ID+`"] .t`))
	waitFor(t, ctx, "the highlight on the second turn", `(() => { const a = document.querySelector('#audio'); const p = `+playing+`;
		return a.currentTime >= 20 && a.currentTime < 24 && p && p.seg === `+jsString(rec.Segments[1].ID)+`; })()`)
	run(t, ctx, `(() => { document.querySelector('#audio').currentTime = 10; return true; })()`)
	waitFor(t, ctx, "no turn highlighted between turns", `document.querySelector('#transcript li.playing') === null`)
	do(t, ctx, "click the alert", chromedp.Click(`#alerts li.alert`))
	waitFor(t, ctx, "the player at the alert", `document.querySelector('#audio').currentTime < 1`)
	do(t, ctx, "hear the customer alone", chromedp.SetValue("#channels", "customer"))
	run(t, ctx, `document.querySelector('#channels').dispatchEvent(new Event('change'))`)
	waitFor(t, ctx, "the agent's channel muted", `gains !== null && gains[0].gain.value === 0 && gains[1].gain.value === 1`)
	run(t, ctx, `(() => { document.querySelector('#audio').pause(); return true; })()`)
}

// run runs a script in the page; it must return true.
func run(t *testing.T, ctx context.Context, script string) {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script))
	if err != nil || !ok {
		t.Fatalf("%s: %v %v", script, ok, err)
	}
}
