package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

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
	d, err := s.dashboard(ctx, q, b)
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
		CAST(AVG(d.agent_wpm) AS DOUBLE PRECISION)
		FROM (SELECT `+bucket+` AS bk, `+group+` AS grp,
			CASE WHEN t.duration_ms > 0 THEN t.duration_ms ELSE t.ended_at - t.started_at END AS dur,
			CASE WHEN t.characteristics_at >= 0 THEN 1 ELSE 0 END AS hc,
			t.non_talk_ms, t.agent_talk_ms, t.customer_talk_ms, t.interruptions, t.agent_interruptions, t.agent_wpm,
			t.customer_sentiment, t.customer_shift
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
		)
		if err := rows.Scan(&k.bucket, &k.group, &r.Calls, &r.AvgHandleMS, &sent, &shift, &withChars,
			&dur, &nonTalk, &agent, &talk, &interruptions, &agentInterruptions, &wpm); err != nil {
			return out, err
		}
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
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT `+bucket+` AS bk, `+group+` AS grp, t.kind, t.name, COUNT(*)
		FROM call_tags t WHERE `+where+` GROUP BY bk, grp, t.kind, t.name`), args...)
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
