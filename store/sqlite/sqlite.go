// Package sqlite is Earshot's embedded store: one SQLite file (WAL mode)
// with an FTS5 full-text index over segment text, in pure Go
// (modernc.org/sqlite), so a single machine needs no database server.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/internal/sqlstore"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// FileName is the database file's name in the data directory.
const FileName = "earshot.db"

// Config says where the database is.
type Config struct {
	// Path is the database file; required (see FileName).
	Path string
	// ReadOnly opens an existing database without migrating or writing it
	// (for earshot search beside a running store).
	ReadOnly bool
	// SearchTimeout bounds one search (default store.MaxSearchTime).
	SearchTimeout time.Duration
}

// Store is the SQLite store.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open opens (creating, unless ReadOnly) the database at cfg.Path and
// brings its schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("sqlite store: no database path")
	}
	if cfg.ReadOnly {
		if _, err := os.Stat(cfg.Path); err != nil {
			return nil, fmt.Errorf("sqlite store: %w", err)
		}
	} else if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	v := url.Values{}
	v.Add("_pragma", "busy_timeout(10000)")
	v.Add("_pragma", "journal_mode(WAL)")
	v.Add("_pragma", "synchronous(NORMAL)")
	v.Set("_txlock", "immediate")
	if cfg.ReadOnly {
		v.Set("mode", "ro")
	}
	db, err := sql.Open("sqlite", "file:"+cfg.Path+"?"+v.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", cfg.Path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", cfg.Path, err)
	}
	d := dialect
	if cfg.ReadOnly {
		d.Migrations = nil
	}
	s, err := sqlstore.New(ctx, db, d, cfg.SearchTimeout)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	return &Store{s}, nil
}

