package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store/sqlite"
	"github.com/earshot-dev/earshot/store/storetest"
)

// The benchmark corpus: EARSHOT_BENCH_CALLS calls (default 10,000) of 100
// segments each (default 1,000,000 segments), 200 agents, 8 queues, 90 days.
// Built once and kept under the temp dir, keyed by its parameters (a build
// takes minutes); delete the directory to rebuild.
// benchDB returns the path of the corpus database, building it first if
// it is not cached, and reports the build's ingest rate when it builds.
func benchDB(b *testing.B, c storetest.Corpus) string {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("earshot-bench-v2-%d-%d-%d", c.Seed, c.Calls, c.SegmentsPerCall))
	path := filepath.Join(dir, sqlite.FileName)
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return path
	}
	os.RemoveAll(dir)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	n := 0
	// Calls through the store's own writes, segments in bulk below.
	if err := storetest.PutBenchCalls(ctx, s, c); err != nil {
		b.Fatal(err)
	}
	var tx *sql.Tx
	var stmt *sql.Stmt
	err = c.Each(func(ev msg.CallEvent, segs []msg.StoredSegment) error {
		if tx == nil {
			if tx, err = s.DB().BeginTx(ctx, nil); err != nil {
				return err
			}
			if stmt, err = tx.PrepareContext(ctx, `INSERT INTO segments (id, call_id, leg, turn, part, start_ms, end_ms, text, language, confidence, words, engine, model, dropped, error, sentiment, compound)
				VALUES (?, ?, ?, ?, 0, ?, ?, ?, 'en', 0.9, '[]', '', '', '', '', ?, ?)`); err != nil {
				return err
			}
		}
		for _, g := range segs {
			if _, err := stmt.ExecContext(ctx, g.ID, g.CallID, string(g.Leg), g.Turn, g.StartMS, g.EndMS, g.Text,
				fmt.Sprintf(`{"label":"neutral","compound":%g}`, g.Sentiment.Compound), g.Sentiment.Compound); err != nil {
				return err
			}
			n++
		}
		if n%50000 == 0 {
			stmt.Close()
			err := tx.Commit()
			tx = nil
			return err
		}
		return nil
	})
	if err == nil && tx != nil {
		stmt.Close()
		err = tx.Commit()
	}
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO segments_fts(segments_fts) VALUES ('optimize')`); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.Logf("built %d segments of %d calls in %s: %.0f segments/s (batched, with FTS5 indexing)", n, c.Calls, el.Round(time.Second), float64(n)/el.Seconds())
	if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchOpen opens the benchmark corpus's database read-only, building it
// first if it is not cached.
func benchOpen(b *testing.B) (*sqlite.Store, storetest.Corpus, string) {
	c := storetest.BenchCorpus(b)
	path := benchDB(b, c)
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	return s, c, path
}

// BenchmarkSearchPhraseTwoFilters is a phrase query with two filters (an
// agent and a 30-day window) over the corpus; each op is one search (first
// page, snippets included). It reports p50/p95 latency and the index size.
func BenchmarkSearchPhraseTwoFilters(b *testing.B) {
	s, c, path := benchOpen(b)
	defer s.Close()
	b.ResetTimer()
	storetest.BenchSearchPhraseTwoFilters(b, s, c)
	b.StopTimer()
	reportSize(b, s.DB(), path)
}

// BenchmarkSearchWord is a one-word query without filters: the worst case,
// the whole posting list of a common word is ranked.
func BenchmarkSearchWord(b *testing.B) {
	s, _, _ := benchOpen(b)
	defer s.Close()
	ctx := context.Background()
	var lat []time.Duration
	for b.Loop() {
		t := time.Now()
		if _, err := s.Search(ctx, msg.SearchQuery{Text: "refund"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[int(0.95*float64(len(lat)-1))].Microseconds())/1000, "p95-ms")
}

func reportSize(b *testing.B, db *sql.DB, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "db-MiB")
	var pages, size int64
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
		b.Fatal(err)
	}
	// The FTS5 index proper lives in segments_fts_data.
	if err := db.QueryRow(`SELECT COUNT(*) FROM segments_fts_data`).Scan(&pages); err == nil {
		var bytes int64
		if err := db.QueryRow(`SELECT COALESCE(SUM(LENGTH(block)), 0) FROM segments_fts_data`).Scan(&bytes); err == nil {
			b.ReportMetric(float64(bytes)/(1<<20), "fts-MiB")
		}
	}
}

// BenchmarkPutSegment is the archiver's write path: one segment per
// transaction, with FTS5 indexing, into a store that already holds calls.
func BenchmarkPutSegment(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), sqlite.FileName)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := storetest.Corpus{Seed: 3, Calls: 1 + b.N/100, SegmentsPerCall: 100, Agents: 10, Queues: 2, Days: 1, End: time.Now()}
	var all []msg.StoredSegment
	if err := c.Each(func(ev msg.CallEvent, segs []msg.StoredSegment) error {
		all = append(all, segs...)
		return s.PutCall(ctx, ev)
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.PutSegment(ctx, all[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}

// BenchmarkSearchWorst runs storetest.WorstQueries over the corpus; it
// reports the longest one (each op is one query).
func BenchmarkSearchWorst(b *testing.B) {
	s, _, _ := benchOpen(b)
	defer s.Close()
	b.ResetTimer()
	storetest.BenchSearchWorst(b, s)
}

// BenchmarkDashboard runs storetest.BenchDashboard on the dashboard corpus
// (EARSHOT_BENCH_CALLS calls, default 100,000, without segments), built
// through the store's own writes once and kept under the temp dir keyed by
// its parameters; delete the directory to rebuild.
func BenchmarkDashboard(b *testing.B) {
	c := storetest.DashboardCorpus(b)
	dir := storetest.DashboardCorpusDir(c)
	path := filepath.Join(dir, sqlite.FileName)
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		os.RemoveAll(dir)
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := storetest.PutDashboardCalls(context.Background(), s, c); err != nil {
			b.Fatal(err)
		}
		if _, err := s.DB().Exec(`ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		s.Close()
		b.Logf("built %d calls in %s", c.Calls, time.Since(start).Round(time.Second))
		if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	storetest.BenchDashboard(b, s, c)
}
