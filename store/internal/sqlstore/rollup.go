package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Daily rollups: the dashboard's sums per day, per time zone offset, and
// per dimension (all calls, each agent, each queue), so that a dashboard
// over every call of a quarter adds up some thousands of rows instead of
// every call. A day is local midnight to midnight at an offset (tz, in
// minutes east of UTC, listed in dashboard_offsets); the offset 0 is
// always rolled up, another is added the first time a dashboard asks for
// it (at most MaxRollupOffsets). Only ended calls count.
//
// Every write that changes what an ended call contributes takes the call's
// contribution out before it changes the call and puts it back after, in
// the same transaction (rolled), so the rollups always equal the sums of
// the calls they cover; the per-call query (dashboard) answers what they
// cannot (a range that does not start and end at local midnight, two
// filters at once, an offset not rolled up).

// MaxRollupOffsets bounds how many time zone offsets are rolled up.
const MaxRollupOffsets = 8

// rollupDims are the dimensions every call is rolled up by, each by day
// and (named with /w) by week from Monday: the kind of key (kd), the
// span's width (w) and its shift (s, a week's: Thursday 1 January 1970 to
// Monday); rollupKey is the key, rollupDay the start of the span, in UTC
// milliseconds, at the offset's local midnight.
const (
	rollupDims = `(SELECT 'all' AS dim, 'all' AS kd, 86400000 AS w, 0 AS s
		UNION ALL SELECT 'agent', 'agent', 86400000, 0 UNION ALL SELECT 'queue', 'queue', 86400000, 0
		UNION ALL SELECT 'all/w', 'all', 604800000, 259200000 UNION ALL SELECT 'agent/w', 'agent', 604800000, 259200000
		UNION ALL SELECT 'queue/w', 'queue', 604800000, 259200000) d`
	rollupKey = `CASE d.kd WHEN 'agent' THEN c.agent WHEN 'queue' THEN c.queue ELSE '' END`
	rollupDay = `((c.started_at + o.tz * 60000 + d.s) / d.w) * d.w - d.s - o.tz * 60000`
	rollupDur = `(CASE WHEN c.duration_ms > 0 THEN c.duration_ms ELSE c.ended_at - c.started_at END)`
	rollupHC  = `(CASE WHEN c.characteristics_at >= 0 THEN 1 ELSE 0 END)`
)

// rollupColumns are the summed columns of dashboard_days, each with the
// per-call figure it sums.
var rollupColumns = [][2]string{
	{"calls", `1`},
	{"dur", rollupDur},
	{"sent_n", `CASE WHEN c.customer_sentiment IS NULL THEN 0 ELSE 1 END`},
	{"sent_sum", `COALESCE(c.customer_sentiment, 0)`},
	{"shift_sum", `COALESCE(c.customer_shift, 0)`},
	{"hc", rollupHC},
	{"hc_dur", rollupHC + ` * ` + rollupDur},
	{"non_talk", rollupHC + ` * c.non_talk_ms`},
	{"agent_talk", rollupHC + ` * c.agent_talk_ms`},
	{"talk", rollupHC + ` * (c.agent_talk_ms + c.customer_talk_ms)`},
	{"ints", rollupHC + ` * c.interruptions`},
	{"agent_ints", rollupHC + ` * c.agent_interruptions`},
	{"wpm_n", `CASE WHEN c.agent_wpm IS NULL THEN 0 ELSE 1 END`},
	{"wpm_sum", `COALESCE(c.agent_wpm, 0)`},
	{"csat_n", `c.csat_n`},
	{"csat_good", `c.csat_good`},
	{"nps_n", `c.nps_n`},
	{"nps_prom", `c.nps_prom`},
	{"nps_det", `c.nps_det`},
}

// RollupStmts are the statements of the migration that adds the daily
// rollups, for both dialects: integer and real are the engine's 64-bit
// integer and float types, and table ends each CREATE TABLE (SQLite:
// WITHOUT ROWID, so that the primary key is the table and a range of it
// is read in one pass). Its Then is FillRollups.
func RollupStmts(integer, real, table string) []string {
	var cols []string
	for _, c := range rollupColumns {
		typ := integer
		if strings.HasSuffix(c[0], "_sum") {
			typ = real
		}
		cols = append(cols, c[0]+" "+typ+" NOT NULL")
	}
	return []string{
		`CREATE TABLE dashboard_offsets (tz integer PRIMARY KEY)`,
		`INSERT INTO dashboard_offsets (tz) VALUES (0)`,
		`CREATE TABLE dashboard_days (tz integer NOT NULL, dim text NOT NULL, key text NOT NULL, day ` + integer + ` NOT NULL, ` +
			strings.Join(cols, ", ") + `, PRIMARY KEY (tz, dim, key, day))` + table,
		`CREATE TABLE dashboard_day_tags (tz integer NOT NULL, dim text NOT NULL, key text NOT NULL, day ` + integer + ` NOT NULL,
			kind text NOT NULL, name text NOT NULL, calls ` + integer + ` NOT NULL, PRIMARY KEY (tz, dim, key, day, kind, name))` + table,
	}
}

// FillRollups is the Then of the migration that adds the rollups: it rolls
// up every call kept before.
func FillRollups(ctx context.Context, tx *sql.Tx, q func(string) string) error {
	return rollup(ctx, func(ctx context.Context, query string, args ...any) (sql.Result, error) {
		return tx.ExecContext(ctx, q(query), args...)
	}, 1, `1 = 1`)
}

