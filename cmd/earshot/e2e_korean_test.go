package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/msg"
)

// TestKoreanCallsEndToEnd runs earshot run (every stage in this process,
// on a real NATS server, the SQLite store and the example rules), sends the
// Korean example calls over real UDP and transcribes them with the scripted
// transcriber, which returns each turn's script text in Korean as whisper
// reports it (language "ko"). Then: the greeting rule (안녕하세요) fires,
// 해지 raises its alert, Korean sentiment marks the angry customer
// negative, the card number read out in Korean is redacted in the store and
// in the web view, and search for 해지 (and 해지*) finds and marks it with its particle
// (해지를).
func TestKoreanCallsEndToEnd(t *testing.T) {
	if !synthcall.Available() {
		t.Skip(synthcall.ErrNoTools)
	}
	srv, conn := bustest.Start(t)
	scripts, calls := e2eScripted(t, "../../examples/calls-ko/angry-customer.json", "../../examples/calls-ko/card-number.json")
	for _, sc := range scripts {
		if sc.Voice != "ko" {
			t.Fatalf("%s is not spoken with espeak-ng's Korean voice (voice %q)", sc.CallID, sc.Voice)
		}
	}
	angry, card := scripts[0], scripts[1]
	es := e2eStartEarshot(t, srv.ClientURL(), "--capture-language", "ko")
	defer es.stop()
	asrCtx, stopASR := context.WithCancel(context.Background())
	asrDone := make(chan error, 1)
	go func() { asrDone <- e2eTimedWordsASR(asrCtx, conn, "ko", calls) }()
	defer func() { stopASR(); <-asrDone }()

	sent := make(chan error, len(scripts))
	for _, sc := range scripts {
		go func() { sent <- e2eSend(conn, es.rtpAddr, sc, calls[sc.CallID], 4) }()
	}
	for range scripts {
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	}
	for _, sc := range scripts {
		e2eWaitStored(t, conn, sc.CallID)
	}

	web := koreanClient(t, "http://"+es.httpAddr, es.password)
	rec := web.call(t, "/api/ui/calls/"+angry.CallID)
	if !slices.ContainsFunc(rec.Categories, func(c msg.Category) bool { return c.RuleID == "greeting-ko" }) {
		t.Errorf("the greeting rule (안녕하세요) did not fire: categories %+v", rec.Categories)
	}
	if slices.ContainsFunc(rec.Alerts, func(a msg.Alert) bool { return a.RuleID == "no-greeting-ko" }) {
		t.Error("no-greeting-ko fired on a call that opens with 안녕하세요")
	}
	if !slices.ContainsFunc(rec.Alerts, func(a msg.Alert) bool { return a.RuleID == "cancel-ko" }) {
		t.Errorf("해지 raised no cancel-ko alert: alerts %+v", rec.Alerts)
	}
	for _, s := range rec.Segments {
		if s.Language != "ko" {
			t.Errorf("segment %s has language %q, want whisper's ko", s.ID, s.Language)
		}
	}

	if cr := web.call(t, "/api/ui/calls/"+card.CallID); !slices.ContainsFunc(cr.Alerts, func(a msg.Alert) bool { return a.RuleID == "card-number-ko" }) {
		t.Errorf("카드 번호 read out raised no card-number-ko alert: alerts %+v", cr.Alerts)
	}

	// The plain word finds it through its particle, and marks 해지를.
	for _, q := range []string{"해지*", "해지"} {
		var found msg.SearchResults
		web.get(t, "/api/ui/search?q="+url.QueryEscape(q), &found)
		hit := slices.IndexFunc(found.Hits, func(h msg.SearchHit) bool { return h.Call.CallID == angry.CallID })
		if hit < 0 {
			t.Errorf("search %s did not find %s: %+v", q, angry.CallID, found)
		} else if !slices.ContainsFunc(found.Hits[hit].Snippets, func(s msg.Snippet) bool {
			return slices.ContainsFunc(s.Highlights, func(h [2]int) bool { return s.Text[h[0]:h[1]] == "해지를" })
		}) {
			t.Errorf("search %s found %s, but marked no 해지를 in its turns: %+v", q, angry.CallID, found.Hits[hit].Snippets)
		}
	}

	// Korean sentiment: the angry customer's turns are negative, and so is
	// the customer's overall score.
	angryTurns := 0
	for _, s := range rec.Segments {
		if s.Leg == msg.RoleCustomer && (strings.Contains(s.Text, "화가 나요") || strings.Contains(s.Text, "최악")) {
			angryTurns++
			if s.Sentiment == nil || s.Sentiment.Label != msg.Negative {
				t.Errorf("the angry customer's %q is scored %+v, want negative", s.Text, s.Sentiment)
			}
		}
	}
	if angryTurns != 2 {
		t.Errorf("%d stored turns where the customer is angry, want 2: %+v", angryTurns, rec.Segments)
	}
	if got, ok := rec.Call.Sentiment[msg.RoleCustomer]; !ok || got >= 0 {
		t.Errorf("the angry customer's overall sentiment is %.1f (given: %v), want below 0", got, ok)
	}

	// The card number read out in Korean is redacted in the store (its own
	// API) and in the web view.
	for _, path := range []string{"/api/calls/" + card.CallID, "/api/ui/calls/" + card.CallID} {
		r := web.call(t, path)
		said := false
		for _, s := range r.Segments {
			if s.Leg == msg.RoleCustomer && strings.Contains(s.Text, "카드 번호") {
				said = true
				if strings.Contains(s.Text, "일 일 일") {
					t.Errorf("%s: the card number is not redacted: %q", path, s.Text)
				}
			}
		}
		if !said {
			t.Errorf("%s: no customer turn with 카드 번호: %+v", path, r.Segments)
		}
	}
	es.stop()
}

// koreanWeb is a client logged in to the web view.
type koreanWeb struct {
	base string
	hc   *http.Client
}

func koreanClient(t *testing.T, base, password string) *koreanWeb {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	w := &koreanWeb{base: base, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	body, _ := json.Marshal(map[string]string{"name": "admin", "password": password})
	resp, err := w.hc.Post(base+"/api/ui/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	t.Cleanup(w.hc.CloseIdleConnections)
	return w
}

func (w *koreanWeb) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := w.hc.Get(w.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// call reads a call record from the store's API (/api/calls/ID) or the web
// view's (/api/ui/calls/ID, which wraps it with whether the call is live).
func (w *koreanWeb) call(t *testing.T, path string) msg.CallRecord {
	t.Helper()
	if strings.HasPrefix(path, "/api/ui/") {
		var view struct {
			Record msg.CallRecord `json:"record"`
		}
		w.get(t, path, &view)
		return view.Record
	}
	var rec msg.CallRecord
	w.get(t, path, &rec)
	return rec
}
