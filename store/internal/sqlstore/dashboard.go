package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

// Dashboard implements store.Reader: two aggregate queries, each one range
// scan of an index by start time (calls_dashboard for the figures,
// call_tags_dashboard for the shares of categories and alerts), grouped by
// bucket and group in SQL.
func (s *Store) Dashboard(ctx context.Context, q msg.DashboardQuery) (msg.Dashboard, error) {
	b, err := store.CheckDashboardQuery(&q)
	if err != nil {
		return msg.Dashboard{}, err
	}
	var d msg.Dashboard
	if dim, key, ok := rollupOf(q, b); ok && s.rollsUp(ctx, q.TZOffsetMinutes) {
		d, err = s.dashboardDays(ctx, q, b, dim, key)
	} else {
		d, err = s.dashboard(ctx, q, b)
	}
	if err != nil {
		return msg.Dashboard{}, fmt.Errorf("%s store: dashboard: %w", s.d.Name, err)
	}
	return d, nil
}

type rowKey struct {
	bucket int64
	group  string
}

// dashboardWhere selects the ended calls of q (alias t: calls or
// call_tags, whose ended column is the flag ended) and returns the bucket
// and group expressions and the parameters, the bucket's first.
func dashboardWhere(q msg.DashboardQuery, b store.Buckets, ended string) (bucket, group, where string, args []any) {
	group = `''`
	switch q.GroupBy {
	case msg.GroupAgent:
		group = `t.agent`
	case msg.GroupQueue:
		group = `t.queue`
	}
	bucket = `(t.started_at + CAST(? AS BIGINT)) / CAST(? AS BIGINT)`
	where = `t.started_at >= ? AND t.started_at < ? AND ` + ended
	args = []any{b.Shift, b.Width, q.From.UnixMilli(), q.To.UnixMilli()}
	if q.Agent != "" {
		where += ` AND t.agent = ?`
		args = append(args, q.Agent)
	}
	if q.Queue != "" {
		where += ` AND t.queue = ?`
		args = append(args, q.Queue)
	}
	return bucket, group, where, args
}

