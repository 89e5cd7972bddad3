package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store/internal/sqlstore"
	"github.com/earshot-dev/earshot/store/postgres"
	"github.com/earshot-dev/earshot/store/sqlite"
	"github.com/earshot-dev/earshot/store/storetest"
)

// benchStore opens the benchmark corpus (the same as store/sqlite's:
// EARSHOT_BENCH_CALLS calls, default 10,000, of 100 segments) in a schema
// of the EARSHOT_TEST_POSTGRES database, building it the first time; drop
// the schema earshot_bench_v2_<calls> to rebuild.
func benchStore(b *testing.B) (*postgres.Store, storetest.Corpus) {
	c := storetest.BenchCorpus(b)
	s := benchSchema(b, fmt.Sprintf("earshot_bench_v2_%d", c.Calls), func(s *postgres.Store) { build(b, s, c) })
	return s, c
}

// benchSchema opens the store in schema of the EARSHOT_TEST_POSTGRES
// database, filling it with build the first time (the table bench_complete
// marks it done); drop the schema to rebuild.
func benchSchema(b *testing.B, schema string, build func(s *postgres.Store)) *postgres.Store {
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		b.Skipf("%s is not set: no PostgreSQL server to benchmark", DSNEnv)
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	var done bool
	if err := admin.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'bench_complete')`, schema).Scan(&done); err != nil {
		b.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// A corpus is scratch data: its writes need not wait for the disk.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	if !done {
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE; CREATE SCHEMA `+schema); err != nil {
			b.Fatal(err)
		}
	}
	s, err := postgres.Open(ctx, postgres.Config{DSN: u.String()})
	if err != nil {
		b.Fatal(err)
	}
	if !done {
		build(s)
	}
	return s
}

func build(b *testing.B, s *postgres.Store, c storetest.Corpus) {
	ctx := context.Background()
	start := time.Now()
	if err := storetest.PutBenchCalls(ctx, s, c); err != nil {
		b.Fatal(err)
	}
	// Segments go in 100-row statements, one transaction per 100 calls:
	// the archiver's one-per-transaction path is BenchmarkPutSegment's.
	n := 0
	var tx *sql.Tx
	err := c.Each(func(ev msg.CallEvent, segs []msg.StoredSegment) error {
		var err error
		if tx == nil {
			if tx, err = s.DB().BeginTx(ctx, nil); err != nil {
				return err
			}
		}
		var sb strings.Builder
		args := make([]any, 0, 9*len(segs))
		sb.WriteString(`INSERT INTO segments (id, call_id, leg, turn, part, start_ms, end_ms, text, language, confidence, words, engine, model, dropped, error, sentiment, compound) VALUES `)
		for i, g := range segs {
			if i > 0 {
				sb.WriteString(", ")
			}
			k := len(args)
			fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, 0, $%d, $%d, $%d, 'en', 0.9, '[]', '', '', '', '', $%d, $%d)", k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8, k+9)
			args = append(args, g.ID, g.CallID, string(g.Leg), g.Turn, g.StartMS, g.EndMS, g.Text,
				fmt.Sprintf(`{"label":"neutral","compound":%g}`, g.Sentiment.Compound), g.Sentiment.Compound)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return err
		}
		n += len(segs)
		if n%10000 == 0 {
			err := tx.Commit()
			tx = nil
			return err
		}
		return nil
	})
	if err == nil && tx != nil {
		err = tx.Commit()
	}
	if err == nil {
		_, err = s.DB().ExecContext(ctx, `ANALYZE; CREATE TABLE bench_complete ()`)
	}
	if err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.Logf("built %d segments of %d calls in %s: %.0f segments/s (100-row inserts, with tsvector and GIN)", n, c.Calls, el.Round(time.Second), float64(n)/el.Seconds())
}

// BenchmarkSearchPhraseTwoFilters is store/sqlite's benchmark on PostgreSQL.
func BenchmarkSearchPhraseTwoFilters(b *testing.B) {
	s, c := benchStore(b)
	defer s.Close()
	ctx := context.Background()
	storetest.BenchSearchPhraseTwoFilters(b, s, c)
	var total, idx int64
	if err := s.DB().QueryRowContext(ctx, `SELECT pg_total_relation_size('segments'), pg_relation_size('segments_tsv')`).Scan(&total, &idx); err == nil {
		b.ReportMetric(float64(total)/(1<<20), "segments-MiB")
		b.ReportMetric(float64(idx)/(1<<20), "gin-MiB")
	}
}

// BenchmarkSearchWorst is store/sqlite's benchmark on PostgreSQL.
func BenchmarkSearchWorst(b *testing.B) {
	s, _ := benchStore(b)
	defer s.Close()
	b.ResetTimer()
	storetest.BenchSearchWorst(b, s)
}

// BenchmarkDashboard is store/sqlite's benchmark on PostgreSQL (schema
// earshot_dashboard_v3_<calls>). When store/sqlite's corpus is built, its
// calls, tags and survey answers are copied and rolled up by the rollup
// migration's fill (what a database upgraded with calls already kept goes
// through); else the corpus is built through the store's own writes, which
// takes an hour on a busy machine (a round trip a statement).
func BenchmarkDashboard(b *testing.B) {
	c := storetest.DashboardCorpus(b)
	s := benchSchema(b, fmt.Sprintf("earshot_dashboard_v3_%d", c.Calls), func(s *postgres.Store) {
		ctx := context.Background()
		start := time.Now()
		dir := storetest.DashboardCorpusDir(c)
		if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
			copyDashboard(b, filepath.Join(dir, sqlite.FileName), s)
		} else if err := storetest.PutDashboardCalls(ctx, s, c); err != nil {
			b.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, `ANALYZE; CREATE TABLE bench_complete ()`); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d calls in %s", c.Calls, time.Since(start).Round(time.Second))
	})
	defer s.Close()
	b.ResetTimer()
	storetest.BenchDashboard(b, s, c)
}

// copyDashboard copies what dashboards read (calls, call_tags,
// survey_answers) from the SQLite database at path to s, 500 rows a
// statement, and rolls the calls up.
func copyDashboard(b *testing.B, path string, s *postgres.Store) {
	ctx := context.Background()
	from, err := sqlite.Open(ctx, sqlite.Config{Path: path, ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer from.Close()
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for _, table := range []string{"calls", "call_tags", "survey_answers"} {
		rows, err := from.DB().QueryContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			b.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			b.Fatal(err)
		}
		var args []any
		flush := func() {
			if len(args) == 0 {
				return
			}
			var vals []string
			for i := 0; i < len(args); i += len(cols) {
				var ph []string
				for j := range cols {
					ph = append(ph, fmt.Sprintf("$%d", i+j+1))
				}
				vals = append(vals, "("+strings.Join(ph, ", ")+")")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (`+strings.Join(cols, ", ")+`) VALUES `+strings.Join(vals, ", "), args...); err != nil {
				b.Fatalf("%s: %v", table, err)
			}
			args = args[:0]
		}
		for rows.Next() {
			row := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range row {
				ptrs[i] = &row[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				b.Fatal(err)
			}
			args = append(args, row...)
			if len(args) >= 500*len(cols) {
				flush()
			}
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
		flush()
	}
	if err := sqlstore.FillRollups(ctx, tx, func(q string) string { return q }); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
