package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/earshot-dev/earshot/msg"
)

// An agent's dashboard counts their own calls whatever they ask for; a
// supervisor's counts everyone's or the agent asked for; the CSV is the
// same table.
func TestDashboardAPI(t *testing.T) {
	ts := startTestServer(t, Config{}, accessRecords()...)
	get := func(user, path string) (int, msg.Dashboard, string) {
		t.Helper()
		resp, b := ts.login(t, user).do("GET", path, nil, nil)
		var d msg.Dashboard
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatalf("%s: %v: %s", path, err, b)
			}
		}
		return resp.StatusCode, d, string(b)
	}
	for _, tc := range []struct {
		user, path string
		agent      string
		calls      int
	}{
		{"ann", "/api/ui/dashboard", "ann", 1},
		{"ann", "/api/ui/dashboard?agent=bob", "ann", 1},
		{"sue", "/api/ui/dashboard", "", 2},
		{"sue", "/api/ui/dashboard?agent=bob&group_by=agent&step=week", "bob", 1},
	} {
		status, d, body := get(tc.user, tc.path)
		if status != http.StatusOK || d.Query.Agent != tc.agent || len(d.Rows) != 1 || d.Rows[0].Calls != tc.calls {
			t.Errorf("%s %s: %d agent %q rows %+v, want agent %q and %d calls: %s", tc.user, tc.path, status, d.Query.Agent, d.Rows, tc.agent, tc.calls, body)
		}
	}
	_, d, _ := get("sue", "/api/ui/dashboard?from=2026-11-02&to=2026-11-09T00:00:00Z&tz_offset_minutes=540")
	if want := time.Date(2026, 11, 1, 15, 0, 0, 0, time.UTC); !d.Query.From.Equal(want) || d.Query.TZOffsetMinutes != 540 {
		t.Errorf("from a date nine hours east of UTC: %s (%d), want %s", d.Query.From, d.Query.TZOffsetMinutes, want)
	}
	for _, path := range []string{
		"/api/ui/dashboard?step=month", "/api/ui/dashboard?from=yesterday",
		"/api/ui/dashboard?tz_offset_minutes=x", "/api/ui/dashboard?format=xml",
	} {
		status, _, body := get("sue", path)
		if status != http.StatusBadRequest || !strings.Contains(body, `"err.bad_dashboard"`) {
			t.Errorf("%s: %d %s, want 400 with err.bad_dashboard", path, status, body)
		}
	}
	resp, b := ts.login(t, "ann").do("GET", "/api/ui/dashboard?format=csv&agent=bob", nil, nil)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "bucket,group,calls,avg_handle_s,") || !strings.HasSuffix(lines[0], ",category:refund") ||
		!strings.Contains(lines[1], `,,1,0,`) || !strings.HasSuffix(lines[1], ",1") {
		t.Errorf("csv %q:\n%s", resp.Header.Get("Content-Type"), b)
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{"ann": "ann", "=SUM(A1)": "'=SUM(A1)", "+1": "'+1", "-x": "'-x", "@y": "'@y", "": ""} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// dashStore answers dashboards with two weeks of figures for three
// agents (the store's SQL is tested in store/storetest).
type dashStore struct{ *memStore }

func (s dashStore) Dashboard(_ context.Context, q msg.DashboardQuery) (msg.Dashboard, error) {
	d := msg.Dashboard{Query: q, Categories: []string{"refund"}, Alerts: []string{"angry customer"}}
	day := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	for i := range 14 {
		for k, agent := range []string{"ann", "bob", "chen"} {
			if q.Agent != "" && q.Agent != agent {
				continue
			}
			f := func(v float64) *float64 { return &v }
			x := float64(i)
			d.Rows = append(d.Rows, msg.DashboardRow{Bucket: day.AddDate(0, 0, i), Group: agent, Calls: 20 + 3*k + i%4,
				AvgHandleMS: 240000 + 30000*float64(k) + 5000*x, CustomerSentiment: f(0.8 - 0.6*float64(k) + 0.05*x), CustomerShift: f(0.3),
				NonTalkShare: f(0.1 + 0.03*float64(k)), AgentTalkShare: f(0.55), InterruptionsPerCall: f(1.2), AgentInterruptionsPerCall: f(0.4 + 0.2*float64(k)),
				AgentTalkSpeedWPM: f(140 + 10*float64(k)), Categories: map[string]float64{"refund": 0.2}, Alerts: map[string]float64{"angry customer": 0.05 * float64(k+1)},
				CSAT: f(0.9 - 0.15*float64(k) - 0.01*x), CSATAnswers: 10 + i%3, NPS: f(40 - 25*float64(k) + x), NPSAnswers: 8 + k})
		}
	}
	return d, nil
}

func TestBrowserDashboard(t *testing.T) {
	ctx := browser(t)
	ts := startTestServer(t, Config{Store: dashStore{newMemStore(accessRecords()...)}}, accessRecords()...)
	base := ts.http.URL
	browserLogin(t, ctx, base, "sue", "/search")
	do(t, ctx, "open the dashboard per agent", chromedp.Navigate(base+"/dashboard?group_by=agent&from=2026-11-16&to=2026-11-29&metric=customer_sentiment"))
	waitFor(t, ctx, "both charts drawn", `document.querySelectorAll('svg.chart').length === 2 && document.querySelectorAll('#trend polyline.series').length === 3`)
	waitFor(t, ctx, "a legend, ranked bars and the tables", `document.querySelectorAll('.legend li').length === 3 && document.querySelectorAll('#ranked rect.bar').length === 3
		&& document.querySelectorAll('#trend-table tbody tr').length === 42 && document.querySelector('#ranked-table tbody td:nth-child(2)').textContent === 'ann'`)
	waitFor(t, ctx, "axes with units", `[...document.querySelectorAll('#trend .axis-label')].some(e => e.textContent === 'Customer sentiment (-5 to +5)')`)
	waitFor(t, ctx, "the CSV link keeps the query", `document.querySelector('#csv').getAttribute('href').includes('group_by=agent') && document.querySelector('#csv').getAttribute('href').endsWith('format=csv')`)
	do(t, ctx, "open the tables", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details').forEach(d => d.open = true)`))
	fullShot(t, ctx, "dashboard-sentiment")
	do(t, ctx, "rank by average handle time", chromedp.SetValue("#metric", "avg_handle_ms"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#metric').dispatchEvent(new Event('change'))`))
	waitFor(t, ctx, "chen ranked first in minutes", `document.querySelector('#ranked-table tbody td:nth-child(2)').textContent === 'chen' && [...document.querySelectorAll('#ranked .axis-label')].some(e => e.textContent === 'Average handle time (minutes)')`)
	waitFor(t, ctx, "category and alert shares offered", `[...document.querySelectorAll('#metric option')].some(o => o.value === 'alert:angry customer')`)
	fullShot(t, ctx, "dashboard-handle-time")
	do(t, ctx, "rank by CSAT", chromedp.SetValue("#metric", "csat"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#metric').dispatchEvent(new Event('change'))`))
	waitFor(t, ctx, "ann ranked first in CSAT, in percent", `document.querySelector('#ranked-table tbody td:nth-child(2)').textContent === 'ann' && document.querySelector('#ranked-table tbody td:nth-child(4)').textContent === '83.5' && [...document.querySelectorAll('#ranked .axis-label')].some(e => e.textContent === 'CSAT (answers of 4–5 on 1–5) (% of answers)')`)
	fullShot(t, ctx, "dashboard-csat")
	do(t, ctx, "rank by NPS", chromedp.SetValue("#metric", "nps"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#metric').dispatchEvent(new Event('change'))`))
	waitFor(t, ctx, "chen last in NPS, below zero", `document.querySelector('#ranked-table tbody tr:last-child td:nth-child(2)').textContent === 'chen' && document.querySelector('#ranked-table tbody tr:last-child td:nth-child(4)').textContent.startsWith('-')`)
	fullShot(t, ctx, "dashboard-nps")

	// An agent's dashboard is theirs.
	browserLogin(t, ctx, base, "ann", "/search")
	do(t, ctx, "open the dashboard as an agent", chromedp.Navigate(base+"/dashboard?group_by=agent&from=2026-11-16&to=2026-11-29"))
	waitFor(t, ctx, "only ann's line", `document.querySelectorAll('#trend polyline.series').length === 1 && document.querySelector('#agent').disabled && document.querySelector('.legend li').textContent === 'ann'`)
	fullShot(t, ctx, "dashboard-agent")
}