// execer runs a statement with ? placeholders.
type execer func(ctx context.Context, query string, args ...any) (sql.Result, error)

// inTx is an execer of tx's statements, prepared once.
func (s *Store) inTx(tx *sql.Tx) execer {
	return func(ctx context.Context, query string, args ...any) (sql.Result, error) {
		return s.exec(ctx, tx, query, args...)
	}
}

// rollup adds sign times the contribution of the ended calls that where
// selects (c is the call, o the offset; args are its parameters) to the
// rollups.
func rollup(ctx context.Context, exec execer, sign int, where string, args ...any) error {
	var names, sums, sets []string
	for _, c := range rollupColumns {
		names = append(names, c[0])
		sums = append(sums, fmt.Sprintf("%d * SUM(%s)", sign, c[1]))
		sets = append(sets, fmt.Sprintf("%s = dashboard_days.%[1]s + excluded.%[1]s", c[0]))
	}
	from := ` FROM calls c CROSS JOIN dashboard_offsets o CROSS JOIN ` + rollupDims + `
		WHERE c.ended_at IS NOT NULL AND ` + where
	if _, err := exec(ctx, `INSERT INTO dashboard_days (tz, dim, key, day, `+strings.Join(names, ", ")+`)
		SELECT o.tz, d.dim, `+rollupKey+` AS k, `+rollupDay+` AS dy, `+strings.Join(sums, ", ")+from+`
		GROUP BY o.tz, d.dim, k, dy
		ON CONFLICT (tz, dim, key, day) DO UPDATE SET `+strings.Join(sets, ", "), args...); err != nil {
		return fmt.Errorf("dashboard rollups: %w", err)
	}
	if _, err := exec(ctx, `INSERT INTO dashboard_day_tags (tz, dim, key, day, kind, name, calls)
		SELECT o.tz, d.dim, `+rollupKey+` AS k, `+rollupDay+` AS dy, t.kind, t.name, `+fmt.Sprint(sign)+` * COUNT(*)
		FROM call_tags t JOIN calls c ON c.id = t.call_id CROSS JOIN dashboard_offsets o CROSS JOIN `+rollupDims+`
		WHERE c.ended_at IS NOT NULL AND `+where+`
		GROUP BY o.tz, d.dim, k, dy, t.kind, t.name
		ON CONFLICT (tz, dim, key, day, kind, name) DO UPDATE SET calls = dashboard_day_tags.calls + excluded.calls`, args...); err != nil {
		return fmt.Errorf("dashboard rollups of categories and alerts: %w", err)
	}
	return nil
}

// rolled runs change, a write to the call callID in tx, between taking the
// call's contribution to the rollups out and putting it back. ends says
// that change may end the call. The call's row must exist. In a Batch, the
// contribution is taken out once, before the batch's first such write to
// the call, and put back once, when the batch ends (Batch): a call's
// final sentiment, characteristics and categories come together.
func (s *Store) rolled(ctx context.Context, tx *sql.Tx, callID string, ends bool, change func() error) error {
	b, _ := ctx.Value(txKey{}).(*batch)
	if b != nil && b.out[callID] {
		return change()
	}
	var ended bool
	if err := s.scan(ctx, tx, `SELECT ended_at IS NOT NULL FROM calls WHERE id = ?`+s.d.ForUpdate, []any{callID}, &ended); err != nil {
		return fmt.Errorf("dashboard rollups: %w", err)
	}
	if !ended && !ends {
		return change()
	}
	if s.d.LockOffsets != "" && (b == nil || !b.locked) {
		if _, err := tx.ExecContext(ctx, s.d.LockOffsets); err != nil {
			return fmt.Errorf("dashboard rollups: %w", err)
		}
	}
	if ended {
		if err := rollup(ctx, s.inTx(tx), -1, `c.id = ?`, callID); err != nil {
			return err
		}
	}
	if b != nil {
		b.locked = true
		b.out[callID] = true
		b.calls = append(b.calls, callID)
		return change()
	}
	if err := change(); err != nil {
		return err
	}
	return rollup(ctx, s.inTx(tx), 1, `c.id = ?`, callID)
}

// rollsUp says whether the offset tz is rolled up, adding it (and rolling
// up every call kept for it) when it is not and there is room. It is false
// when the store cannot write.
func (s *Store) rollsUp(ctx context.Context, tz int) bool {
	s.mu.Lock()
	known, ok := s.offsets[tz]
	s.mu.Unlock()
	if ok {
		return known
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n, have int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN tz = ? THEN 1 ELSE 0 END), 0) FROM dashboard_offsets`), tz).Scan(&n, &have); err != nil {
			return err
		}
		if have > 0 {
			return nil
		}
		if n >= MaxRollupOffsets {
			return errNoRoom
		}
		// PostgreSQL: the insert waits for the writes that hold the
		// offsets in share mode (LockOffsets) and holds back new ones, so
		// no ended call is missed or counted twice.
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO dashboard_offsets (tz) VALUES (?)`), tz); err != nil {
			return err
		}
		return rollup(ctx, s.inTx(tx), 1, `o.tz = ?`, tz)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offsets == nil {
		s.offsets = map[int]bool{}
	}
	// A read-only store, or no room: the per-call query answers; a
	// failure of another kind is tried again next time.
	if err == nil || err == errNoRoom || s.d.Migrations == nil {
		s.offsets[tz] = err == nil
	}
	return err == nil
}

var errNoRoom = fmt.Errorf("every rollup offset is taken")