func (s *Store) dashboard(ctx context.Context, q msg.DashboardQuery, b store.Buckets) (msg.Dashboard, error) {
	out := msg.Dashboard{Query: q, Rows: []msg.DashboardRow{}, Categories: []string{}, Alerts: []string{}}
	at := map[rowKey]int{}
	bucket, group, where, args := dashboardWhere(q, b, `t.ended_at IS NOT NULL`)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT d.bk, d.grp, COUNT(*),
		CAST(AVG(d.dur) AS DOUBLE PRECISION),
		CAST(AVG(d.customer_sentiment) AS DOUBLE PRECISION), CAST(AVG(d.customer_shift) AS DOUBLE PRECISION),
		SUM(d.hc),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.dur END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.non_talk_ms END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.agent_talk_ms END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.agent_talk_ms + d.customer_talk_ms END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.interruptions END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.agent_interruptions END) AS DOUBLE PRECISION),
		CAST(AVG(d.agent_wpm) AS DOUBLE PRECISION),
		SUM(d.csat_n), SUM(d.csat_good), SUM(d.nps_n), SUM(d.nps_prom), SUM(d.nps_det)
		FROM (SELECT `+bucket+` AS bk, `+group+` AS grp,
			CASE WHEN t.duration_ms > 0 THEN t.duration_ms ELSE t.ended_at - t.started_at END AS dur,
			CASE WHEN t.characteristics_at >= 0 THEN 1 ELSE 0 END AS hc,
			t.non_talk_ms, t.agent_talk_ms, t.customer_talk_ms, t.interruptions, t.agent_interruptions, t.agent_wpm,
			t.customer_sentiment, t.customer_shift, t.csat_n, t.csat_good, t.nps_n, t.nps_prom, t.nps_det
			FROM calls t WHERE `+where+`) d
		GROUP BY d.bk, d.grp ORDER BY d.bk, d.grp`), args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k                                      rowKey
			r                                      msg.DashboardRow
			sent, shift, dur, nonTalk, agent, talk sql.NullFloat64
			interruptions, agentInterruptions, wpm sql.NullFloat64
			withChars                              int
			sv                                     survey
		)
		if err := rows.Scan(&k.bucket, &k.group, &r.Calls, &r.AvgHandleMS, &sent, &shift, &withChars,
			&dur, &nonTalk, &agent, &talk, &interruptions, &agentInterruptions, &wpm,
			&sv.csatN, &sv.csatGood, &sv.npsN, &sv.npsProm, &sv.npsDet); err != nil {
			return out, err
		}
		sv.fill(&r)
		r.Bucket, r.Group = b.Start(k.bucket), k.group
		r.CustomerSentiment, r.CustomerShift, r.AgentTalkSpeedWPM = ptr(sent), ptr(shift), ptr(wpm)
		r.NonTalkShare = ratio(nonTalk, dur.Float64)
		r.AgentTalkShare = ratio(agent, talk.Float64)
		r.InterruptionsPerCall = ratio(interruptions, float64(withChars))
		r.AgentInterruptionsPerCall = ratio(agentInterruptions, float64(withChars))
		at[k] = len(out.Rows)
		out.Rows = append(out.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	rows.Close()

	bucket, group, where, args = dashboardWhere(q, b, `t.ended = 1`)
	return s.dashboardTags(ctx, out, at, `SELECT `+bucket+` AS bk, `+group+` AS grp, t.kind, t.name, COUNT(*)
		FROM call_tags t WHERE `+where+` GROUP BY bk, grp, t.kind, t.name`, args)
}

// dashboardTags fills the shares of categories and alerts of out's rows
// (at: the index of each) from query, which returns each row's bucket,
// group, kind, name and number of calls.
func (s *Store) dashboardTags(ctx context.Context, out msg.Dashboard, at map[rowKey]int, query string, args []any) (msg.Dashboard, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return out, fmt.Errorf("categories and alerts: %w", err)
	}
	defer rows.Close()
	cats, alerts := map[string]bool{}, map[string]bool{}
	for rows.Next() {
		var k rowKey
		var kind, name string
		var n int
		if err := rows.Scan(&k.bucket, &k.group, &kind, &name, &n); err != nil {
			return out, fmt.Errorf("categories and alerts: %w", err)
		}
		i, ok := at[k]
		if !ok {
			continue // a call that ended between the queries
		}
		r := &out.Rows[i]
		share := float64(n) / float64(r.Calls)
		switch kind {
		case "category":
			if r.Categories == nil {
				r.Categories = map[string]float64{}
			}
			r.Categories[name] = share
			cats[name] = true
		case "alert":
			if r.Alerts == nil {
				r.Alerts = map[string]float64{}
			}
			r.Alerts[name] = share
			alerts[name] = true
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("categories and alerts: %w", err)
	}
	out.Categories, out.Alerts = slices.Sorted(maps.Keys(cats)), slices.Sorted(maps.Keys(alerts))
	return out, nil
}

func ptr(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	return &v.Float64
}

// ratio is part/whole, nil when there is nothing to divide.
func ratio(part sql.NullFloat64, whole float64) *float64 {
	if !part.Valid || whole <= 0 {
		return nil
	}
	v := part.Float64 / whole
	return &v
}

// survey is what a row's survey figures are computed from.
type survey struct{ csatN, csatGood, npsN, npsProm, npsDet sql.NullInt64 }

func (sv survey) fill(r *msg.DashboardRow) {
	r.CSATAnswers, r.NPSAnswers = int(sv.csatN.Int64), int(sv.npsN.Int64)
	if r.CSATAnswers > 0 {
		v := float64(sv.csatGood.Int64) / float64(r.CSATAnswers)
		r.CSAT = &v
	}
	if r.NPSAnswers > 0 {
		v := 100 * float64(sv.npsProm.Int64-sv.npsDet.Int64) / float64(r.NPSAnswers)
		r.NPS = &v
	}
}

// rollupOf says which rollup dimension answers q, and the key it keeps
// (or ""): q must start and end at midnight on its clock and filter by at
// most the dimension it groups by.
func rollupOf(q msg.DashboardQuery, b store.Buckets) (dim, key string, ok bool) {
	shift := int64(q.TZOffsetMinutes) * 60000
	if (q.From.UnixMilli()+shift)%dayMS != 0 || (q.To.UnixMilli()+shift)%dayMS != 0 {
		return "", "", false
	}
	switch {
	case q.Agent != "" && q.Queue != "":
		return "", "", false
	case q.GroupBy == msg.GroupAgent && q.Queue == "", q.GroupBy == msg.GroupOverall && q.Agent != "":
		return "agent", q.Agent, true
	case q.GroupBy == msg.GroupQueue && q.Agent == "", q.GroupBy == msg.GroupOverall && q.Queue != "":
		return "queue", q.Queue, true
	case q.GroupBy == msg.GroupOverall:
		return "all", "", true
	}
	return "", "", false
}

const dayMS = 24 * 60 * 60 * 1000

// dashboardDays answers q from the daily rollups of dim (keeping key when
// set).
func (s *Store) dashboardDays(ctx context.Context, q msg.DashboardQuery, b store.Buckets, dim, key string) (msg.Dashboard, error) {
	out := msg.Dashboard{Query: q, Rows: []msg.DashboardRow{}, Categories: []string{}, Alerts: []string{}}
	at := map[rowKey]int{}
	group := `r.key`
	if q.GroupBy == msg.GroupOverall {
		group = `''`
	}
	where := `r.tz = ? AND r.dim = ? AND r.day >= ? AND r.day < ?`
	args := []any{b.Shift, b.Width, q.TZOffsetMinutes, dim, q.From.UnixMilli(), q.To.UnixMilli()}
	if key != "" {
		where += ` AND r.key = ?`
		args = append(args, key)
	}
	bucket := `(r.day + CAST(? AS BIGINT)) / CAST(? AS BIGINT)`
	var sums []string
	for _, c := range rollupColumns {
		sums = append(sums, `SUM(r.`+c[0]+`)`)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+bucket+` AS bk, `+group+` AS grp, `+strings.Join(sums, ", ")+`
		FROM dashboard_days r WHERE `+where+` GROUP BY bk, grp HAVING SUM(r.calls) > 0 ORDER BY bk, grp`), args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k                                                  rowKey
			r                                                  msg.DashboardRow
			calls, dur, sentN, hc, hcDur, nonTalk, agent, talk int64
			ints, agentInts, wpmN                              int64
			sent, shift, wpm                                   float64
			sv                                                 survey
		)
		if err := rows.Scan(&k.bucket, &k.group, &calls, &dur, &sentN, &sent, &shift, &hc, &hcDur, &nonTalk, &agent, &talk,
			&ints, &agentInts, &wpmN, &wpm, &sv.csatN, &sv.csatGood, &sv.npsN, &sv.npsProm, &sv.npsDet); err != nil {
			return out, err
		}
		r.Bucket, r.Group, r.Calls = b.Start(k.bucket), k.group, int(calls)
		r.AvgHandleMS = float64(dur) / float64(calls)
		if sentN > 0 {
			r.CustomerSentiment, r.CustomerShift = mean(sent, sentN), mean(shift, sentN)
		}
		if wpmN > 0 {
			r.AgentTalkSpeedWPM = mean(wpm, wpmN)
		}
		if hc > 0 {
			r.NonTalkShare = ratio(sql.NullFloat64{Float64: float64(nonTalk), Valid: true}, float64(hcDur))
			r.AgentTalkShare = ratio(sql.NullFloat64{Float64: float64(agent), Valid: true}, float64(talk))
			r.InterruptionsPerCall, r.AgentInterruptionsPerCall = mean(float64(ints), hc), mean(float64(agentInts), hc)
		}
		sv.fill(&r)
		at[k] = len(out.Rows)
		out.Rows = append(out.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	rows.Close()
	return s.dashboardTags(ctx, out, at, `SELECT `+bucket+` AS bk, `+group+` AS grp, r.kind, r.name, SUM(r.calls)
		FROM dashboard_day_tags r WHERE `+where+` GROUP BY bk, grp, r.kind, r.name HAVING SUM(r.calls) > 0`, args)
}

func mean(sum float64, n int64) *float64 {
	v := sum / float64(n)
	return &v
}
