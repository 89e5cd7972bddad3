package ui

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

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
