package store_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

func TestHTTPAPI(t *testing.T) {
	s := openSQLite(t)
	ctx := context.Background()
	if err := s.PutCall(ctx, msg.CallEvent{CallID: "h1", Kind: msg.CallStarted, Time: t0, StartedAt: t0, Agent: "alice", Attributes: map[string]string{"tier": "gold"}}); err != nil {
		t.Fatal(err)
	}
	seg := msg.StoredSegment{Segment: msg.Segment{ID: "h1/customer/1/0", CallID: "h1", Leg: msg.RoleCustomer, StartMS: 61000, Text: "I want a refund for [PII]"}, Original: "I want a refund for 4111111111111111"}
	if err := s.PutSegment(ctx, seg); err != nil {
		t.Fatal(err)
	}
	h, err := store.NewHandler(store.HandlerConfig{Reader: s, Original: func(r *http.Request) bool { return r.Header.Get("X-Role") == "auditor" }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string, hdr ...string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if len(hdr) == 2 {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", path, ct)
		}
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode, body
	}

	code, body := get("/api/search?q=" + url.QueryEscape(`"a refund"`) + "&agent=alice&attr=tier:gold&limit=5")
	if code != 200 || body["total"].(float64) != 1 {
		t.Fatalf("search: %d %v", code, body)
	}
	score := 75.0
	if err := s.PutEvaluation(ctx, msg.Evaluation{CallID: "h1", Form: "qa", ScoredAt: t0, Score: &score,
		Answers: []msg.EvaluatedAnswer{{Question: "greeting", Value: "yes"}}}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]float64{
		"/api/search?min_score=70&answer=greeting:yes": 1, "/api/search?max_score=70": 0, "/api/search?answer=greeting:no": 0,
	} {
		if code, body := get(path); code != 200 || body["total"].(float64) != want {
			t.Errorf("%s: %d %v, want %g calls", path, code, body, want)
		}
	}
	var res msg.SearchResults
	b, _ := json.Marshal(body)
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	sn := res.Hits[0].Snippets[0]
	if sn.StartMS != 61000 || sn.Text[sn.Highlights[0][0]:sn.Highlights[0][1]] != "a" || sn.Text[sn.Highlights[1][0]:sn.Highlights[1][1]] != "refund" {
		t.Errorf("snippet = %+v", sn)
	}
	for path, want := range map[string]string{
		"/api/search?q=" + url.QueryEscape("refund AND"): "column 11",
		"/api/search?leg=boss":                           `leg "boss"`,
		"/api/search?from=yesterday":                     `from "yesterday"`,
		"/api/search?colour=red":                         `unknown parameter "colour"`,
		"/api/search?min_sentiment=9":                    "min_sentiment",
		"/api/search?min_score=120":                      `min_score "120"`,
		"/api/search?answer=greeting":                    `answer "greeting": want question:answer`,
		"/api/search?min_score=60&max_score=50":          "min_score 60 is above max_score 50",
		"/api/calls/h1?original=maybe":                   "original",
		"/api/search?q=" + url.QueryEscape(strings.Repeat("refund ", 100)+"a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7"): "searches for 34 words, at most 32",
	} {
		code, body := get(path)
		if code != 400 || !strings.Contains(body["error"].(string), want) {
			t.Errorf("%s: %d %v, want 400 mentioning %q", path, code, body, want)
		}
	}
	if code, _ := get("/api/calls/nope"); code != 404 {
		t.Errorf("unknown call: %d", code)
	}
	code, body = get("/api/calls/h1")
	// The whole number: a call still open has a duration that grows with the
	// clock, and its digits can hold any shorter run (CI once saw 2441119626).
	if code != 200 || strings.Contains(toJSON(body), "4111111111111111") || !strings.Contains(toJSON(body), "[PII]") {
		t.Errorf("call: %d %v", code, body)
	}
	if code, _ := get("/api/calls/h1?original=true"); code != 403 {
		t.Errorf("original without the role: %d, want 403", code)
	}
	code, body = get("/api/calls/h1?original=true", "X-Role", "auditor")
	if code != 200 || !strings.Contains(toJSON(body), "4111111111111111") {
		t.Errorf("original with the role: %d %v", code, body)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func FuzzParseSearchValues(f *testing.F) {
	f.Add("q=refund&agent=alice&from=2026-11-02&min_sentiment=-2&attr=tier:gold&limit=5")
	f.Add("has_alert=maybe&offset=-1")
	f.Add("min_score=50&max_score=90&answer=greeting:yes&answer=resolved:Partly")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := store.ParseSearchValues(v)
		if err != nil {
			if !strings.Contains(err.Error(), msg.ErrBadQuery.Error()) {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > store.MaxLimit || q.Offset < 0 {
			t.Fatalf("%q: limit %d offset %d", raw, q.Limit, q.Offset)
		}
	})
}