var dialect = sqlstore.Dialect{
	Name:      "sqlite",
	MatchFrom: `segments_fts JOIN segments s ON s.rid = segments_fts.rowid WHERE segments_fts MATCH ?`,
	// With selective filters, drive from the calls and keep the segments
	// whose rid the query matches; the score is then the number of
	// matching segments.
	MatchWithin: `calls c CROSS JOIN segments s ON s.call_id = c.id
		WHERE %s AND s.rid IN (SELECT rowid FROM segments_fts WHERE segments_fts MATCH ?)`,
	MatchWithinScore: `1.0`,
	MatchScore:       `-segments_fts.rank`,
	RidList:          `group_concat(m.rid)`,
	ForUpdate:        "",
	LockOffsets:      "",
	Prepare:          true,
	Compile:          (*store.Query).FTS5,
	Migrations: []sqlstore.Migration{{Stmts: []string{
		`CREATE TABLE calls (
			id TEXT PRIMARY KEY,
			agent TEXT NOT NULL DEFAULT '',
			queue TEXT NOT NULL DEFAULT '',
			attributes TEXT NOT NULL DEFAULT '{}',
			legs TEXT NOT NULL DEFAULT '[]',
			started_at INTEGER NOT NULL,
			seen_start INTEGER NOT NULL DEFAULT 0,
			ended_at INTEGER,
			duration_ms INTEGER NOT NULL DEFAULT 0,
			end_reason TEXT NOT NULL DEFAULT '',
			non_talk_ms INTEGER NOT NULL DEFAULT 0,
			sentiment TEXT,
			sentiment_at INTEGER NOT NULL DEFAULT -1,
			sentiment_final INTEGER NOT NULL DEFAULT 0,
			characteristics TEXT,
			characteristics_at INTEGER NOT NULL DEFAULT -1,
			characteristics_final INTEGER NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX calls_started ON calls (started_at)`,
		`CREATE INDEX calls_agent ON calls (agent, started_at)`,
		`CREATE INDEX calls_queue ON calls (queue, started_at)`,
		`CREATE TABLE call_attributes (call_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (call_id, key))`,
		`CREATE INDEX call_attributes_kv ON call_attributes (key, value)`,
		`CREATE TABLE call_sentiment (call_id TEXT NOT NULL, role TEXT NOT NULL, overall REAL NOT NULL, shift REAL NOT NULL, PRIMARY KEY (call_id, role))`,
		`CREATE TABLE segments (
			rid INTEGER PRIMARY KEY,
			id TEXT NOT NULL UNIQUE,
			call_id TEXT NOT NULL,
			leg TEXT NOT NULL,
			turn INTEGER NOT NULL,
			part INTEGER NOT NULL,
			start_ms INTEGER NOT NULL,
			end_ms INTEGER NOT NULL,
			text TEXT NOT NULL,
			language TEXT NOT NULL,
			confidence REAL NOT NULL,
			words TEXT NOT NULL,
			engine TEXT NOT NULL,
			model TEXT NOT NULL,
			dropped TEXT NOT NULL,
			error TEXT NOT NULL,
			sentiment TEXT,
			compound REAL
		)`,
		`CREATE INDEX segments_call ON segments (call_id, start_ms)`,
		`CREATE VIRTUAL TABLE segments_fts USING fts5(text, content='segments', content_rowid='rid', tokenize='unicode61 remove_diacritics 0', detail='full')`,
		`CREATE TRIGGER segments_ai AFTER INSERT ON segments BEGIN
			INSERT INTO segments_fts (rowid, text) VALUES (new.rid, new.text);
		END`,
		`CREATE TRIGGER segments_ad AFTER DELETE ON segments BEGIN
			INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', old.rid, old.text);
		END`,
		`CREATE TRIGGER segments_au AFTER UPDATE OF text ON segments BEGIN
			INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', old.rid, old.text);
			INSERT INTO segments_fts (rowid, text) VALUES (new.rid, new.text);
		END`,
		`CREATE TABLE segment_originals (segment_id TEXT PRIMARY KEY, call_id TEXT NOT NULL, text TEXT NOT NULL)`,
		`CREATE INDEX segment_originals_call ON segment_originals (call_id)`,
		`CREATE TABLE alerts (
			id TEXT PRIMARY KEY, call_id TEXT NOT NULL, rule_id TEXT NOT NULL, rule_name TEXT NOT NULL,
			severity TEXT NOT NULL, message TEXT NOT NULL, matches TEXT NOT NULL,
			at_ms INTEGER NOT NULL, time INTEGER NOT NULL, post_call INTEGER NOT NULL
		)`,
		`CREATE INDEX alerts_call ON alerts (call_id)`,
		`CREATE TABLE categories (call_id TEXT NOT NULL, name TEXT NOT NULL, rule_id TEXT NOT NULL, matches TEXT NOT NULL, PRIMARY KEY (call_id, name))`,
		`CREATE INDEX categories_name ON categories (name)`,
		`CREATE TABLE dtmf (call_id TEXT NOT NULL, leg TEXT NOT NULL, start_ms INTEGER NOT NULL, duration_ms INTEGER NOT NULL, digit TEXT NOT NULL, original TEXT NOT NULL, PRIMARY KEY (call_id, leg, start_ms))`,
	}}, {
		// The index holds each Korean word without its particles
		// (store.SearchText), so that 계좌 finds 계좌를 and 계좌가:
		// segments.search_text has that text where it differs (NULL
		// keeps one copy of English text), and the index, rebuilt for
		// the segments kept before, reads it through a view.
		Stmts: []string{
			`ALTER TABLE segments ADD COLUMN search_text TEXT`,
			`DROP TRIGGER segments_ai`,
			`DROP TRIGGER segments_ad`,
			`DROP TRIGGER segments_au`,
			`DROP TABLE segments_fts`,
			`CREATE VIEW segments_search AS SELECT rid, COALESCE(search_text, text) AS body FROM segments`,
			`CREATE VIRTUAL TABLE segments_fts USING fts5(body, content='segments_search', content_rowid='rid', tokenize='unicode61 remove_diacritics 0', detail='full')`,
			`CREATE TRIGGER segments_ai AFTER INSERT ON segments BEGIN
				INSERT INTO segments_fts (rowid, body) VALUES (new.rid, COALESCE(new.search_text, new.text));
			END`,
			`CREATE TRIGGER segments_ad AFTER DELETE ON segments BEGIN
				INSERT INTO segments_fts (segments_fts, rowid, body) VALUES ('delete', old.rid, COALESCE(old.search_text, old.text));
			END`,
			`CREATE TRIGGER segments_au AFTER UPDATE OF text, search_text ON segments BEGIN
				INSERT INTO segments_fts (segments_fts, rowid, body) VALUES ('delete', old.rid, COALESCE(old.search_text, old.text));
				INSERT INTO segments_fts (rowid, body) VALUES (new.rid, COALESCE(new.search_text, new.text));
			END`,
			`INSERT INTO segments_fts (segments_fts) VALUES ('rebuild')`,
		},
		Then: sqlstore.FillSearchText,
	}, {
		// What dashboards aggregate, kept so that one index range scan
		// answers them: the characteristics and the customer's sentiment
		// as columns of calls, and each call's categories and alert rules
		// with the call's start, end, agent and queue (call_tags). Filled
		// from what is already kept.
		Stmts: []string{
			`ALTER TABLE calls ADD COLUMN agent_talk_ms INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE calls ADD COLUMN customer_talk_ms INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE calls ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE calls ADD COLUMN agent_interruptions INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE calls ADD COLUMN agent_wpm REAL`,
			`ALTER TABLE calls ADD COLUMN customer_sentiment REAL`,
			`ALTER TABLE calls ADD COLUMN customer_shift REAL`,
			`UPDATE calls SET
				agent_talk_ms = COALESCE(json_extract(characteristics, '$.talk_ms.agent'), 0),
				customer_talk_ms = COALESCE(json_extract(characteristics, '$.talk_ms.customer'), 0),
				interruptions = COALESCE(json_array_length(characteristics, '$.interruptions'), 0),
				agent_interruptions = (SELECT COUNT(*) FROM json_each(calls.characteristics, '$.interruptions') WHERE json_extract(value, '$.by') = 'agent'),
				agent_wpm = json_extract(characteristics, '$.talk_speed_wpm.agent')
				WHERE characteristics IS NOT NULL`,
			`UPDATE calls SET
				customer_sentiment = (SELECT overall FROM call_sentiment s WHERE s.call_id = calls.id AND s.role = 'customer'),
				customer_shift = (SELECT shift FROM call_sentiment s WHERE s.call_id = calls.id AND s.role = 'customer')`,
			`CREATE INDEX calls_dashboard ON calls (started_at, ended_at, agent, queue, duration_ms, characteristics_at, non_talk_ms,
				agent_talk_ms, customer_talk_ms, interruptions, agent_interruptions, agent_wpm, customer_sentiment, customer_shift)`,
			`CREATE TABLE call_tags (call_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
				started_at INTEGER NOT NULL, ended INTEGER NOT NULL, agent TEXT NOT NULL, queue TEXT NOT NULL,
				PRIMARY KEY (call_id, kind, name))`,
			`CREATE INDEX call_tags_dashboard ON call_tags (started_at, ended, agent, queue, kind, name)`,
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
			`CREATE TABLE evaluations (call_id TEXT NOT NULL, form TEXT NOT NULL, form_version TEXT NOT NULL,
				scored_at INTEGER NOT NULL, score REAL, doc TEXT NOT NULL, PRIMARY KEY (call_id, form))`,
			`CREATE INDEX evaluations_score ON evaluations (score)`,
			`CREATE TABLE evaluation_answers (call_id TEXT NOT NULL, form TEXT NOT NULL, question TEXT NOT NULL,
				value TEXT NOT NULL, PRIMARY KEY (call_id, form, question))`,
			`CREATE INDEX evaluation_answers_value ON evaluation_answers (question, value)`,
		},
	}, {
		// Evaluation forms: every saved version of each.
		Stmts: []string{
			`CREATE TABLE forms (form TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL,
				text TEXT NOT NULL, saved_by TEXT NOT NULL, saved_at INTEGER NOT NULL, PRIMARY KEY (form, version))`,
		},
	}, {
		// Post-call survey answers (SurveyResult), and what dashboards
		// aggregate of them as columns of calls: the answers to 1-5
		// questions and those of 4-5 (CSAT), the answers to 0-10
		// questions, promoters (9-10) and detractors (0-6) (NPS).
		Stmts: []string{
			`CREATE TABLE survey_answers (call_id text NOT NULL, survey text NOT NULL, question text NOT NULL,
				prompt text NOT NULL, scale text NOT NULL, value integer NOT NULL, at_ms INTEGER NOT NULL,
				PRIMARY KEY (call_id, survey, question))`,
			`ALTER TABLE calls ADD COLUMN csat_n INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE calls ADD COLUMN csat_good INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE calls ADD COLUMN nps_n INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE calls ADD COLUMN nps_prom INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE calls ADD COLUMN nps_det INTEGER NOT NULL DEFAULT 0`,
		},
	}, {
		// Daily rollups of what dashboards aggregate (see
		// sqlstore.RollupStmts), filled from the calls kept before.
		Stmts: sqlstore.RollupStmts("INTEGER", "REAL", " WITHOUT ROWID"),
		Then:  sqlstore.FillRollups,
	}},
}
