// Package sqlstore is the SQL both stores share: the writes (upserts keyed by
// natural keys, so redelivery never duplicates), call records, search over a
// full-text index, retention and versioned migrations. A Dialect supplies
// what differs between SQLite and PostgreSQL: placeholders, the schema and
// the full-text match.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
)

// Dialect is what one SQL engine needs differently.
type Dialect struct {
	// Name names the engine in errors ("sqlite", "postgres").
	Name string
	// Numbered placeholders ($1, $2, ...) instead of ?.
	Numbered bool
	// Migrations are applied in order, each once, in a transaction; the
	// version of Migrations[i] is i+1. Never edit one that has shipped:
	// add another.
	Migrations []Migration
	// MigrationLock, when set, runs first in the migration transaction
	// (PostgreSQL: an advisory lock, so that two processes starting at
	// once do not both migrate).
	MigrationLock string
	// MatchFrom is the FROM ... WHERE of the segments (alias s) matching a
	// full-text query given as one ? parameter; MatchScore the relevance
	// of one matching segment (higher is better).
	MatchFrom, MatchScore string
	// MatchWithin, when set, is the FROM ... WHERE of the segments (alias
	// s) of the calls (alias c) that pass the call filters (%s, whose
	// parameters come first) and match the query (one ? parameter), and
	// MatchWithinScore their relevance. It is used when the filters leave
	// few calls (at most SelectiveCalls): finding the matches of those
	// calls' segments is then much cheaper than ranking every match of
	// the query (SQLite's bm25 costs more than the match itself).
	MatchWithin, MatchWithinScore string
	// RidList aggregates m.rid (the rids of a call's matching segments)
	// into one comma-separated text, in any order.
	RidList string
	// Compile turns a parsed query into the parameter of MatchFrom.
	Compile func(*store.Query) string
	// ForUpdate ends a SELECT of one call that locks its row until the
	// transaction ends (PostgreSQL: " FOR UPDATE"; SQLite has one writer).
	ForUpdate string
	// LockOffsets, when set, runs before a write changes the dashboard
	// rollups: it holds back a new offset's rollup until the write is
	// committed (PostgreSQL: LOCK TABLE dashboard_offsets IN SHARE MODE).
	LockOffsets string
	// Prepare says the driver parses each statement anew (modernc.org/
	// sqlite): the store then prepares the writes' statements and a
	// call's reads once and reuses them. pgx keeps its own cache of
	// prepared statements per connection; preparing through database/sql
	// would also take a second connection from a bounded pool while a
	// transaction holds one.
	Prepare bool
}

// Migration is one step of the schema: its statements, then, when set, Then
// in the same transaction, for what SQL alone cannot do (q rewrites ?
// placeholders for the dialect).
type Migration struct {
	Stmts []string
	Then  func(ctx context.Context, tx *sql.Tx, q func(string) string) error
}

// FillSearchText is the Then of the migration that adds segments.search_text:
// it fills the column for the segments stored before, so that the index
// holds their Korean words without particles too (see store.SearchText).
func FillSearchText(ctx context.Context, tx *sql.Tx, q func(string) string) error {
	type fill struct {
		rid  int64
		text string
	}
	var fills []fill
	rows, err := tx.QueryContext(ctx, `SELECT rid, text FROM segments`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var rid int64
		var text string
		if err := rows.Scan(&rid, &text); err != nil {
			rows.Close()
			return err
		}
		if st := store.SearchText(text); st != text {
			fills = append(fills, fill{rid, st})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, f := range fills {
		if _, err := tx.ExecContext(ctx, q(`UPDATE segments SET search_text = ? WHERE rid = ?`), f.text, f.rid); err != nil {
			return err
		}
	}
	return nil
}

// searchText is the value of segments.search_text for a segment's text:
// NULL where the index takes the text as it is (no Hangul, or nothing to
// strip), so that an English store keeps one copy of its text.
func searchText(text string) sql.NullString {
	st := store.SearchText(text)
	return sql.NullString{String: st, Valid: st != text}
}

// Store is a store.Store over database/sql.
type Store struct {
	db            *sql.DB
	d             Dialect
	searchTimeout time.Duration

	mu      sync.Mutex
	offsets map[int]bool // whether each time zone offset asked for is rolled up

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // statements by query, prepared once (prepared)
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Batcher = (*Store)(nil)
)

// New migrates db to the latest schema and returns the store. The store
// owns db and closes it in Close. searchTimeout bounds one search (0:
// store.MaxSearchTime).
func New(ctx context.Context, db *sql.DB, d Dialect, searchTimeout time.Duration) (*Store, error) {
	if searchTimeout <= 0 {
		searchTimeout = store.MaxSearchTime
	}
	s := &Store{db: db, d: d, searchTimeout: searchTimeout}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for q, st := range s.stmts {
		st.Close()
		delete(s.stmts, q)
	}
	s.stmtMu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("%s store: close: %w", s.d.Name, err)
	}
	return nil
}

// DB is the underlying database, for the engine's own tests and statistics.
func (s *Store) DB() *sql.DB { return s.db }

// q rewrites ? placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// prepared returns query (with ? placeholders) prepared, once for the
// store's life: parsing a statement costs SQLite more than running one of
// the writes, and each message the archiver stores runs several. It is nil
// when the dialect does not Prepare.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if !s.d.Prepare {
		return nil, nil
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	s.stmts[query] = st
	return st, nil
}

