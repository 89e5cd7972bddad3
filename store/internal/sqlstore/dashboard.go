package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

// Dashboard implements store.Reader: two aggregate queries (the figures,
// the shares of categories and alerts), grouped by bucket and group in
// SQL, over the daily rollups when they answer q (rollupOf), else over the
// calls (range scans of calls and call_tags by start time). Both sum the
// same per-call figures (rollupColumns).
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

// dashboardWhere selects the ended calls of q (alias: calls c or
// call_tags t, whose ended column is the flag ended) and returns the
// bucket and group expressions and the parameters, the bucket's first.
func dashboardWhere(q msg.DashboardQuery, b store.Buckets, alias, ended string) (bucket, group, where string, args []any) {
	group = `''`
	switch q.GroupBy {
	case msg.GroupAgent:
		group = alias + `.agent`
	case msg.GroupQueue:
		group = alias + `.queue`
	}
	bucket = `(` + alias + `.started_at + CAST(? AS BIGINT)) / CAST(? AS BIGINT)`
	where = alias + `.started_at >= ? AND ` + alias + `.started_at < ? AND ` + ended
	args = []any{b.Shift, b.Width, q.From.UnixMilli(), q.To.UnixMilli()}
	if q.Agent != "" {
		where += ` AND ` + alias + `.agent = ?`
		args = append(args, q.Agent)
	}
	if q.Queue != "" {
		where += ` AND ` + alias + `.queue = ?`
		args = append(args, q.Queue)
	}
	return bucket, group, where, args
}

// dashboard answers q from the calls: per bucket and group, the sums the
// rollups keep.
func (s *Store) dashboard(ctx context.Context, q msg.DashboardQuery, b store.Buckets) (msg.Dashboard, error) {
	bucket, group, where, args := dashboardWhere(q, b, "c", `c.ended_at IS NOT NULL`)
	var sums []string
	for _, c := range rollupColumns {
		sums = append(sums, `SUM(`+c[1]+`)`)
	}
	out, at, err := s.dashboardRows(ctx, q, b, `SELECT `+bucket+` AS bk, `+group+` AS grp, `+strings.Join(sums, ", ")+`
		FROM calls c WHERE `+where+` GROUP BY bk, grp ORDER BY bk, grp`, args)
	if err != nil {
		return out, err
	}
	bucket, group, where, args = dashboardWhere(q, b, "t", `t.ended = 1`)
	return s.dashboardTags(ctx, out, at, `SELECT `+bucket+` AS bk, `+group+` AS grp, t.kind, t.name, COUNT(*)
		FROM call_tags t WHERE `+where+` GROUP BY bk, grp, t.kind, t.name`, args)
}

// dashboardDays answers q from the rollups of dim (keeping key when set):
// its days, and for a week step its weeks from the first Monday in the
// range to the last (the days before and after them).
func (s *Store) dashboardDays(ctx context.Context, q msg.DashboardQuery, b store.Buckets, dim, key string) (msg.Dashboard, error) {
	group := `r.key`
	if q.GroupBy == msg.GroupOverall {
		group = `''`
	}
	type span struct {
		dim      string
		from, to int64
	}
	from, to := q.From.UnixMilli(), q.To.UnixMilli()
	spans := []span{{dim, from, to}}
	if q.Step == msg.StepWeek {
		w0 := (from+b.Shift+b.Width-1)/b.Width*b.Width - b.Shift
		w1 := (to+b.Shift)/b.Width*b.Width - b.Shift
		if w0 < w1 {
			spans = []span{{dim, from, w0}, {dim + "/w", w0, w1}, {dim, w1, to}}
		}
	}
	rows := func(table string) (string, []any) {
		var parts []string
		args := []any{b.Shift, b.Width}
		for _, sp := range spans {
			if sp.from >= sp.to {
				continue
			}
			part := `SELECT * FROM ` + table + ` WHERE tz = ? AND dim = ? AND day >= ? AND day < ?`
			args = append(args, q.TZOffsetMinutes, sp.dim, sp.from, sp.to)
			if key != "" {
				part += ` AND key = ?`
				args = append(args, key)
			}
			parts = append(parts, part)
		}
		return `(` + strings.Join(parts, ` UNION ALL `) + `) r`, args
	}
	bucket := `(r.day + CAST(? AS BIGINT)) / CAST(? AS BIGINT)`
	var sums []string
	for _, c := range rollupColumns {
		sums = append(sums, `SUM(r.`+c[0]+`)`)
	}
	days, args := rows("dashboard_days")
	out, at, err := s.dashboardRows(ctx, q, b, `SELECT `+bucket+` AS bk, `+group+` AS grp, `+strings.Join(sums, ", ")+`
		FROM `+days+` GROUP BY bk, grp HAVING SUM(r.calls) > 0 ORDER BY bk, grp`, args)
	if err != nil {
		return out, err
	}
	tags, args := rows("dashboard_day_tags")
	return s.dashboardTags(ctx, out, at, `SELECT `+bucket+` AS bk, `+group+` AS grp, r.kind, r.name, SUM(r.calls)
		FROM `+tags+` GROUP BY bk, grp, r.kind, r.name HAVING SUM(r.calls) > 0`, args)
}

// dashboardRows reads a dashboard's rows from query, which returns each
// row's bucket, group and the sums of rollupColumns, and returns them
// with the index of each.
func (s *Store) dashboardRows(ctx context.Context, q msg.DashboardQuery, b store.Buckets, query string, args []any) (msg.Dashboard, map[rowKey]int, error) {
	out := msg.Dashboard{Query: q, Rows: []msg.DashboardRow{}, Categories: []string{}, Alerts: []string{}}
	at := map[rowKey]int{}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return out, at, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k                                                  rowKey
			r                                                  msg.DashboardRow
			calls, dur, sentN, hc, hcDur, nonTalk, agent, talk int64
			ints, agentInts, wpmN                              int64
			sent, shift, wpm                                   float64
			csatN, csatGood, npsN, npsProm, npsDet             int64
		)
		if err := rows.Scan(&k.bucket, &k.group, &calls, &dur, &sentN, &sent, &shift, &hc, &hcDur, &nonTalk, &agent, &talk,
			&ints, &agentInts, &wpmN, &wpm, &csatN, &csatGood, &npsN, &npsProm, &npsDet); err != nil {
			return out, at, err
		}
		r.Bucket, r.Group, r.Calls = b.Start(k.bucket), k.group, int(calls)
		r.AvgHandleMS = float64(dur) / float64(calls)
		r.CustomerSentiment, r.CustomerShift = ratio(sent, sentN), ratio(shift, sentN)
		r.AgentTalkSpeedWPM = ratio(wpm, wpmN)
		if hc > 0 {
			r.NonTalkShare, r.AgentTalkShare = ratio(float64(nonTalk), hcDur), ratio(float64(agent), talk)
			r.InterruptionsPerCall, r.AgentInterruptionsPerCall = ratio(float64(ints), hc), ratio(float64(agentInts), hc)
		}
		r.CSATAnswers, r.NPSAnswers = int(csatN), int(npsN)
		r.CSAT, r.NPS = ratio(float64(csatGood), csatN), ratio(float64(100*(npsProm-npsDet)), npsN)
		at[k] = len(out.Rows)
		out.Rows = append(out.Rows, r)
	}
	return out, at, rows.Err()
}

// ratio is part/whole, nil when there is nothing to divide.
func ratio[N int64 | float64](part float64, whole N) *float64 {
	if whole <= 0 {
		return nil
	}
	v := part / float64(whole)
	return &v
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
