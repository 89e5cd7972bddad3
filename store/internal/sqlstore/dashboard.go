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

// Dashboard implements store.Reader: three aggregate queries over the same
// selection of calls (the figures, the categories, the alerts), each
// grouped by bucket and group in SQL.
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

func (s *Store) dashboard(ctx context.Context, q msg.DashboardQuery, b store.Buckets) (msg.Dashboard, error) {
	group := `''`
	switch q.GroupBy {
	case msg.GroupAgent:
		group = `c.agent`
	case msg.GroupQueue:
		group = `c.queue`
	}
	// The selected calls, one row each with its bucket and group.
	sel := `(SELECT c.id, (c.started_at + CAST(? AS BIGINT)) / CAST(? AS BIGINT) AS bk, ` + group + ` AS grp,
		CASE WHEN c.duration_ms > 0 THEN c.duration_ms ELSE c.ended_at - c.started_at END AS dur,
		CASE WHEN c.characteristics_at >= 0 THEN 1 ELSE 0 END AS hc,
		c.non_talk_ms, c.agent_talk_ms, c.customer_talk_ms, c.interruptions, c.agent_interruptions, c.agent_wpm
		FROM calls c WHERE c.started_at >= ? AND c.started_at < ? AND c.ended_at IS NOT NULL`
	args := []any{b.Shift, b.Width, q.From.UnixMilli(), q.To.UnixMilli()}
	if q.Agent != "" {
		sel += ` AND c.agent = ?`
		args = append(args, q.Agent)
	}
	if q.Queue != "" {
		sel += ` AND c.queue = ?`
		args = append(args, q.Queue)
	}
	sel += `) d`

	out := msg.Dashboard{Query: q, Rows: []msg.DashboardRow{}, Categories: []string{}, Alerts: []string{}}
	at := map[rowKey]int{}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT d.bk, d.grp, COUNT(*),
		CAST(AVG(d.dur) AS DOUBLE PRECISION),
		CAST(AVG(cs.overall) AS DOUBLE PRECISION), CAST(AVG(cs.shift) AS DOUBLE PRECISION),
		SUM(d.hc),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.dur END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.non_talk_ms END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.agent_talk_ms END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.agent_talk_ms + d.customer_talk_ms END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.interruptions END) AS DOUBLE PRECISION),
		CAST(SUM(CASE WHEN d.hc = 1 THEN d.agent_interruptions END) AS DOUBLE PRECISION),
		CAST(AVG(d.agent_wpm) AS DOUBLE PRECISION)
		FROM `+sel+` LEFT JOIN call_sentiment cs ON cs.call_id = d.id AND cs.role = 'customer'
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
	shares := func(what, query string, set func(r *msg.DashboardRow, name string, share float64)) ([]string, error) {
		rows, err := s.db.QueryContext(ctx, s.q(query), args...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		defer rows.Close()
		names := map[string]bool{}
		for rows.Next() {
			var k rowKey
			var name string
			var n int
			if err := rows.Scan(&k.bucket, &k.group, &name, &n); err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			i, ok := at[k]
			if !ok {
				continue // a call that ended between the queries
			}
			r := &out.Rows[i]
			set(r, name, float64(n)/float64(r.Calls))
			names[name] = true
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return slices.Sorted(maps.Keys(names)), nil
	}
	if out.Categories, err = shares("categories", `SELECT d.bk, d.grp, k.name, COUNT(*) FROM `+sel+`
		JOIN categories k ON k.call_id = d.id GROUP BY d.bk, d.grp, k.name`,
		func(r *msg.DashboardRow, name string, share float64) {
			if r.Categories == nil {
				r.Categories = map[string]float64{}
			}
			r.Categories[name] = share
		}); err != nil {
		return out, err
	}
	if out.Alerts, err = shares("alerts", `SELECT d.bk, d.grp, a.rule_name, COUNT(DISTINCT d.id) FROM `+sel+`
		JOIN alerts a ON a.call_id = d.id GROUP BY d.bk, d.grp, a.rule_name`,
		func(r *msg.DashboardRow, name string, share float64) {
			if r.Alerts == nil {
				r.Alerts = map[string]float64{}
			}
			r.Alerts[name] = share
		}); err != nil {
		return out, err
	}
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