// exec runs query (with ? placeholders) in tx, prepared once (prepared).
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return tx.ExecContext(ctx, s.q(query), args...)
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// scan runs query, prepared once, in tx and scans its one row into dest.
func (s *Store) scan(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	st, err := s.prepared(ctx, query)
	switch {
	case err != nil:
		return err
	case st == nil:
		return tx.QueryRowContext(ctx, s.q(query), args...).Scan(dest...)
	}
	return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...).Scan(dest...)
}

// query runs query (with ? placeholders), prepared once, outside any
// transaction: a call's record is read at its end for its audio redaction
// and by the evaluations.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return s.db.QueryContext(ctx, s.q(query), args...)
	}
	return st.QueryContext(ctx, args...)
}

// queryRow is query for one row.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := s.prepared(ctx, query)
	switch {
	case err != nil:
		return errRow{err}
	case st == nil:
		return s.db.QueryRowContext(ctx, s.q(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a row that could not be read.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (s *Store) migrate(ctx context.Context) error {
	for i, m := range s.d.Migrations {
		version := i + 1
		if err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.d.MigrationLock != "" {
				if _, err := tx.ExecContext(ctx, s.d.MigrationLock); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range m.Stmts {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%.60s...: %w", strings.TrimSpace(stmt), err)
				}
			}
			if m.Then != nil {
				if err := m.Then(ctx, tx, s.q); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, time.Now().UnixMilli())
			return err
		}); err != nil {
			return fmt.Errorf("%s store: migration %d: %w", s.d.Name, version, err)
		}
	}
	return nil
}

// Version is the schema version the database is at.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("%s store: schema version: %w", s.d.Name, err)
	}
	return int(v.Int64), nil
}

// txKey is the context key of the *batch of a Batch.
type txKey struct{}

// batch is a Batch's transaction and the calls whose contribution to the
// dashboard rollups its writes took out (rolled), to be put back once,
// when the batch ends, however many writes changed them.
type batch struct {
	tx     *sql.Tx
	out    map[string]bool
	calls  []string // out's keys, in the order taken out
	locked bool     // Dialect.LockOffsets ran
}

// Batch runs f with a context in which every write of the store joins one
// transaction, committed when f returns nil and rolled back otherwise.
func (s *Store) Batch(ctx context.Context, f func(ctx context.Context) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		b := &batch{tx: tx, out: map[string]bool{}}
		if err := f(context.WithValue(ctx, txKey{}, b)); err != nil {
			return err
		}
		for _, call := range b.calls {
			if err := rollup(ctx, s.inTx(tx), 1, `c.id = ?`, call); err != nil {
				return err
			}
		}
		return nil
	})
}

// tx runs f in a transaction: the Batch's that ctx carries, or a new one.
func (s *Store) tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	if b, ok := ctx.Value(txKey{}).(*batch); ok {
		return f(b.tx)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain message structs are marshalled here.
		panic(err)
	}
	return string(b)
}

func nullJSON(v any, present bool) sql.NullString {
	if !present {
		return sql.NullString{}
	}
	return sql.NullString{String: jsonText(v), Valid: true}
}

