// Package postgres is Earshot's scaled-out store: PostgreSQL through pgx,
// with a tsvector column and a GIN index for full-text search, and versioned
// migrations applied at start-up under an advisory lock.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/internal/sqlstore"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Config says which database to use.
type Config struct {
	// DSN is a postgres:// URL or key=value connection string; required.
	DSN string
	// MaxConns bounds open connections; default 10.
	MaxConns int
	// SearchTimeout bounds one search (default store.MaxSearchTime).
	SearchTimeout time.Duration
}

// Store is the PostgreSQL store.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open connects to the database and brings its schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.DSN == "" {
		return nil, errors.New("postgres store: no DSN")
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 10
	}
	db, err := sql.Open("pgx", cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	db.SetMaxOpenConns(cfg.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres store: connect: %w", err)
	}
	s, err := sqlstore.New(ctx, db, dialect, cfg.SearchTimeout)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{s}, nil
}

var dialect = sqlstore.Dialect{
	Name:          "postgres",
	Numbered:      true,
	MigrationLock: `SELECT pg_advisory_xact_lock(727400601)`,
	MatchFrom:     `segments s, to_tsquery('simple', ?) tq WHERE s.tsv @@ tq`,
	MatchScore:    `ts_rank(s.tsv, tq)`,
	// With selective filters, take the few calls first (OFFSET 0 keeps the
	// planner from flattening the subquery) and test their segments'
	// tsvectors, instead of a GIN bitmap over every match of the query.
	MatchWithin: `(SELECT c.id FROM calls c WHERE %s OFFSET 0) cand
		JOIN segments s ON s.call_id = cand.id CROSS JOIN to_tsquery('simple', ?) tq WHERE s.tsv @@ tq`,
	MatchWithinScore: `ts_rank(s.tsv, tq)`,
	RidList:          `string_agg(CAST(m.rid AS text), ',')`,
	ForUpdate:        " FOR UPDATE",
	LockOffsets:      "LOCK TABLE dashboard_offsets IN SHARE MODE",
	Compile:          (*store.Query).TSQuery,
	Migrations: []sqlstore.Migration{{Stmts: []string{
		`CREATE TABLE calls (
			id text PRIMARY KEY,
			agent text NOT NULL DEFAULT '',
			queue text NOT NULL DEFAULT '',
			attributes text NOT NULL DEFAULT '{}',
			legs text NOT NULL DEFAULT '[]',
			started_at bigint NOT NULL,
			seen_start integer NOT NULL DEFAULT 0,
			ended_at bigint,
			duration_ms bigint NOT NULL DEFAULT 0,
			end_reason text NOT NULL DEFAULT '',
			non_talk_ms bigint NOT NULL DEFAULT 0,
			sentiment text,
			sentiment_at bigint NOT NULL DEFAULT -1,
			sentiment_final integer NOT NULL DEFAULT 0,
			characteristics text,
			characteristics_at bigint NOT NULL DEFAULT -1,
			characteristics_final integer NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX calls_started ON calls (started_at)`,
		`CREATE INDEX calls_agent ON calls (agent, started_at)`,
		`CREATE INDEX calls_queue ON calls (queue, started_at)`,
		`CREATE TABLE call_attributes (call_id text NOT NULL, key text NOT NULL, value text NOT NULL, PRIMARY KEY (call_id, key))`,
		`CREATE INDEX call_attributes_kv ON call_attributes (key, value)`,
		`CREATE TABLE call_sentiment (call_id text NOT NULL, role text NOT NULL, overall double precision NOT NULL, shift double precision NOT NULL, PRIMARY KEY (call_id, role))`,
		`CREATE TABLE segments (
			rid bigserial PRIMARY KEY,
			id text NOT NULL UNIQUE,
			call_id text NOT NULL,
			leg text NOT NULL,
			turn integer NOT NULL,
			part integer NOT NULL,
			start_ms bigint NOT NULL,
			end_ms bigint NOT NULL,
			text text NOT NULL,
			language text NOT NULL,
			confidence double precision NOT NULL,
			words text NOT NULL,
			engine text NOT NULL,
			model text NOT NULL,
			dropped text NOT NULL,
			error text NOT NULL,
			sentiment text,
			compound double precision,
			tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
		)`,
		`CREATE INDEX segments_call ON segments (call_id, start_ms)`,
		`CREATE INDEX segments_tsv ON segments USING GIN (tsv)`,
		`CREATE TABLE segment_originals (segment_id text PRIMARY KEY, call_id text NOT NULL, text text NOT NULL)`,
		`CREATE INDEX segment_originals_call ON segment_originals (call_id)`,
		`CREATE TABLE alerts (
			id text PRIMARY KEY, call_id text NOT NULL, rule_id text NOT NULL, rule_name text NOT NULL,
			severity text NOT NULL, message text NOT NULL, matches text NOT NULL,
			at_ms bigint NOT NULL, time bigint NOT NULL, post_call integer NOT NULL
		)`,
		`CREATE INDEX alerts_call ON alerts (call_id)`,
		`CREATE TABLE categories (call_id text NOT NULL, name text NOT NULL, rule_id text NOT NULL, matches text NOT NULL, PRIMARY KEY (call_id, name))`,
		`CREATE INDEX categories_name ON categories (name)`,
		`CREATE TABLE dtmf (call_id text NOT NULL, leg text NOT NULL, start_ms bigint NOT NULL, duration_ms bigint NOT NULL, digit text NOT NULL, original text NOT NULL, PRIMARY KEY (call_id, leg, start_ms))`,
	}}, {
		// The index holds each Korean word without its particles
		// (store.SearchText), so that 계좌 finds 계좌를 and 계좌가:
		// segments.search_text has that text where it differs (NULL
		// keeps one copy of English text), and tsv, recomputed for the
		// segments kept before, is made from it.
		Stmts: []string{
			`DROP INDEX segments_tsv`,
			`ALTER TABLE segments ADD COLUMN search_text text, DROP COLUMN tsv`,
			`ALTER TABLE segments ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', COALESCE(search_text, text))) STORED`,
			`CREATE INDEX segments_tsv ON segments USING GIN (tsv)`,
		},
		Then: sqlstore.FillSearchText,
	}, {
		// What dashboards aggregate, kept so that one index range scan
		// answers them: the characteristics and the customer's sentiment
		// as columns of calls, and each call's categories and alert rules
		// with the call's start, end, agent and queue (call_tags). Filled
		// from what is already kept.
		Stmts: []string{
			`ALTER TABLE calls ADD COLUMN agent_talk_ms bigint NOT NULL DEFAULT 0,
				ADD COLUMN customer_talk_ms bigint NOT NULL DEFAULT 0,
				ADD COLUMN interruptions integer NOT NULL DEFAULT 0,
				ADD COLUMN agent_interruptions integer NOT NULL DEFAULT 0,
				ADD COLUMN agent_wpm double precision,
				ADD COLUMN customer_sentiment double precision,
				ADD COLUMN customer_shift double precision`,
			`UPDATE calls SET
				agent_talk_ms = COALESCE((characteristics::jsonb #>> '{talk_ms,agent}')::bigint, 0),
				customer_talk_ms = COALESCE((characteristics::jsonb #>> '{talk_ms,customer}')::bigint, 0),
				interruptions = COALESCE(jsonb_array_length(characteristics::jsonb -> 'interruptions'), 0),
				agent_interruptions = (SELECT COUNT(*) FROM jsonb_array_elements(COALESCE(characteristics::jsonb -> 'interruptions', '[]'::jsonb)) e WHERE e ->> 'by' = 'agent'),
				agent_wpm = (characteristics::jsonb #>> '{talk_speed_wpm,agent}')::double precision
				WHERE characteristics IS NOT NULL`,
			`UPDATE calls SET customer_sentiment = s.overall, customer_shift = s.shift
				FROM call_sentiment s WHERE s.call_id = calls.id AND s.role = 'customer'`,
			`CREATE INDEX calls_dashboard ON calls (started_at) INCLUDE (ended_at, agent, queue, duration_ms, characteristics_at, non_talk_ms,
				agent_talk_ms, customer_talk_ms, interruptions, agent_interruptions, agent_wpm, customer_sentiment, customer_shift)`,
			`CREATE TABLE call_tags (call_id text NOT NULL, kind text NOT NULL, name text NOT NULL,
				started_at bigint NOT NULL, ended integer NOT NULL, agent text NOT NULL, queue text NOT NULL,
				PRIMARY KEY (call_id, kind, name))`,
			`CREATE INDEX call_tags_dashboard ON call_tags (started_at) INCLUDE (ended, agent, queue, kind, name)`,
			`INSERT INTO call_tags (call_id, kind, name, started_at, ended, agent, queue)
				SELECT k.call_id, 'category', k.name, c.started_at, CASE WHEN c.ended_at IS NULL THEN 0 ELSE 1 END, c.agent, c.queue
				FROM categories k JOIN calls c ON c.id = k.call_id`,
			`INSERT INTO call_tags (call_id, kind, name, started_at, ended, agent, queue)
				SELECT DISTINCT a.call_id, 'alert', a.rule_name, c.started_at, CASE WHEN c.ended_at IS NULL THEN 0 ELSE 1 END, c.agent, c.queue
				FROM alerts a JOIN calls c ON c.id = a.call_id`,
		},
	}, {
		// Evaluations: a call's scored forms, with their totals and
		// answers as columns to filter calls by.
		Stmts: []string{
			`CREATE TABLE evaluations (call_id text NOT NULL, form text NOT NULL, form_version text NOT NULL,
				scored_at bigint NOT NULL, score double precision, doc text NOT NULL, PRIMARY KEY (call_id, form))`,
			`CREATE INDEX evaluations_score ON evaluations (score)`,
			`CREATE TABLE evaluation_answers (call_id text NOT NULL, form text NOT NULL, question text NOT NULL,
				value text NOT NULL, PRIMARY KEY (call_id, form, question))`,
			`CREATE INDEX evaluation_answers_value ON evaluation_answers (question, value)`,
		},
	}, {
		// Evaluation forms: every saved version of each.
		Stmts: []string{
			`CREATE TABLE forms (form text NOT NULL, version integer NOT NULL, name text NOT NULL, hash text NOT NULL,
				text text NOT NULL, saved_by text NOT NULL, saved_at bigint NOT NULL, PRIMARY KEY (form, version))`,
		},
	}, {
		// Post-call survey answers (SurveyResult), and what dashboards
		// aggregate of them as columns of calls: the answers to 1-5
		// questions and those of 4-5 (CSAT), the answers to 0-10
		// questions, promoters (9-10) and detractors (0-6) (NPS).
		Stmts: []string{
			`CREATE TABLE survey_answers (call_id text NOT NULL, survey text NOT NULL, question text NOT NULL,
				prompt text NOT NULL, scale text NOT NULL, value integer NOT NULL, at_ms bigint NOT NULL,
				PRIMARY KEY (call_id, survey, question))`,
			`ALTER TABLE calls ADD COLUMN csat_n integer NOT NULL DEFAULT 0,
				ADD COLUMN csat_good integer NOT NULL DEFAULT 0,
				ADD COLUMN nps_n integer NOT NULL DEFAULT 0,
				ADD COLUMN nps_prom integer NOT NULL DEFAULT 0,
				ADD COLUMN nps_det integer NOT NULL DEFAULT 0`,
		},
	}, {
		// Daily rollups of what dashboards aggregate (see
		// sqlstore.RollupStmts), filled from the calls kept before.
		Stmts: sqlstore.RollupStmts("bigint", "double precision", ""),
		Then:  sqlstore.FillRollups,
	}, {
		// The days of every key of a dimension at once: a week's edge
		// days on a dashboard by week (SQLite skips from key to key in
		// the primary key instead; PostgreSQL 15 cannot, and read every
		// rollup row).
		Stmts: []string{
			`CREATE INDEX dashboard_days_days ON dashboard_days (tz, dim, day)`,
			`CREATE INDEX dashboard_day_tags_days ON dashboard_day_tags (tz, dim, day) INCLUDE (key, kind, name, calls)`,
		},
	}},
}
