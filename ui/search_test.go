package ui

import (
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

func TestParseSearch(t *testing.T) {
	ok := func(raw string, check func(q msg.SearchQuery) bool) {
		t.Helper()
		v, _ := url.ParseQuery(raw)
		q, err := parseSearch(v)
		if err != nil || !check(q) {
			t.Errorf("%s: %+v, %v", raw, q, err)
		}
	}
	ok(`q=%22cancel+my+account%22+OR+refund*&agent=ann&queue=billing&leg=customer&has_alert=true&min_sentiment=-2.5&limit=50&offset=10&attr=region%3Deu&from=2026-01-02T15:04:05Z&min_non_talk_ms=3000`,
		func(q msg.SearchQuery) bool {
			return q.Text == `"cancel my account" OR refund*` && q.Agent == "ann" && q.Queue == "billing" && q.Leg == msg.RoleCustomer &&
				*q.HasAlert && *q.MinSentiment == -2.5 && q.Limit == 50 && q.Offset == 10 && q.Attributes["region"] == "eu" &&
				q.From.Year() == 2026 && q.MinNonTalkMS == 3000
		})
	ok(``, func(q msg.SearchQuery) bool { return q.Text == "" && q.From == nil && q.HasAlert == nil })
	ok(`min_score=60&max_score=90.5&csat=4`, func(q msg.SearchQuery) bool {
		return *q.MinScore == 60 && *q.MaxScore == 90.5 && *q.CSAT == 4
	})
	for raw, param := range map[string]string{
		"from=yesterday": "from",
		"from=2026-01-02T00:00:00Z&to=2025-01-01T00:00:00Z": "to",
		"leg=boss":                          "leg",
		"has_alert=maybe":                   "has_alert",
		"min_sentiment=lots":                "min_sentiment",
		"max_shift=99":                      "max_shift",
		"min_score=101":                     "min_score",
		"max_score=x":                       "max_score",
		"csat=0":                            "csat",
		"limit=1000":                        "limit",
		"offset=-1":                         "offset",
		"attr=novalue":                      "attr",
		"q=" + strings.Repeat("a", 1001):    "q",
		"agent=" + strings.Repeat("a", 201): "agent",
	} {
		v, _ := url.ParseQuery(raw)
		if _, err := parseSearch(v); err == nil || !strings.HasPrefix(err.Error(), param+":") {
			t.Errorf("%.40s: error %v, want one naming %s", raw, err, param)
		}
	}
}

func TestSplitHighlights(t *testing.T) {
	join := func(ps []part) string {
		var b strings.Builder
		for _, p := range ps {
			if p.Hit {
				b.WriteString("[" + p.Text + "]")
			} else {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	for _, tc := range []struct {
		text string
		hl   [][2]int
		want string
	}{
		{"cancel my account", [][2]int{{0, 6}, {10, 17}}, "[cancel] my [account]"},
		{"cancel my account", [][2]int{{10, 17}, {0, 6}}, "[cancel] my [account]"},
		{"cancel my account", [][2]int{{0, 9}, {3, 12}}, "[cancel my ac]count"},
		{"cancel my account", [][2]int{{0, 6}, {6, 9}}, "[cancel my] account"},
		{"cancel", [][2]int{{-5, 3}, {4, 99}}, "[can]c[el]"},
		{"cancel", [][2]int{{4, 2}}, "cancel"},
		{"계좌를 확인", [][2]int{{1, 5}}, "[계좌]를 확인"},
		{"", [][2]int{{0, 1}}, ""},
		{"<script>", [][2]int{{1, 7}}, "<[script]>"},
	} {
		if got := join(splitHighlights(tc.text, tc.hl)); got != tc.want {
			t.Errorf("splitHighlights(%q, %v) = %q, want %q", tc.text, tc.hl, got, tc.want)
		}
	}
}

func FuzzParseSearch(f *testing.F) {
	f.Add("q=hello&from=2026-01-02T15:04:05Z&limit=5&attr=a%3Db")
	f.Add("leg=agent&has_alert=1&min_sentiment=-1")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseSearch(v)
		if err != nil {
			return
		}
		if q.Limit < 0 || q.Limit > 100 || q.Offset < 0 || len(q.Text) > maxQueryLen || q.Leg != "" && !q.Leg.Valid() {
			t.Fatalf("accepted out-of-range query %+v", q)
		}
	})
}

func FuzzSplitHighlights(f *testing.F) {
	f.Add("cancel my account", 0, 6, 10, 17)
	f.Add("계좌를 확인", 1, 5, -1, 100)
	f.Fuzz(func(t *testing.T, text string, a, b, c, d int) {
		ps := splitHighlights(text, [][2]int{{a, b}, {c, d}})
		var sb strings.Builder
		for i, p := range ps {
			if i > 0 && p.Text == "" {
				t.Fatalf("empty part in %+v", ps)
			}
			if i > 0 && p.Hit && ps[i-1].Hit {
				t.Fatalf("adjacent hits not merged: %+v", ps)
			}
			sb.WriteString(p.Text)
		}
		if sb.String() != text {
			t.Fatalf("parts %+v do not make %q", ps, text)
		}
	})
}

// TestSearchAPI: results come with parts; bad syntax is the user's error.
func TestSearchAPI(t *testing.T) {
	ts := startTestServer(t, Config{}, accessRecords()...)
	c := ts.login(t, "quinn")
	resp, b := c.do("GET", "/api/ui/search?q=hello", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"parts":[{"t":"hello","hit":true}`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	for q, want := range map[string]int{"q=((": 400, "limit=x": 400} {
		if resp, b := c.do("GET", "/api/ui/search?"+q, nil, nil); resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", q, resp.StatusCode, b, want)
		}
	}
	if _, err := ts.store.Search(t.Context(), msg.SearchQuery{Text: "(("}); !errors.Is(err, msg.ErrBadQuery) {
		t.Fatal("memStore should refuse ((")
	}
}

// TestUnavailable: without store and rules the API says so.
func TestUnavailable(t *testing.T) {
	srv, err := New(Config{BcryptCost: 4, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddUser("root", testPassword, RoleAdmin, ""); err != nil {
		t.Fatal(err)
	}
	tok, _ := srv.NewToken("root")
	for path, want := range map[string]int{
		"/api/ui/search?q=x": 503, "/api/ui/rules": 503, "/api/ui/rules/history": 503, "/api/ui/calls/nope": 404,
		"/api/ui/calls/bad%20id": 400,
	} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: %d %s, want %d", path, rec.Code, rec.Body, want)
		}
	}
}