// ensureCall makes sure a call row exists for events that arrive before the
// call's own start event; its start time is provisional until then.
func (s *Store) ensureCall(ctx context.Context, tx *sql.Tx, callID string) error {
	if err := msg.ValidateCallID(callID); err != nil {
		return err
	}
	_, err := s.exec(ctx, tx, `INSERT INTO calls (id, started_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, callID, time.Now().UnixMilli())
	return err
}

func (s *Store) write(ctx context.Context, what, callID string, f func(tx *sql.Tx) error) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.ensureCall(ctx, tx, callID); err != nil {
			return err
		}
		return f(tx)
	})
	if err != nil {
		return fmt.Errorf("%s store: %s of call %s: %w", s.d.Name, what, callID, err)
	}
	return nil
}

// writeRolled is write for a change to what the call contributes to the
// dashboard rollups (but not its end).
func (s *Store) writeRolled(ctx context.Context, what, callID string, f func(tx *sql.Tx) error) error {
	return s.write(ctx, what, callID, func(tx *sql.Tx) error {
		return s.rolled(ctx, tx, callID, false, func() error { return f(tx) })
	})
}

// PutCall implements store.Writer.
func (s *Store) PutCall(ctx context.Context, ev msg.CallEvent) error {
	return s.write(ctx, "call "+string(ev.Kind), ev.CallID, func(tx *sql.Tx) error {
		return s.rolled(ctx, tx, ev.CallID, ev.Kind == msg.CallEnded, func() error { return s.putCall(ctx, tx, ev) })
	})
}

func (s *Store) putCall(ctx context.Context, tx *sql.Tx, ev msg.CallEvent) error {
	attrs := "{}"
	if len(ev.Attributes) > 0 {
		attrs = jsonText(ev.Attributes)
	}
	legs := "[]"
	if len(ev.Legs) > 0 {
		legs = jsonText(ev.Legs)
	}
	var ended sql.NullInt64
	if ev.Kind == msg.CallEnded {
		ended = sql.NullInt64{Int64: ev.Time.UnixMilli(), Valid: true}
	}
	seen := 0
	started := time.Now().UnixMilli()
	if !ev.StartedAt.IsZero() {
		seen, started = 1, ev.StartedAt.UnixMilli()
	}
	_, err := s.exec(ctx, tx, `UPDATE calls SET
		agent = CASE WHEN ? <> '' THEN ? ELSE agent END,
		queue = CASE WHEN ? <> '' THEN ? ELSE queue END,
		attributes = CASE WHEN ? <> '{}' THEN ? ELSE attributes END,
		legs = CASE WHEN ? <> '[]' THEN ? ELSE legs END,
		started_at = CASE WHEN ? = 1 THEN ? ELSE started_at END,
		seen_start = CASE WHEN ? = 1 THEN 1 ELSE seen_start END,
		ended_at = COALESCE(?, ended_at),
		duration_ms = CASE WHEN ? = 1 THEN ? ELSE duration_ms END,
		end_reason = CASE WHEN ? = 1 THEN ? ELSE end_reason END
		WHERE id = ?`,
		ev.Agent, ev.Agent, ev.Queue, ev.Queue, attrs, attrs, legs, legs,
		seen, started, seen, ended, b2i(ended.Valid), ev.DurationMS, b2i(ended.Valid), ev.Reason, ev.CallID)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, tx, `UPDATE call_tags SET (started_at, ended, agent, queue) =
		(SELECT started_at, CASE WHEN ended_at IS NULL THEN 0 ELSE 1 END, agent, queue FROM calls WHERE id = ?)
		WHERE call_id = ?`, ev.CallID, ev.CallID); err != nil {
		return err
	}
	if len(ev.Attributes) == 0 {
		return nil
	}
	if _, err := s.exec(ctx, tx, `DELETE FROM call_attributes WHERE call_id = ?`, ev.CallID); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(ev.Attributes)) {
		if _, err := s.exec(ctx, tx, `INSERT INTO call_attributes (call_id, key, value) VALUES (?, ?, ?)`, ev.CallID, k, ev.Attributes[k]); err != nil {
			return err
		}
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// PutSegment implements store.Writer.
func (s *Store) PutSegment(ctx context.Context, seg msg.StoredSegment) error {
	var compound sql.NullFloat64
	if seg.Sentiment != nil {
		compound = sql.NullFloat64{Float64: seg.Sentiment.Compound, Valid: true}
	}
	words := "[]"
	if len(seg.Words) > 0 {
		words = jsonText(seg.Words)
	}
	return s.write(ctx, "segment "+seg.ID, seg.CallID, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO segments
			(id, call_id, leg, turn, part, start_ms, end_ms, text, search_text, language, confidence, words, engine, model, dropped, error, sentiment, compound)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET
			leg = excluded.leg, turn = excluded.turn, part = excluded.part,
			start_ms = excluded.start_ms, end_ms = excluded.end_ms, text = excluded.text, search_text = excluded.search_text,
			language = excluded.language, confidence = excluded.confidence, words = excluded.words,
			engine = excluded.engine, model = excluded.model, dropped = excluded.dropped, error = excluded.error,
			sentiment = COALESCE(excluded.sentiment, segments.sentiment),
			compound = COALESCE(excluded.compound, segments.compound)`,
			seg.ID, seg.CallID, string(seg.Leg), seg.Turn, seg.Part, seg.StartMS, seg.EndMS, seg.Text, searchText(seg.Text),
			seg.Language, seg.Confidence, words, seg.Engine, seg.Model, seg.Dropped, seg.Error,
			nullJSON(seg.Sentiment, seg.Sentiment != nil), compound)
		if err != nil || seg.Original == "" {
			return err
		}
		_, err = s.exec(ctx, tx, `INSERT INTO segment_originals (segment_id, call_id, text) VALUES (?, ?, ?)
			ON CONFLICT (segment_id) DO UPDATE SET text = excluded.text`, seg.ID, seg.CallID, seg.Original)
		return err
	})
}

