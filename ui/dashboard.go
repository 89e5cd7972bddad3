package ui

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/earshot-dev/earshot/msg"
)

// defaultDashboardDays is the range a dashboard shows without from.
const defaultDashboardDays = 30

// parseDashboard reads a dashboard query from URL query parameters:
//
//	from to (RFC 3339 or YYYY-MM-DD; default the last 30 days)
//	step (day, week) group_by (overall, agent, queue) agent queue
//	tz_offset_minutes
//
// The store checks the rest (msg.ErrBadQuery).
func parseDashboard(v url.Values, now time.Time) (msg.DashboardQuery, error) {
	q := msg.DashboardQuery{Step: v.Get("step"), GroupBy: v.Get("group_by"), Agent: v.Get("agent"), Queue: v.Get("queue")}
	for _, name := range []string{"agent", "queue"} {
		if s := v.Get(name); len(s) > 200 || !utf8.ValidString(s) {
			return q, fmt.Errorf("%s: at most 200 bytes of UTF-8", name)
		}
	}
	if s := v.Get("tz_offset_minutes"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, fmt.Errorf("tz_offset_minutes: %q is not a whole number of minutes", s)
		}
		q.TZOffsetMinutes = n
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := v.Get(t.name)
		if s == "" {
			continue
		}
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if tm, err = time.Parse(time.DateOnly, s); err != nil {
				return q, fmt.Errorf("%s: %q is not a time like 2026-01-02T15:04:05Z or a date like 2026-01-02", t.name, s)
			}
			tm = tm.Add(-time.Duration(q.TZOffsetMinutes) * time.Minute)
		}
		*t.dst = tm
	}
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-defaultDashboardDays * 24 * time.Hour)
	}
	return q, nil
}

// handleDashboard answers GET /api/ui/dashboard: the store's figures as
// JSON, or with format=csv the table behind them. An agent sees their own
// calls only, whatever the agent parameter says.
func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Store == nil {
		writeErrorKey(w, http.StatusServiceUnavailable, "err.no_store_dashboard", nil, "dashboards are not available: no store is connected")
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		writeErrorKey(w, http.StatusBadRequest, "err.bad_dashboard", map[string]any{"detail": "format: want json or csv"}, "dashboard: format: want json or csv")
		return
	}
	q, err := parseDashboard(r.URL.Query(), time.Now())
	if err == nil {
		if a := agentFilter(me(r)); a != "" {
			q.Agent = a
		}
		var d msg.Dashboard
		if d, err = s.cfg.Store.Dashboard(r.Context(), q); err == nil {
			if format == "csv" {
				writeDashboardCSV(w, d)
				return
			}
			writeJSON(w, http.StatusOK, d)
			return
		}
		if !errors.Is(err, msg.ErrBadQuery) {
			s.log.Error("dashboard failed", "err", err)
			writeErrorKey(w, http.StatusBadGateway, "err.store_failed", nil, "the store failed to answer")
			return
		}
	}
	writeErrorKey(w, http.StatusBadRequest, "err.bad_dashboard", map[string]any{"detail": err.Error()}, "dashboard: "+err.Error())
}

// writeDashboardCSV writes the rows behind a dashboard's charts: one line
// per bucket and group, a column per figure, category and alert rule.
func writeDashboardCSV(w http.ResponseWriter, d msg.Dashboard) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="earshot-dashboard.csv"`)
	cw := csv.NewWriter(w)
	head := []string{"bucket", "group", "calls", "avg_handle_s", "customer_sentiment", "customer_shift", "non_talk_share",
		"agent_talk_share", "interruptions_per_call", "agent_interruptions_per_call", "agent_talk_speed_wpm",
		"csat", "csat_answers", "nps", "nps_answers"}
	for _, k := range d.Categories {
		head = append(head, "category:"+k)
	}
	for _, a := range d.Alerts {
		head = append(head, "alert:"+a)
	}
	_ = cw.Write(head)
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return num(*v)
	}
	for _, row := range d.Rows {
		line := []string{row.Bucket.Format(time.RFC3339), csvSafe(row.Group), strconv.Itoa(row.Calls), num(row.AvgHandleMS / 1000),
			opt(row.CustomerSentiment), opt(row.CustomerShift), opt(row.NonTalkShare), opt(row.AgentTalkShare),
			opt(row.InterruptionsPerCall), opt(row.AgentInterruptionsPerCall), opt(row.AgentTalkSpeedWPM),
			opt(row.CSAT), strconv.Itoa(row.CSATAnswers), opt(row.NPS), strconv.Itoa(row.NPSAnswers)}
		for _, k := range d.Categories {
			line = append(line, num(row.Categories[k]))
		}
		for _, a := range d.Alerts {
			line = append(line, num(row.Alerts[a]))
		}
		_ = cw.Write(line)
	}
	cw.Flush()
}

// csvSafe keeps a spreadsheet from reading a name as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}
