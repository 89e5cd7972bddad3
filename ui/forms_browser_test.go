package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/earshot-dev/earshot/evaluate"
	"github.com/earshot-dev/earshot/internal/browsertest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store/sqlite"
)

// TestBrowserForms drives the evaluation forms in headless Chromium over
// the real forms (package evaluate) and a real store: an analyst writes a
// form with a mistake and sees it at its line, saves it as version 1, a
// call that ends is scored with it, the analyst changes an answer on the
// call view with a comment (the automatic answer stays shown, the total
// moves), saves version 2 and re-scores the day after a dry run; each
// page again in Korean.
func TestBrowserForms(t *testing.T) {
	ctx := browser(t)
	bg := context.Background()
	st, err := sqlite.Open(bg, sqlite.Config{Path: filepath.Join(t.TempDir(), sqlite.FileName)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	forms, err := evaluate.NewManager(evaluate.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := startTestServer(t, Config{Store: st, Forms: forms})
	base := ts.http.URL
	text, err := os.ReadFile("../evaluate/testdata/quality.yaml")
	if err != nil {
		t.Fatal(err)
	}

	do(t, ctx, "log in as analyst",
		chromedp.Navigate(base+"/login?next=/forms"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "quinn"),
		chromedp.SendKeys("#password", testPassword),
		chromedp.Click("#login-submit"),
	)
	waitFor(t, ctx, "the forms page, empty", `location.pathname === '/forms' && document.querySelector('#forms').textContent.includes('No forms yet')`)
	bad := strings.Replace(string(text), "type: choice", "type: colour", 1)
	do(t, ctx, "validate a form with a mistake", chromedp.SetValue("#text", bad), chromedp.Click("#check"))
	waitFor(t, ctx, "the mistake at line 51", `document.querySelector('#problems').textContent.includes('line 51:15') && document.querySelector('#problems').textContent.includes('colour')`)
	do(t, ctx, "save it anyway", chromedp.Click("#save"))
	waitFor(t, ctx, "not saved", `document.querySelector('#status').textContent.includes('Not saved')`)
	if fs, err := forms.Forms(bg); err != nil || len(fs) != 0 {
		t.Fatalf("a form with a mistake was saved: %+v %v", fs, err)
	}
	screenshot(t, ctx, "forms-problem")

	do(t, ctx, "save the form", chromedp.SetValue("#text", string(text)), chromedp.Click("#save"))
	waitFor(t, ctx, "version 1 saved", `document.querySelector('#status').textContent.includes('version 1') && document.querySelectorAll('#versions tr').length === 1`)

	// A call ends and is scored with version 1.
	start := time.Now().UTC()
	for _, ev := range []msg.CallEvent{
		{CallID: "qa-1", Kind: msg.CallStarted, Time: start, StartedAt: start, Agent: "bob", Queue: "billing"},
		{CallID: "qa-1", Kind: msg.CallEnded, Time: start.Add(time.Minute), StartedAt: start, DurationMS: 60000},
	} {
		if err := st.PutCall(bg, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutCharacteristics(bg, msg.Characteristics{CallID: "qa-1", Final: true, NonTalkMS: 6000,
		Interruptions: []msg.Interruption{{By: msg.RoleAgent}, {By: msg.RoleAgent}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutCategories(bg, msg.Categories{CallID: "qa-1", Final: true, Categories: []msg.Category{{Name: "Greeted"}}}); err != nil {
		t.Fatal(err)
	}
	evs, err := forms.ScoreCall(bg, "qa-1")
	if err != nil || len(evs) != 1 || evs[0].Score == nil {
		t.Fatalf("score: %+v %v", evs, err)
	}
	before := *evs[0].Score

	// The analyst changes an answer on the call view.
	do(t, ctx, "open the call", chromedp.Navigate(base+"/calls/qa-1"))
	waitFor(t, ctx, "the scored form", `document.querySelector('.evaluation .eval-total') !== null && document.querySelector('.evaluation h3').textContent.includes('version 1')`)
	shown, err := chromedp.Run(ctx, chromedp.TextContent(".evaluation .eval-total"))
	if err != nil || !strings.HasSuffix(shown, "%") {
		t.Fatalf("total shown: %q %v", shown, err)
	}
	do(t, ctx, "answer resolved: Fully",
		chromedp.SetValue(`.evaluation select.answer[data-q="resolved"]`, "Fully"),
		chromedp.SetValue(`.evaluation input.comment[data-q="resolved"]`, "refund issued on the call"),
		chromedp.SetValue(`.evaluation select.answer[data-q="no-talkover"]`, "yes"),
		chromedp.SetValue(`.evaluation input.comment[data-q="no-talkover"]`, "the customer asked for it"),
		chromedp.Click(`.evaluation .eval-submit`),
	)
	waitFor(t, ctx, "the changed answers", `document.querySelectorAll('.evaluation tr.changed').length === 2 && document.querySelector('#eval-status').textContent.includes('recomputed')`)
	waitFor(t, ctx, "the automatic answer still shown", `(() => { const r = document.querySelector('.evaluation select.answer[data-q="no-talkover"]').closest('tr'); return r.children[1].textContent === 'no' && r.textContent.includes('changed by quinn'); })()`)
	rec, err := st.Call(bg, "qa-1", false)
	if err != nil || len(rec.Evaluations) != 1 {
		t.Fatalf("stored: %+v %v", rec.Evaluations, err)
	}
	ev := rec.Evaluations[0]
	if ev.Score == nil || *ev.Score <= before {
		t.Fatalf("total %v, was %v", ev.Score, before)
	}
	for _, a := range ev.Answers {
		if a.Question == "no-talkover" && (a.Value != "yes" || a.Auto != "no" || a.By != "quinn" || a.Comment != "the customer asked for it") {
			t.Errorf("changed answer: %+v", a)
		}
	}
	waitFor(t, ctx, "the new total", `(() => { const s = document.querySelector('.evaluation .eval-total').textContent; return s.endsWith('%') && s !== `+jsString(shown)+`; })()`)
	browsertestFull(t, ctx, "call-evaluation")

	// Version 2, and a re-scoring of today's calls after a dry run.
	do(t, ctx, "open forms", chromedp.Navigate(base+"/forms"))
	waitFor(t, ctx, "the form in the editor", `document.querySelector('#text').value.includes('service-qa')`)
	v2 := strings.Replace(string(text), "at_most: 0.2", "at_most: 0.05", 1) // 10% non-talk: no more
	do(t, ctx, "save version 2", chromedp.SetValue("#text", v2), chromedp.Click("#save"))
	waitFor(t, ctx, "version 2 saved", `document.querySelectorAll('#versions tr').length === 2`)
	day := start.Local().Format(time.DateOnly)
	next := start.Local().Add(24 * time.Hour).Format(time.DateOnly)
	do(t, ctx, "dry run",
		chromedp.SetValue("#rs-from", day), chromedp.SetValue("#rs-to", next),
		chromedp.Click("#rs-dry"))
	waitFor(t, ctx, "what would change", `document.querySelector('#rs-status').textContent.includes('1 of 1 calls would change') && !document.querySelector('#rs-apply').disabled`)
	if rec, _ := st.Call(bg, "qa-1", false); rec.Evaluations[0].FormRevision != 1 {
		t.Fatalf("the dry run re-scored: %+v", rec.Evaluations[0])
	}
	screenshot(t, ctx, "forms-dryrun")
	do(t, ctx, "apply", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`), chromedp.Click("#rs-apply"))
	waitFor(t, ctx, "re-scored", `document.querySelector('#rs-status').textContent.includes('Re-scored 1 calls')`)
	rec, err = st.Call(bg, "qa-1", false)
	if err != nil || rec.Evaluations[0].FormRevision != 2 {
		t.Fatalf("applied: %+v %v", rec.Evaluations, err)
	}
	browsertestFull(t, ctx, "forms")

	// The same pages in Korean.
	if err := ts.users.setLanguage(context.Background(), "quinn", "ko"); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "forms in Korean", chromedp.Navigate(base+"/forms"))
	waitFor(t, ctx, "the Korean forms page", `document.documentElement.lang === 'ko' && document.querySelectorAll('#versions tr').length === 2`)
	do(t, ctx, "validate in Korean", chromedp.SetValue("#text", bad), chromedp.Click("#check"))
	waitFor(t, ctx, "the mistake, in Korean", `document.querySelector('#problems').textContent.includes('51번째 줄')`)
	browsertestFull(t, ctx, "forms-ko")
	do(t, ctx, "the call in Korean", chromedp.Navigate(base+"/calls/qa-1"))
	waitFor(t, ctx, "the Korean evaluation", `document.querySelector('.evaluation h3') !== null && document.querySelector('.evaluation h3').textContent.includes('버전 2')`)
	browsertestFull(t, ctx, "call-evaluation-ko")

	// An agent reads the scores of their own calls only, and changes none.
	if err := ts.users.update(context.Background(), "ann", "", ptrTo("bob"), "", false); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "log in as the call's agent",
		chromedp.Navigate(base+"/login?next=/calls/qa-1"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "ann"),
		chromedp.SendKeys("#password", testPassword),
		chromedp.Click("#login-submit"),
	)
	waitFor(t, ctx, "the agent's scores, read only", `document.querySelector('.evaluation .eval-total') !== null && document.querySelector('.evaluation select, .evaluation .eval-submit') === null`)
}

func ptrTo[T any](v T) *T { return &v }

func browsertestFull(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	browsertest.FullScreenshot(t, ctx, artifactDir(t), name)
}