// PutAlert implements store.Writer.
func (s *Store) PutAlert(ctx context.Context, a msg.Alert) error {
	return s.writeRolled(ctx, "alert "+a.ID, a.CallID, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO alerts
			(id, call_id, rule_id, rule_name, severity, message, matches, at_ms, time, post_call)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET rule_id = excluded.rule_id, rule_name = excluded.rule_name,
			severity = excluded.severity, message = excluded.message, matches = excluded.matches,
			at_ms = excluded.at_ms, time = excluded.time, post_call = excluded.post_call`,
			a.ID, a.CallID, a.RuleID, a.RuleName, a.Severity, a.Message, jsonText(a.Matches), a.AtMS,
			a.Time.UnixMilli(), b2i(a.PostCall))
		if err != nil {
			return err
		}
		return s.tag(ctx, tx, a.CallID, "alert", a.RuleName)
	})
}

// PutCategories implements store.Writer.
func (s *Store) PutCategories(ctx context.Context, c msg.Categories) error {
	return s.writeRolled(ctx, "categories", c.CallID, func(tx *sql.Tx) error {
		for _, k := range c.Categories {
			if _, err := s.exec(ctx, tx, `INSERT INTO categories (call_id, name, rule_id, matches) VALUES (?, ?, ?, ?)
				ON CONFLICT (call_id, name) DO UPDATE SET rule_id = excluded.rule_id, matches = excluded.matches`,
				c.CallID, k.Name, k.RuleID, jsonText(k.Matches)); err != nil {
				return err
			}
			if err := s.tag(ctx, tx, c.CallID, "category", k.Name); err != nil {
				return err
			}
		}
		return nil
	})
}

// tag notes that a call has a category or an alert of a rule, with the
// call's start, end, agent and queue, for dashboards (PutCall keeps them
// in step).
func (s *Store) tag(ctx context.Context, tx *sql.Tx, callID, kind, name string) error {
	_, err := s.exec(ctx, tx, `INSERT INTO call_tags (call_id, kind, name, started_at, ended, agent, queue)
		SELECT id, ?, ?, started_at, CASE WHEN ended_at IS NULL THEN 0 ELSE 1 END, agent, queue FROM calls WHERE id = ?
		ON CONFLICT (call_id, kind, name) DO NOTHING`, kind, name, callID)
	return err
}

// PutCallSentiment implements store.Writer.
func (s *Store) PutCallSentiment(ctx context.Context, cs msg.CallSentiment) error {
	return s.writeRolled(ctx, "sentiment", cs.CallID, func(tx *sql.Tx) error {
		var overall, shift sql.NullFloat64
		if p, ok := cs.Participants[msg.RoleCustomer]; ok {
			overall, shift = sql.NullFloat64{Float64: p.Overall, Valid: true}, sql.NullFloat64{Float64: p.Shift, Valid: true}
		}
		res, err := s.exec(ctx, tx, `UPDATE calls SET sentiment = ?, sentiment_at = ?, sentiment_final = ?,
			customer_sentiment = ?, customer_shift = ?
			WHERE id = ? AND (? = 1 OR (sentiment_final = 0 AND sentiment_at <= ?))`,
			jsonText(cs), cs.AtMS, b2i(cs.Final), overall, shift, cs.CallID, b2i(cs.Final), cs.AtMS)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM call_sentiment WHERE call_id = ?`, cs.CallID); err != nil {
			return err
		}
		for _, role := range slices.Sorted(maps.Keys(cs.Participants)) {
			p := cs.Participants[role]
			if _, err := s.exec(ctx, tx, `INSERT INTO call_sentiment (call_id, role, overall, shift) VALUES (?, ?, ?, ?)`,
				cs.CallID, string(role), p.Overall, p.Shift); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutCharacteristics implements store.Writer.
func (s *Store) PutCharacteristics(ctx context.Context, c msg.Characteristics) error {
	byAgent := 0
	for _, in := range c.Interruptions {
		if in.By == msg.RoleAgent {
			byAgent++
		}
	}
	var wpm sql.NullFloat64
	if v, ok := c.TalkSpeedWPM[msg.RoleAgent]; ok {
		wpm = sql.NullFloat64{Float64: v, Valid: true}
	}
	return s.writeRolled(ctx, "characteristics", c.CallID, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `UPDATE calls SET characteristics = ?, characteristics_at = ?, characteristics_final = ?, non_talk_ms = ?,
			agent_talk_ms = ?, customer_talk_ms = ?, interruptions = ?, agent_interruptions = ?, agent_wpm = ?
			WHERE id = ? AND (? = 1 OR (characteristics_final = 0 AND characteristics_at <= ?))`,
			jsonText(c), c.AtMS, b2i(c.Final), c.NonTalkMS,
			c.TalkMS[msg.RoleAgent], c.TalkMS[msg.RoleCustomer], len(c.Interruptions), byAgent, wpm,
			c.CallID, b2i(c.Final), c.AtMS)
		return err
	})
}

