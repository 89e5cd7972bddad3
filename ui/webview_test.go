package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/earshot-dev/earshot/internal/browsertest"
	"github.com/earshot-dev/earshot/msg"
)

// fullShot saves the whole page as NAME.png in the artifacts.
func fullShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	browsertest.FullScreenshot(t, ctx, artifactDir(t), name)
}

// browserLogin logs name in through the login page and waits to leave it.
func browserLogin(t *testing.T, ctx context.Context, base, name, next string) {
	t.Helper()
	do(t, ctx, "log in as "+name,
		chromedp.Navigate(base+"/login?next="+next),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", name),
		chromedp.SendKeys("#password", testPassword),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#nav strong"), // drawn once logged in
	)
	waitFor(t, ctx, name+" logged in", `location.pathname === `+jsString(next))
}

// browserSearch searches words on the search page.
func browserSearch(t *testing.T, ctx context.Context, base, words string) {
	t.Helper()
	do(t, ctx, "search "+words,
		chromedp.Navigate(base+"/search"),
		chromedp.WaitVisible("#q"),
		chromedp.SendKeys("#q", words),
		chromedp.Click("#search-submit"),
	)
}

// setAcceptLanguage makes the browser send header as its Accept-Language.
func setAcceptLanguage(header string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": header}})
		return chromedp.Void{}, err
	}
}

