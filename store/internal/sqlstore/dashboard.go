package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
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
	return s.dashboardTags(ctx, out, at, `SELECT bk, grp, `+tagCounts+` FROM (SELECT `+bucket+` AS bk, `+group+` AS grp, t.kind, t.name, COUNT(*) AS calls
		FROM call_tags t WHERE `+where+` GROUP BY bk, grp, t.kind, t.name) r GROUP BY bk, grp`, args)
}

// dashboardDays answers q from the rollups of dim (keeping key when set):
// its days, and for a week step its weeks from the first Monday in the
// range to the last (the days before and after them). Each span is read
// alone, its buckets apart from the others': the rows of a span whose
// width is the step's are the answer's rows as they stand (one per key and
// day, and a query keeps one key or groups by it), so they are read in
// the primary key's order without grouping; only the days at a week's
// edges are summed.
func (s *Store) dashboardDays(ctx context.Context, q msg.DashboardQuery, b store.Buckets, dim, key string) (msg.Dashboard, error) {
	group := `key`
	if q.GroupBy == msg.GroupOverall {
		group = `''`
	}
	type span struct {
		dim      string
		from, to int64
		whole    bool // a row is a bucket
	}
	from, to := q.From.UnixMilli(), q.To.UnixMilli()
	spans := []span{{dim, from, to, q.Step == msg.StepDay}}
	if q.Step == msg.StepWeek {
		w0 := (from+b.Shift+b.Width-1)/b.Width*b.Width - b.Shift
		w1 := (to+b.Shift)/b.Width*b.Width - b.Shift
		if w0 < w1 {
			spans = []span{{dim, from, w0, false}, {dim + "/w", w0, w1, true}, {dim, w1, to, false}}
		}
	}
	// rows unites the spans' rows of table: cols are the columns read
	// after the bucket and the group, and either sums are the same summed
	// where a span's days are grouped into buckets, or (tags: the table
	// has a row per kind and name) cols aggregate the rows of each bucket
	// and group.
	rows := func(table string, cols, sums []string, tags bool) (string, []any) {
		var parts []string
		var args []any
		for _, sp := range spans {
			if sp.from >= sp.to {
				continue
			}
			args = append(args, b.Shift, b.Width, q.TZOffsetMinutes, sp.dim, sp.from, sp.to)
			part := `SELECT (day + CAST(? AS BIGINT)) / CAST(? AS BIGINT) AS bk, ` + group + ` AS grp, `
			where := ` FROM ` + table + ` r WHERE tz = ? AND dim = ? AND day >= ? AND day < ?`
			switch {
			case key != "":
				where += ` AND key = ?`
				args = append(args, key)
			case sp.whole:
				// key >= '' keeps SQLite from skipping from key to key
				// for the range of days (which suits a week's edges)
				// instead of reading the dimension's rows in turn.
				where += ` AND key >= ?`
				args = append(args, "")
			}
			switch {
			case sp.whole && !tags:
				part += strings.Join(cols, ", ") + where + ` AND calls > 0`
			case sp.whole:
				// The primary key's order: grouped as read.
				part += strings.Join(cols, ", ") + where + ` AND calls > 0 GROUP BY key, day`
			case !tags:
				part += strings.Join(sums, ", ") + where + ` GROUP BY bk, grp HAVING SUM(calls) > 0`
			default:
				part = `SELECT bk, grp, ` + strings.Join(cols, ", ") + ` FROM (` + part + `kind, name, SUM(calls) AS calls` + where +
					` GROUP BY bk, grp, kind, name HAVING SUM(calls) > 0) r GROUP BY bk, grp`
			}
			parts = append(parts, part)
		}
		return strings.Join(parts, ` UNION ALL `), args
	}
	var cols, sums []string
	for _, c := range rollupColumns {
		cols, sums = append(cols, c[0]), append(sums, `SUM(`+c[0]+`)`)
	}
	days, args := rows("dashboard_days", cols, sums, false)
	out, at, err := s.dashboardRows(ctx, q, b, days+` ORDER BY bk, grp`, args)
	if err != nil {
		return out, err
	}
	tags, args := rows("dashboard_day_tags", []string{tagCounts}, nil, true)
	return s.dashboardTags(ctx, out, at, tags, args)
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

// tagCounts packs the calls with each category and alert of a bucket and
// group (r.kind, r.name, r.calls) into one string, so that a row of the
// answer is one row read and not one per category and alert: for each,
// its kind, its count and the length of its name in bytes, each ended by
// a space, then the name (any bytes).
const tagCounts = `string_agg(r.kind || ' ' || r.calls || ' ' || octet_length(r.name) || ' ' || r.name, '')`

// dashboardTags fills the shares of categories and alerts of out's rows
// (at: the index of each) from query, which returns each row's bucket,
// group and tagCounts.
func (s *Store) dashboardTags(ctx context.Context, out msg.Dashboard, at map[rowKey]int, query string, args []any) (msg.Dashboard, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return out, fmt.Errorf("categories and alerts: %w", err)
	}
	defer rows.Close()
	cats, alerts := map[string]bool{}, map[string]bool{}
	for rows.Next() {
		var k rowKey
		var packed string
		if err := rows.Scan(&k.bucket, &k.group, &packed); err != nil {
			return out, fmt.Errorf("categories and alerts: %w", err)
		}
		i, ok := at[k]
		if !ok {
			continue // a call that ended between the queries
		}
		r := &out.Rows[i]
		for packed != "" {
			var kind, name string
			var n int
			kind, n, name, packed, err = unpackTagCount(packed)
			if err != nil {
				return out, fmt.Errorf("categories and alerts: %w", err)
			}
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
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("categories and alerts: %w", err)
	}
	out.Categories, out.Alerts = slices.Sorted(maps.Keys(cats)), slices.Sorted(maps.Keys(alerts))
	return out, nil
}

// unpackTagCount reads the first category or alert of p, packed as
// tagCounts packs them, and returns the rest of p.
func unpackTagCount(p string) (kind string, n int, name, rest string, err error) {
	kind, p, ok1 := strings.Cut(p, " ")
	count, p, ok2 := strings.Cut(p, " ")
	size, p, ok3 := strings.Cut(p, " ")
	n, err1 := strconv.Atoi(count)
	l, err2 := strconv.Atoi(size)
	if !ok1 || !ok2 || !ok3 || err1 != nil || err2 != nil || l < 0 || l > len(p) {
		return "", 0, "", "", fmt.Errorf("bad packed counts %.40q", p)
	}
	return kind, n, p[:l], p[l:], nil
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