// PutDTMF implements store.Writer.
func (s *Store) PutDTMF(ctx context.Context, ev msg.DTMFEvent, original string) error {
	return s.write(ctx, "dtmf", ev.CallID, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO dtmf (call_id, leg, start_ms, duration_ms, digit, original) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (call_id, leg, start_ms) DO UPDATE SET duration_ms = excluded.duration_ms, digit = excluded.digit,
			original = CASE WHEN excluded.original <> '' THEN excluded.original ELSE dtmf.original END`,
			ev.CallID, string(ev.Leg), ev.StartMS, ev.DurationMS, ev.Digit, original)
		return err
	})
}

// PutEvaluation implements store.Writer.
func (s *Store) PutEvaluation(ctx context.Context, ev msg.Evaluation) error {
	var score sql.NullFloat64
	if ev.Score != nil {
		score = sql.NullFloat64{Float64: *ev.Score, Valid: true}
	}
	return s.write(ctx, "evaluation "+ev.Form, ev.CallID, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `INSERT INTO evaluations (call_id, form, form_version, scored_at, score, doc) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (call_id, form) DO UPDATE SET form_version = excluded.form_version, scored_at = excluded.scored_at,
			score = excluded.score, doc = excluded.doc WHERE excluded.scored_at >= evaluations.scored_at`,
			ev.CallID, ev.Form, ev.FormVersion, ev.ScoredAt.UnixMilli(), score, jsonText(ev))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // an older evaluation: the newer stays
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM evaluation_answers WHERE call_id = ? AND form = ?`, ev.CallID, ev.Form); err != nil {
			return err
		}
		for _, a := range ev.Answers {
			if a.Value == "" {
				continue
			}
			if _, err := s.exec(ctx, tx, `INSERT INTO evaluation_answers (call_id, form, question, value) VALUES (?, ?, ?, ?)
				ON CONFLICT (call_id, form, question) DO UPDATE SET value = excluded.value`, ev.CallID, ev.Form, a.Question, a.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutSurvey implements store.Writer.
func (s *Store) PutSurvey(ctx context.Context, r msg.SurveyResult) error {
	return s.writeRolled(ctx, "survey "+r.Survey, r.CallID, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `DELETE FROM survey_answers WHERE call_id = ? AND survey = ?`, r.CallID, r.Survey); err != nil {
			return err
		}
		for _, a := range r.Answers {
			if _, err := s.exec(ctx, tx, `INSERT INTO survey_answers (call_id, survey, question, prompt, scale, value, at_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_id, survey, question) DO UPDATE SET
				prompt = excluded.prompt, scale = excluded.scale, value = excluded.value, at_ms = excluded.at_ms`,
				r.CallID, r.Survey, a.Question, a.Prompt, a.Scale, a.Value, a.AtMS); err != nil {
				return err
			}
		}
		_, err := s.exec(ctx, tx, `UPDATE calls SET
			csat_n = (SELECT COUNT(*) FROM survey_answers a WHERE a.call_id = calls.id AND a.scale = ?),
			csat_good = (SELECT COUNT(*) FROM survey_answers a WHERE a.call_id = calls.id AND a.scale = ? AND a.value >= 4),
			nps_n = (SELECT COUNT(*) FROM survey_answers a WHERE a.call_id = calls.id AND a.scale = ?),
			nps_prom = (SELECT COUNT(*) FROM survey_answers a WHERE a.call_id = calls.id AND a.scale = ? AND a.value >= 9),
			nps_det = (SELECT COUNT(*) FROM survey_answers a WHERE a.call_id = calls.id AND a.scale = ? AND a.value <= 6)
			WHERE id = ?`, msg.ScaleCSAT, msg.ScaleCSAT, msg.ScaleNPS, msg.ScaleNPS, msg.ScaleNPS, r.CallID)
		return err
	})
}

// surveys returns a call's survey results, by survey, answers in the
// order given.
func (s *Store) surveys(ctx context.Context, callID string) ([]msg.SurveyResult, error) {
	rows, err := s.query(ctx, `SELECT survey, question, prompt, scale, value, at_ms FROM survey_answers
		WHERE call_id = ? ORDER BY survey, at_ms, question`, callID)
	if err != nil {
		return nil, fmt.Errorf("surveys: %w", err)
	}
	defer rows.Close()
	var out []msg.SurveyResult
	for rows.Next() {
		var name string
		var a msg.SurveyAnswer
		if err := rows.Scan(&name, &a.Question, &a.Prompt, &a.Scale, &a.Value, &a.AtMS); err != nil {
			return nil, fmt.Errorf("surveys: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Survey != name {
			out = append(out, msg.SurveyResult{CallID: callID, Survey: name})
		}
		out[len(out)-1].Answers = append(out[len(out)-1].Answers, a)
	}
	return out, rows.Err()
}

// perCall are the tables keyed by call_id, deleted with their call.
var perCall = []string{"segment_originals", "segments", "alerts", "categories", "call_tags", "call_sentiment", "call_attributes", "dtmf",
	"evaluations", "evaluation_answers", "survey_answers"}

// DeleteBefore implements store.Writer.
func (s *Store) DeleteBefore(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		c := cutoff.UnixMilli()
		if s.d.LockOffsets != "" {
			if _, err := tx.ExecContext(ctx, s.d.LockOffsets); err != nil {
				return err
			}
		}
		if err := rollup(ctx, s.inTx(tx), -1, `c.started_at < ?`, c); err != nil {
			return err
		}
		for _, t := range perCall {
			if _, err := s.exec(ctx, tx, `DELETE FROM `+t+` WHERE call_id IN (SELECT id FROM calls WHERE started_at < ?)`, c); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
		}
		res, err := s.exec(ctx, tx, `DELETE FROM calls WHERE started_at < ?`, c)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s store: delete calls before %s: %w", s.d.Name, cutoff.Format(time.RFC3339), err)
	}
	return int(n), nil
}

// callColumns are the calls columns read into a CallSummary, in scanCall's order.
const callColumns = `c.id, c.agent, c.queue, c.attributes, c.legs, c.started_at, c.ended_at, c.duration_ms, c.end_reason, c.non_talk_ms`

type scanner interface{ Scan(dest ...any) error }

func scanCall(r scanner, extra ...any) (msg.CallSummary, error) {
	var (
		c            msg.CallSummary
		attrs, legs  string
		started      int64
		ended        sql.NullInt64
		nonTalk, dur int64
	)
	dest := append([]any{&c.CallID, &c.Agent, &c.Queue, &attrs, &legs, &started, &ended, &dur, &c.EndReason, &nonTalk}, extra...)
	if err := r.Scan(dest...); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
		return c, fmt.Errorf("call %s attributes: %w", c.CallID, err)
	}
	if len(c.Attributes) == 0 {
		c.Attributes = nil
	}
	if err := json.Unmarshal([]byte(legs), &c.Legs); err != nil {
		return c, fmt.Errorf("call %s legs: %w", c.CallID, err)
	}
	if len(c.Legs) == 0 {
		c.Legs = nil
	}
	c.StartedAt = time.UnixMilli(started).UTC()
	c.NonTalkMS = nonTalk
	c.DurationMS = dur
	if ended.Valid {
		t := time.UnixMilli(ended.Int64).UTC()
		c.EndedAt = &t
		if c.DurationMS == 0 {
			c.DurationMS = ended.Int64 - started
		}
	} else {
		c.DurationMS = max(0, time.Now().UnixMilli()-started)
	}
	return c, nil
}