// englishLeft returns the Latin words of the page's visible text, but for
// the allowed ones (names, ids): empty when the page is all in Korean.
func englishLeft(t *testing.T, ctx context.Context, allowed ...string) string {
	t.Helper()
	allowed = append(allowed, "Earshot", "DTMF", "English")
	js := `(() => { let s = document.title + "\n" + document.body.innerText;
		for (const a of ` + jsArray(allowed) + `) s = s.split(a).join(" ");
		return (s.match(/[A-Za-z]{2,}/g) || []).join(" "); })()`
	left, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func jsArray(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = jsString(x)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// koreanRecord is a finished call in Korean, as the store keeps it.
func koreanRecord() msg.CallRecord {
	start := time.Now().Add(-3 * time.Hour)
	end := start.Add(3*time.Minute + 12*time.Second)
	lines := []struct {
		leg   msg.Role
		text  string
		label string
		score float64
	}{
		{msg.RoleAgent, "안녕하세요 무엇을 도와드릴까요", msg.Positive, 0.5},
		{msg.RoleCustomer, "주문한 주전자가 깨져서 환불 받고 싶어요", msg.Negative, -0.6},
		{msg.RoleAgent, "불편을 드려 죄송합니다 바로 환불해 드리겠습니다", msg.Positive, 0.3},
		{msg.RoleCustomer, "감사합니다", msg.Positive, 0.7},
	}
	var segs []msg.StoredSegment
	for i, l := range lines {
		segs = append(segs, msg.StoredSegment{Segment: msg.Segment{
			ID: "kr-1/" + string(l.leg) + "/" + string(rune('1'+i)) + "/0", CallID: "kr-1", Leg: l.leg, Turn: i + 1,
			StartMS: int64(i)*30000 + 2000, EndMS: int64(i)*30000 + 9000, Text: l.text, Language: "ko",
		}, Sentiment: &msg.Sentiment{Label: l.label, Compound: l.score}})
	}
	refund := segs[1]
	return msg.CallRecord{
		Call: msg.CallSummary{CallID: "kr-1", Agent: "박서준", Queue: "환불", StartedAt: start, EndedAt: &end,
			DurationMS: 192000, EndReason: msg.EndBye, AlertCount: 1, Categories: []string{"환불 요청", "배송 파손"}},
		Segments: segs,
		Alerts: []msg.Alert{{ID: "kr-a", CallID: "kr-1", RuleName: "환불 요청", Severity: "warning", Message: "고객이 환불을 요청했습니다",
			AtMS: refund.EndMS + 400, Matches: []msg.Match{{SegmentID: refund.ID, Leg: msg.RoleCustomer, Text: "환불", StartMS: refund.StartMS, EndMS: refund.EndMS}}}},
		Categories: []msg.Category{{Name: "환불 요청"}, {Name: "배송 파손"}},
		Sentiment: &msg.CallSentiment{CallID: "kr-1", Final: true, Participants: map[msg.Role]msg.ParticipantSentiment{
			msg.RoleAgent:    {Current: 1.5, Overall: 1.2, Shift: 0.5, Trend: []msg.TrendPoint{{AtMS: 9000, Score: 1}, {AtMS: 69000, Score: 1.5}}},
			msg.RoleCustomer: {Current: 2, Overall: -0.5, Shift: 4.5, Trend: []msg.TrendPoint{{AtMS: 39000, Score: -2.5}, {AtMS: 99000, Score: 2}}},
		}},
		Characteristics: &msg.Characteristics{CallID: "kr-1", Final: true, NonTalkMS: 14000,
			TalkMS: map[msg.Role]int64{msg.RoleAgent: 70000, msg.RoleCustomer: 65000}, TalkSpeedWPM: map[msg.Role]float64{msg.RoleAgent: 120, msg.RoleCustomer: 95}},
		Surveys: []msg.SurveyResult{{CallID: "kr-1", Survey: "만족도", Answers: []msg.SurveyAnswer{
			{Question: "satisfied", Prompt: "상담원에게 얼마나 만족하셨습니까?", Scale: msg.ScaleCSAT, Value: 5, AtMS: 193000}}}},
	}
}

// TestBrowserKorean: a supervisor whose setting is Korean, and one whose
// browser asks for Korean, see the board, a call and search all in Korean.
func TestBrowserKorean(t *testing.T) {
	ctx, ts, conn := liveBrowser(t, Config{Store: dashStore{newMemStore(koreanRecord())}}, koreanRecord())
	base := ts.http.URL
	for _, u := range []struct{ name, lang string }{{"minji", "ko"}, {"jiho", ""}} {
		if err := ts.AddUser(u.name, testPassword, RoleSupervisor, ""); err != nil {
			t.Fatal(err)
		}
		if err := ts.users.setLanguage(context.Background(), u.name, u.lang); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.users.setLanguage(context.Background(), "root", "ko"); err != nil {
		t.Fatal(err)
	}
	allowed := []string{"minji", "jiho", "root", "kr-1", "kr-live"}
	noEnglish := func(page string) {
		t.Helper()
		if left := englishLeft(t, ctx, allowed...); left != "" {
			t.Errorf("%s: English left on the Korean page: %q", page, left)
		}
	}

	// minji's setting is Korean; her browser asks for English.
	browserLogin(t, ctx, base, "minji", "/")
	waitFor(t, ctx, "the Korean board", `document.documentElement.lang === 'ko' && document.querySelector('h1').textContent.startsWith('실시간 현황') && document.querySelector('#conn').textContent === '연결됨'`)
	now := time.Now()
	const live = "kr-live"
	publish(t, conn.Publish, msg.SubjectCall(live), msg.CallEvent{CallID: live, Kind: msg.CallStarted, Time: now,
		StartedAt: now.Add(-95 * time.Second), Agent: "김민지", Queue: "카드분실"})
	publish(t, conn.Publish, msg.SubjectCallSentiment(live), msg.CallSentiment{CallID: live, Participants: map[msg.Role]msg.ParticipantSentiment{
		msg.RoleAgent:    {Current: 1, Trend: []msg.TrendPoint{{AtMS: 4000, Score: 0.5}, {AtMS: 12000, Score: 1}}},
		msg.RoleCustomer: {Current: -2.5, Trend: []msg.TrendPoint{{AtMS: 2000, Score: -1}, {AtMS: 9000, Score: -2.5}}},
	}})
	publish(t, conn.Publish, msg.SubjectCharacteristics(live), msg.Characteristics{CallID: live, NonTalkMS: 8000, TalkMS: map[msg.Role]int64{msg.RoleAgent: 30000}})
	publish(t, conn.Publish, msg.SubjectAlert(live), msg.Alert{ID: "k1", CallID: live, RuleName: "카드 분실 신고", Severity: "critical",
		Message: "고객이 카드 분실을 말했습니다", AtMS: 3000, Time: now,
		Matches: []msg.Match{{SegmentID: live + "/customer/1/0", Leg: msg.RoleCustomer, Text: "카드를 잃어버렸어요", StartMS: 1000}}})
	waitFor(t, ctx, "the Korean row", `(() => { const r = document.querySelector('tr[data-call="kr-live"]'); return !!r && r.querySelector('.duration').textContent.includes('분') && r.querySelectorAll('svg.spark circle').length === 2 && r.querySelector('[data-testid=alert-badge]').textContent.includes('카드 분실 신고'); })()`)
	waitFor(t, ctx, "the Korean banner", `document.querySelector('#alert-banner').textContent === '알림이 있는 통화 1건'`)
	waitFor(t, ctx, "Korean headings", `[...document.querySelectorAll('#board th')].map((th) => th.textContent).join('|') === '통화|상담원|대기열|통화 시간|감정|무음 시간|끼어들기|알림'`)
	noEnglish("board")
	fullShot(t, ctx, "ko-board")

	// The live call: Korean transcript turns, each side named in Korean.
	do(t, ctx, "open the live call", chromedp.Click(`tr[data-call="kr-live"] a`), chromedp.WaitVisible("#transcript"))
	waitFor(t, ctx, "the Korean call view", `document.querySelector('#live').textContent === '진행 중' && document.querySelector('#transcript-note').textContent.includes('첫 발화')`)
	publish(t, conn.Publish, msg.SubjectScoredSegment(live), msg.ScoredSegment{Segment: seg(live, msg.RoleCustomer, 1, false, 0, 1000, "카드를 잃어버렸어요"),
		Sentiment: msg.Sentiment{Label: msg.Negative, Compound: -0.5}})
	publish(t, conn.Publish, msg.SubjectScoredSegment(live), msg.ScoredSegment{Segment: seg(live, msg.RoleAgent, 2, false, 0, 4000, "네 고객님 바로 정지해 드릴게요"),
		Sentiment: msg.Sentiment{Label: msg.Positive, Compound: 0.4}})
	waitFor(t, ctx, "Korean turns", `(() => { const lis = document.querySelectorAll('#transcript li'); return lis.length === 2 && lis[0].querySelector('.who').textContent === '고객' && lis[1].querySelector('.who').textContent === '상담원' && lis[0].querySelector('.alert-inline').textContent.includes('카드 분실 신고') && document.querySelector('#transcript-note').hidden; })()`)
	waitFor(t, ctx, "Korean alert and sentiment", `document.querySelector('#alerts').textContent.includes('심각') && document.querySelector('#sentiment').textContent.includes('현재') && document.querySelector('#trend').textContent.includes('통화 경과 시간')`)
	noEnglish("live call")
	fullShot(t, ctx, "ko-call-live")

	// A finished call from the store.
	do(t, ctx, "open the stored call", chromedp.Navigate(base+"/calls/kr-1"), chromedp.WaitVisible("#transcript"))
	waitFor(t, ctx, "the finished Korean call", `(() => { const m = document.querySelector('#meta').textContent; return m.includes('전화를 끊음') && m.includes('3분 12초') && document.querySelectorAll('#transcript li').length === 4 && document.querySelector('#sentiment').textContent.includes('종료 시'); })()`)
	waitFor(t, ctx, "Korean characteristics", `document.querySelector('#characteristics').textContent.includes('분당 120단어') && document.querySelector('#dtmf').textContent === '없음'`)
	waitFor(t, ctx, "the Korean survey", `document.querySelector('#survey').textContent === '설문 만족도상담원에게 얼마나 만족하셨습니까?5 / 1–53:13'`)
	noEnglish("finished call")
	fullShot(t, ctx, "ko-call")

	// The dashboard's survey figures.
	do(t, ctx, "open the dashboard", chromedp.Navigate(base+"/dashboard?group_by=agent&from=2026-11-16&to=2026-11-29&metric=csat"), chromedp.WaitVisible("#metric"))
	waitFor(t, ctx, "CSAT in Korean", `[...document.querySelectorAll('#metric option')].some((o) => o.value === 'nps' && o.textContent.startsWith('순추천지수')) && document.querySelector('#metric option:checked').textContent.startsWith('고객 만족도')
		&& [...document.querySelectorAll('#ranked .axis-label')].some((e) => e.textContent === '고객 만족도 CSAT (1–5 중 4–5 응답) (응답 중 %)')`)
	do(t, ctx, "open the tables", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details').forEach(d => d.open = true)`))
	fullShot(t, ctx, "ko-dashboard")

	// Search.
	browserSearch(t, ctx, base, "환불")
	waitFor(t, ctx, "Korean hits", `document.querySelector('#total').textContent === '통화 1건' && (document.querySelector('#hits .snippet mark') || {}).textContent === '환불' && document.querySelector('#hits [data-testid=hit-alerts]').textContent.includes('알림 1건')`)
	waitFor(t, ctx, "Korean filters", `document.querySelector('#search').textContent.includes('말한 사람') && document.querySelector('#leg').options[1].textContent === '상담원'`)
	noEnglish("search")
	fullShot(t, ctx, "ko-search")

	// The header's language control: back to the browser's (English).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.querySelector('#language'); s.value = ''; s.dispatchEvent(new Event('change')); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the search page in English", `document.documentElement.lang === 'en' && document.querySelector('h1').textContent === 'Search'`)
	if u, _ := ts.users.get(context.Background(), "minji"); u.Language != "" {
		t.Errorf("minji's language %q after picking the browser's", u.Language)
	}

	// jiho has no setting; his browser asks for Korean.
	do(t, ctx, "a Korean browser", setAcceptLanguage("ko-KR,ko;q=0.9,en;q=0.5"))
	do(t, ctx, "the login page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible("#name"))
	waitFor(t, ctx, "the Korean login page", `document.documentElement.lang === 'ko' && document.querySelector('#login-submit').textContent === '로그인'`)
	do(t, ctx, "a wrong password", chromedp.SendKeys("#name", "jiho"), chromedp.SendKeys("#password", "wrong-password"), chromedp.Click("#login-submit"))
	waitFor(t, ctx, "the refusal in Korean", `document.querySelector('#error').textContent === '사용자 이름이나 비밀번호가 틀렸습니다.'`)
	noEnglish("login")
	fullShot(t, ctx, "ko-login")
	browserLogin(t, ctx, base, "jiho", "/")
	waitFor(t, ctx, "jiho's Korean board", `document.documentElement.lang === 'ko' && document.querySelector('tr[data-call="kr-live"]') !== null && document.querySelector('#alert-banner').textContent === '알림이 있는 통화 1건'`)
	noEnglish("board (browser's language)")
	do(t, ctx, "jiho opens the finished call", chromedp.Navigate(base+"/calls/kr-1"), chromedp.WaitVisible("#transcript"))
	waitFor(t, ctx, "jiho's Korean call", `document.querySelectorAll('#transcript li').length === 4 && document.querySelector('#meta').textContent.includes('전화를 끊음')`)
	noEnglish("finished call (browser's language)")

	// The admin (Korean) on the rules and users pages.
	browserLogin(t, ctx, base, "root", "/rules")
	waitFor(t, ctx, "the Korean rules page", `document.querySelector('#text').value.includes('greeting') && document.querySelector('#history').textContent.includes('아직 변경 이력이 없습니다')`)
	fullShot(t, ctx, "ko-rules")
	do(t, ctx, "the users page", chromedp.Navigate(base+"/users"))
	waitFor(t, ctx, "the Korean users page", `(() => { const r = document.querySelector('tr[data-user="minji"]'); return !!r && r.querySelector('select.role').selectedOptions[0].textContent === '감독자'; })()`)
	do(t, ctx, "set jiho's language to English", chromedp.SetValue(`tr[data-user="jiho"] [data-testid=user-language]`, "en"), chromedp.Click(`tr[data-user="jiho"] td.actions button`))
	waitFor(t, ctx, "saved", `document.querySelector('#status').textContent === '완료했습니다.'`)
	if u, _ := ts.users.get(context.Background(), "jiho"); u.Language != "en" {
		t.Errorf("jiho's language %q, want en", u.Language)
	}
	fullShot(t, ctx, "ko-users")
}

// defectRecords are stored calls for TestBrowserDefects: one with an alert
// pinned to a turn, two categories and a hang-up; one with no transcript.
func defectRecords() []msg.CallRecord {
	start := time.Now().Add(-time.Hour)
	end := start.Add(2 * time.Minute)
	var segs []msg.StoredSegment
	for i, text := range []string{"thank you for calling", "the kettle arrived broken", "I can send a new kettle", "please refund me instead"} {
		leg := msg.RoleAgent
		if i%2 == 1 {
			leg = msg.RoleCustomer
		}
		segs = append(segs, msg.StoredSegment{Segment: msg.Segment{ID: "past-2/" + string(leg) + "/" + string(rune('1'+i)) + "/0",
			CallID: "past-2", Leg: leg, Turn: i + 1, StartMS: int64(i) * 30000, EndMS: int64(i)*30000 + 4500, Text: text}})
	}
	pinned := segs[2] // 1:00
	past := msg.CallRecord{
		Call: msg.CallSummary{CallID: "past-2", Agent: "bob", Queue: "returns", StartedAt: start, EndedAt: &end, DurationMS: 120000,
			EndReason: msg.EndBye, AlertCount: 1, Categories: []string{"refund", "damaged"}},
		Segments: segs,
		Alerts: []msg.Alert{{ID: "p2", CallID: "past-2", RuleName: "Offer a replacement", Severity: "info", AtMS: pinned.EndMS + 300,
			Matches: []msg.Match{{SegmentID: pinned.ID, Leg: pinned.Leg, Text: "new kettle", StartMS: pinned.StartMS, EndMS: pinned.EndMS}}}},
	}
	silent := msg.CallRecord{Call: msg.CallSummary{CallID: "silent-1", Agent: "bob", Queue: "returns", StartedAt: start, EndedAt: &end,
		DurationMS: 120000, EndReason: msg.EndBye}}
	return []msg.CallRecord{past, silent}
}

// TestBrowserDefects checks the web view's defects of issue 12 (items
// 9 to 12) stay fixed: the most severe alert on the board and severities
// told apart in the call view; sentiment trends that show one point, with
// axes, units and a legend, and no "now" once the call is over; a call
// without transcription that says why; and the small layout faults.
func TestBrowserDefects(t *testing.T) {
	ctx, ts, conn := liveBrowser(t, Config{NoTranscription: true}, defectRecords()...)
	base := ts.http.URL
	pub := conn.Publish

	browserLogin(t, ctx, base, "sue", "/")
	waitFor(t, ctx, "board connected", `document.querySelector('#conn').textContent === 'live'`)
	now := time.Now()
	const id = "d-1"
	publish(t, pub, msg.SubjectCall(id), msg.CallEvent{CallID: id, Kind: msg.CallStarted, Time: now, StartedAt: now.Add(-30 * time.Second), Agent: "Ana Silva", Queue: "billing"})
	// One score each so far.
	publish(t, pub, msg.SubjectCallSentiment(id), msg.CallSentiment{CallID: id, AtMS: 6000, Participants: map[msg.Role]msg.ParticipantSentiment{
		msg.RoleAgent:    {Current: 0.4, Trend: []msg.TrendPoint{{AtMS: 3000, Score: 0.4}}},
		msg.RoleCustomer: {Current: -1.2, Trend: []msg.TrendPoint{{AtMS: 6000, Score: -1.2}}},
	}})
	publish(t, pub, msg.SubjectAlert(id), msg.Alert{ID: "c1", CallID: id, RuleName: "Threat to cancel", Severity: "critical", AtMS: 5000, Time: now})
	publish(t, pub, msg.SubjectAlert(id), msg.Alert{ID: "w1", CallID: id, RuleName: "Long silence", Severity: "warning", AtMS: 9000, Time: now})
	waitFor(t, ctx, "two alerts on the row", `(() => { const b = document.querySelector('tr[data-call="d-1"] [data-testid=alert-badge]'); return !!b && b.textContent.startsWith('⚠ 2'); })()`)

	// 9: the badge is the critical one, in the critical colour.
	waitFor(t, ctx, "the critical badge", `(() => { const b = document.querySelector('tr[data-call="d-1"] [data-testid=alert-badge]'); return b.textContent.includes('Threat to cancel') && b.classList.contains('sev-critical'); })()`)
	// 10: one score shows as a dot, in a sparkline tall enough to read.
	waitFor(t, ctx, "one-point sparklines", `(() => { const s = document.querySelectorAll('tr[data-call="d-1"] svg.spark'); return s.length === 2 && [...s].every((x) => x.querySelector('circle') !== null && x.getBoundingClientRect().height >= 28); })()`)
	// 12: a queue cell is a cell, not a bordered chip.
	waitFor(t, ctx, "plain queue cells", `(() => { const td = document.querySelector('tr[data-call="d-1"] td.queue'); const cs = getComputedStyle(td); return td.textContent === 'billing' && cs.borderLeftWidth === '0px' && cs.borderTopWidth === '0px'; })()`)
	fullShot(t, ctx, "en-board")

	// The call view: severities in their own colours, a chart with axes,
	// units and a legend.
	do(t, ctx, "open the call", chromedp.Click(`tr[data-call="d-1"] a`), chromedp.WaitVisible("#transcript"))
	waitFor(t, ctx, "alerts by severity", `(() => { const c = document.querySelector('#alerts li.sev-critical'), w = document.querySelector('#alerts li.sev-warning'); return !!c && !!w && getComputedStyle(c).borderLeftColor !== getComputedStyle(w).borderLeftColor; })()`)
	waitFor(t, ctx, "a chart with axes and a legend", `(() => { const tr = document.querySelector('#trend'); const titles = [...tr.querySelectorAll('text.axis-title')].map((x) => x.textContent); return titles.includes('call time (m:ss)') && titles.includes('score') && tr.querySelectorAll('text.tick').length >= 5 && [...tr.querySelectorAll('ul.legend li')].map((li) => li.textContent).join(',') === 'agent,customer' && tr.querySelectorAll('circle').length === 2; })()`)
	waitFor(t, ctx, "scores now", `document.querySelector('#sentiment').textContent.includes('now')`)
	// 10: once the call ends, no "now".
	publish(t, pub, msg.SubjectCall(id), msg.CallEvent{CallID: id, Kind: msg.CallEnded, Time: time.Now(), DurationMS: 40000, Reason: msg.EndBye})
	waitFor(t, ctx, "scores at the end", `document.querySelector('#live').hidden && document.querySelector('#sentiment').textContent.includes('at the end') && !document.querySelector('#sentiment').textContent.includes('now')`)
	fullShot(t, ctx, "en-call-ended")

	// 11: a finished call with no transcript, transcription off, says why.
	do(t, ctx, "open the silent call", chromedp.Navigate(base+"/calls/silent-1"), chromedp.WaitVisible("#transcript"))
	waitFor(t, ctx, "why there is no transcript", `(() => { const n = document.querySelector('#transcript-note'); return !n.hidden && n.textContent.includes('transcription is off') && document.querySelector('#sentiment').textContent.includes('transcription is off') && !document.querySelector('#sentiment').textContent.includes('yet'); })()`)
	fullShot(t, ctx, "en-call-no-transcription")

	// 12: "hung up", and an alert shown at the time of its turn.
	do(t, ctx, "open the stored call", chromedp.Navigate(base+"/calls/past-2"), chromedp.WaitVisible("#transcript"))
	waitFor(t, ctx, "hung up", `(() => { const m = document.querySelector('#meta').textContent; return m.includes('hung up') && !m.includes('rtcp'); })()`)
	waitFor(t, ctx, "the alert at its turn's time", `(() => { const li = document.querySelector('#transcript li .alert-inline').closest('li'); return li.querySelector('.t').textContent === '1:00' && document.querySelector('#alerts li.alert').textContent.includes('info at 1:00'); })()`)
	fullShot(t, ctx, "en-call-finished")

	// 12: in search results the badge and the chips keep their distance.
	do(t, ctx, "search", chromedp.Navigate(base+"/search?q=kettle"), chromedp.WaitVisible("#hits"))
	waitFor(t, ctx, "spaced badge and chips", `(() => { const hit = document.querySelector('#hits li[data-call="past-2"]'); if (!hit) return false;
		const r = (sel) => hit.querySelector(sel).getBoundingClientRect(); const chips = hit.querySelectorAll('.chip');
		return chips.length === 2 && r('[data-testid=hit-alerts]').left - r('.duration').right >= 6 && chips[1].getBoundingClientRect().left - chips[0].getBoundingClientRect().right >= 4; })()`)
	fullShot(t, ctx, "en-search")

	// 12: the dry run's count beside its own table; an empty history says so.
	browserLogin(t, ctx, base, "quinn", "/rules")
	waitFor(t, ctx, "the empty history", `document.querySelector('#history').textContent.includes('No changes yet')`)
	do(t, ctx, "dry run", chromedp.Click("#dryrun-submit"))
	waitFor(t, ctx, "the count beside the dry run", `(() => { const s = document.querySelector('#dry-status'); return s.textContent === '2 matches' && s.closest('section') === document.querySelector('#matches').closest('section') && document.querySelector('#status').textContent === ''; })()`)
	fullShot(t, ctx, "en-rules")

	browserLogin(t, ctx, base, "root", "/users")
	waitFor(t, ctx, "the user list", `document.querySelector('tr[data-user="sue"] [data-testid=user-language]') !== null`)
	fullShot(t, ctx, "en-users")
	do(t, ctx, "log out", chromedp.Click("#logout"), chromedp.WaitVisible("#login-submit"))
	fullShot(t, ctx, "en-login")
}
