package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/internal/browsertest"
	"github.com/earshot-dev/earshot/rules"
)

// TestUIRulesPageShared: earshot ui alone shows the rules in force in NATS
// KV and who pushed each version when (earshot rules push, in Chromium);
// activating on the page puts the text in force for every analyze.
func TestUIRulesPageShared(t *testing.T) {
	srv, conn := bustest.Start(t)
	dir := t.TempDir()
	var out bytes.Buffer
	e := newEnv(slog.New(slog.DiscardHandler), conn, dir, stdio{out: &out, err: &out})
	ctx, cancel := context.WithCancel(context.Background())
	r, err := uiStageFlags(t).start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r(ctx) }()
	hs := httptest.NewServer(e.mux)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		hs.Close()
	})
	if err := e.served(hs.URL); err != nil {
		t.Fatal(err)
	}
	login := regexp.MustCompile(`with password (\S+)`).FindStringSubmatch(out.String())
	if login == nil {
		t.Fatalf("no first login in %q", out.String())
	}
	for _, p := range []struct{ by, text string }{
		{"ana", "rules:\n  - id: refund\n    match: [{words: refund}]\n    actions: {category: Refund}\n"},
		{"bo", "rules:\n  - id: cancel\n    match: [{words: cancel}]\n    actions: {category: Cancel}\n"},
	} {
		if code, stdout, stderr := rulesRun(t, "rules", "push", rulesWrite(t, t.TempDir(), "r.yaml", p.text), "--nats", srv.ClientURL(), "--by", p.by); code != 0 {
			t.Fatalf("push by %s: exit %d %s %s", p.by, code, stdout, stderr)
		}
	}

	bctx := browsertest.Start(t)
	shots := browsertest.ArtifactDir(t, "ui")
	browsertest.Do(t, bctx, "log in",
		chromedp.Navigate(hs.URL+"/login?next=/rules"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "admin"),
		chromedp.SendKeys("#password", login[1]),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#history"),
	)
	browsertest.WaitFor(t, bctx, shots, 10*time.Second, "the pushed rules and who pushed them",
		`document.querySelector('#text').value.includes('id: cancel') && document.querySelectorAll('#history tr').length === 2 &&
		 document.querySelector('#history tr:nth-child(1) td:nth-child(2)').textContent === 'bo' &&
		 document.querySelector('#history tr:nth-child(2) td:nth-child(2)').textContent === 'ana'`)
	browsertest.Do(t, bctx, "activate an edit",
		chromedp.SetValue("#text", "rules:\n  - id: complaint\n    match: [{words: complaint}]\n    actions: {category: Complaint}\n"),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click("#activate"),
	)
	browsertest.WaitFor(t, bctx, shots, 10*time.Second, "the activation in the history",
		`document.querySelectorAll('#history tr').length === 3 && document.querySelector('#history tr:nth-child(1) td:nth-child(2)').textContent === 'admin'`)
	browsertest.FullScreenshot(t, bctx, shots, "rules-shared-history")

	kv, err := rules.OpenBucket(ctx, conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	m, err := rules.NewManager(ctx, rules.ManagerConfig{KV: kv})
	if err != nil {
		t.Fatal(err)
	}
	if rs := m.Current(); rs.Len() != 1 || rs.Version != rules.Version([]byte("rules:\n  - id: complaint\n    match: [{words: complaint}]\n    actions: {category: Complaint}\n")) {
		t.Fatalf("in force after the page's activation: %d rules, version %s", rs.Len(), rs.Version)
	}
}