// fill adds sentiment, categories and alert counts to summaries.
func (s *Store) fill(ctx context.Context, calls []*msg.CallSummary) error {
	if len(calls) == 0 {
		return nil
	}
	byID := map[string]*msg.CallSummary{}
	args := make([]any, len(calls))
	for i, c := range calls {
		byID[c.CallID] = c
		args[i] = c.CallID
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(calls)), ", ") + ")"
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT call_id, role, overall, shift FROM call_sentiment WHERE call_id IN `+in+` ORDER BY call_id, role`), args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, role string
		var overall, shift float64
		if err := rows.Scan(&id, &role, &overall, &shift); err != nil {
			rows.Close()
			return err
		}
		c := byID[id]
		if c.Sentiment == nil {
			c.Sentiment, c.Shift = map[msg.Role]float64{}, map[msg.Role]float64{}
		}
		c.Sentiment[msg.Role(role)] = overall
		c.Shift[msg.Role(role)] = shift
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT call_id, name FROM categories WHERE call_id IN `+in+` ORDER BY call_id, name`), args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		byID[id].Categories = append(byID[id].Categories, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT call_id, COUNT(*) FROM alerts WHERE call_id IN `+in+` GROUP BY call_id`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return err
		}
		byID[id].AlertCount = n
	}
	return rows.Err()
}

// Call implements store.Reader.
func (s *Store) Call(ctx context.Context, callID string, original bool) (msg.CallRecord, error) {
	rec, err := s.call(ctx, callID, original)
	if err != nil {
		return msg.CallRecord{}, fmt.Errorf("%s store: call %q: %w", s.d.Name, callID, err)
	}
	return rec, nil
}

func (s *Store) call(ctx context.Context, callID string, original bool) (msg.CallRecord, error) {
	var rec msg.CallRecord
	if err := msg.ValidateCallID(callID); err != nil {
		return rec, fmt.Errorf("%w: %w", msg.ErrNotFound, err)
	}
	var sent, chars sql.NullString
	c, err := scanCall(s.queryRow(ctx, `SELECT `+callColumns+`, c.sentiment, c.characteristics FROM calls c WHERE c.id = ?`, callID), &sent, &chars)
	if errors.Is(err, sql.ErrNoRows) {
		return rec, msg.ErrNotFound
	}
	if err != nil {
		return rec, err
	}
	if err := s.fill(ctx, []*msg.CallSummary{&c}); err != nil {
		return rec, err
	}
	rec.Call = c
	if sent.Valid {
		rec.Sentiment = new(msg.CallSentiment)
		if err := json.Unmarshal([]byte(sent.String), rec.Sentiment); err != nil {
			return rec, fmt.Errorf("sentiment: %w", err)
		}
	}
	if chars.Valid {
		rec.Characteristics = new(msg.Characteristics)
		if err := json.Unmarshal([]byte(chars.String), rec.Characteristics); err != nil {
			return rec, fmt.Errorf("characteristics: %w", err)
		}
	}
	origCol := `''`
	join := ``
	if original {
		origCol, join = `COALESCE(o.text, '')`, ` LEFT JOIN segment_originals o ON o.segment_id = s.id`
	}
	rows, err := s.query(ctx, `SELECT s.id, s.leg, s.turn, s.part, s.start_ms, s.end_ms, s.text, s.language, s.confidence, s.words, s.engine, s.model, s.dropped, s.error, s.sentiment, `+origCol+`
		FROM segments s`+join+` WHERE s.call_id = ? ORDER BY s.start_ms, s.leg, s.id`, callID)
	if err != nil {
		return rec, err
	}
	rec.Segments = []msg.StoredSegment{}
	for rows.Next() {
		var g msg.StoredSegment
		var leg, words string
		var sentJSON sql.NullString
		if err := rows.Scan(&g.ID, &leg, &g.Turn, &g.Part, &g.StartMS, &g.EndMS, &g.Text, &g.Language, &g.Confidence, &words, &g.Engine, &g.Model, &g.Dropped, &g.Error, &sentJSON, &g.Original); err != nil {
			rows.Close()
			return rec, err
		}
		g.CallID, g.Leg = callID, msg.Role(leg)
		if err := json.Unmarshal([]byte(words), &g.Words); err != nil {
			rows.Close()
			return rec, fmt.Errorf("segment %s words: %w", g.ID, err)
		}
		if len(g.Words) == 0 {
			g.Words = nil
		}
		if sentJSON.Valid {
			g.Sentiment = new(msg.Sentiment)
			if err := json.Unmarshal([]byte(sentJSON.String), g.Sentiment); err != nil {
				rows.Close()
				return rec, fmt.Errorf("segment %s sentiment: %w", g.ID, err)
			}
		}
		rec.Segments = append(rec.Segments, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rec, err
	}
	rows, err = s.query(ctx, `SELECT id, rule_id, rule_name, severity, message, matches, at_ms, time, post_call FROM alerts WHERE call_id = ? ORDER BY at_ms, id`, callID)
	if err != nil {
		return rec, err
	}
	for rows.Next() {
		a := msg.Alert{CallID: callID}
		var matches string
		var at int64
		var post int
		if err := rows.Scan(&a.ID, &a.RuleID, &a.RuleName, &a.Severity, &a.Message, &matches, &a.AtMS, &at, &post); err != nil {
			rows.Close()
			return rec, err
		}
		a.Time, a.PostCall = time.UnixMilli(at).UTC(), post == 1
		if err := json.Unmarshal([]byte(matches), &a.Matches); err != nil {
			rows.Close()
			return rec, fmt.Errorf("alert %s matches: %w", a.ID, err)
		}
		rec.Alerts = append(rec.Alerts, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rec, err
	}
	rows, err = s.query(ctx, `SELECT name, rule_id, matches FROM categories WHERE call_id = ? ORDER BY name`, callID)
	if err != nil {
		return rec, err
	}
	for rows.Next() {
		var k msg.Category
		var matches string
		if err := rows.Scan(&k.Name, &k.RuleID, &matches); err != nil {
			rows.Close()
			return rec, err
		}
		if err := json.Unmarshal([]byte(matches), &k.Matches); err != nil {
			rows.Close()
			return rec, fmt.Errorf("category %s matches: %w", k.Name, err)
		}
		rec.Categories = append(rec.Categories, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rec, err
	}
	rows, err = s.query(ctx, `SELECT doc FROM evaluations WHERE call_id = ? ORDER BY form`, callID)
	if err != nil {
		return rec, err
	}
	for rows.Next() {
		var doc string
		var ev msg.Evaluation
		if err := rows.Scan(&doc); err != nil {
			rows.Close()
			return rec, err
		}
		if err := json.Unmarshal([]byte(doc), &ev); err != nil {
			rows.Close()
			return rec, fmt.Errorf("evaluation: %w", err)
		}
		rec.Evaluations = append(rec.Evaluations, ev)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rec, err
	}
	if rec.Surveys, err = s.surveys(ctx, callID); err != nil {
		return rec, err
	}
	rows, err = s.query(ctx, `SELECT leg, start_ms, duration_ms, digit, original FROM dtmf WHERE call_id = ? ORDER BY start_ms, leg`, callID)
	if err != nil {
		return rec, err
	}
	defer rows.Close()
	for rows.Next() {
		ev := msg.DTMFEvent{CallID: callID}
		var leg, orig string
		if err := rows.Scan(&leg, &ev.StartMS, &ev.DurationMS, &ev.Digit, &orig); err != nil {
			return rec, err
		}
		ev.Leg = msg.Role(leg)
		if original && orig != "" {
			ev.Digit = orig
		}
		rec.DTMF = append(rec.DTMF, ev)
	}
	return rec, rows.Err()
}

// FirstSchema opens dsn with driver and migrates it to schema version 1
// only, as the first release left a database: for testing the migrations
// after it.
func FirstSchema(ctx context.Context, driver, dsn string, d Dialect) (*sql.DB, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	d.Migrations = d.Migrations[:1]
	s, err := New(ctx, db, d, 0)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s.DB(), nil
}

// EndedCalls implements store.Reader.
func (s *Store) EndedCalls(ctx context.Context, from, to time.Time, after string, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id FROM calls WHERE started_at >= ? AND started_at < ? AND ended_at IS NOT NULL AND id > ?
		ORDER BY id LIMIT ?`), from.UnixMilli(), to.UnixMilli(), after, limit)
	if err != nil {
		return nil, fmt.Errorf("%s store: ended calls: %w", s.d.Name, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("%s store: ended calls: %w", s.d.Name, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// SaveForm implements store.Forms. Two saves of one form at once may read
// the same newest version; the one whose insert conflicts tries again.
func (s *Store) SaveForm(ctx context.Context, f msg.SavedForm) (msg.SavedForm, error) {
	saved := false
	var err error
	for try := 0; try < 5 && err == nil && !saved; try++ {
		err = s.tx(ctx, func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(version), 0) + 1 FROM forms WHERE form = ?`), f.Form).Scan(&f.Version); err != nil {
				return err
			}
			res, err := s.exec(ctx, tx, `INSERT INTO forms (form, version, name, hash, text, saved_by, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (form, version) DO NOTHING`,
				f.Form, f.Version, f.Name, f.Hash, f.Text, f.SavedBy, f.SavedAt.UnixMilli())
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			saved = n == 1
			return err
		})
	}
	if err == nil && !saved {
		err = errors.New("other saves of the form kept taking its next version")
	}
	if err != nil {
		return f, fmt.Errorf("%s store: save form %s: %w", s.d.Name, f.Form, err)
	}
	f.SavedAt = time.UnixMilli(f.SavedAt.UnixMilli()).UTC()
	return f, nil
}

const formColumns = `form, version, name, hash, text, saved_by, saved_at`

func (s *Store) forms(ctx context.Context, query string, args ...any) ([]msg.SavedForm, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []msg.SavedForm
	for rows.Next() {
		var f msg.SavedForm
		var at int64
		if err := rows.Scan(&f.Form, &f.Version, &f.Name, &f.Hash, &f.Text, &f.SavedBy, &at); err != nil {
			return nil, err
		}
		f.SavedAt = time.UnixMilli(at).UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// FormVersions implements store.Forms.
func (s *Store) FormVersions(ctx context.Context, form string) ([]msg.SavedForm, error) {
	fs, err := s.forms(ctx, `SELECT `+formColumns+` FROM forms WHERE form = ? ORDER BY version DESC`, form)
	if err == nil && len(fs) == 0 {
		err = msg.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s store: form %q: %w", s.d.Name, form, err)
	}
	return fs, nil
}

// FormsAt implements store.Forms.
func (s *Store) FormsAt(ctx context.Context, at time.Time) ([]msg.SavedForm, error) {
	fs, err := s.forms(ctx, `SELECT `+formColumns+` FROM forms f WHERE version = (SELECT MAX(version) FROM forms g
		WHERE g.form = f.form AND g.saved_at <= ?) ORDER BY form`, at.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("%s store: forms at %s: %w", s.d.Name, at.Format(time.RFC3339), err)
	}
	return fs, nil
}
