package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/sqlite"
	"github.com/earshot-dev/earshot/store/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), sqlite.FileName)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// FuzzSearch runs arbitrary query text against a real FTS5 index: every
// query is either answered or refused as msg.ErrBadQuery, never an SQL error.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{`refund`, `"cancel my subscription" -fee`, `(a OR b*) AND NOT c`, `"`, `NOT NOT x y`, `x -(-y)`, `ab* OR "c d"*`} {
		f.Add(s)
	}
	dir := f.TempDir()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, sqlite.FileName)})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.PutSegment(ctx, msg.StoredSegment{Segment: msg.Segment{ID: "f/a/1/0", CallID: "f", Leg: msg.RoleAgent, Text: "cancel my subscription, no fee"}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if _, err := s.Search(ctx, msg.SearchQuery{Text: q}); err != nil && !errors.Is(err, msg.ErrBadQuery) {
			t.Fatalf("Search(%q): %v", q, err)
		}
	})
}

func TestSearchTimeLimit(t *testing.T) {
	storetest.SearchTimeLimit(t, func(t *testing.T, limit time.Duration) store.Store {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), sqlite.FileName), SearchTimeout: limit})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestDashboardBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	storetest.DashboardBackfill(t, 3, func(t *testing.T) (store.Store, *sql.DB) {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return s, s.DB()
	})
}

func TestRollupBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	storetest.RollupBackfill(t, 7, func(t *testing.T) (store.Store, *sql.DB) {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return s, s.DB()
	})
}

func TestMigrationKeepsKoreanSearch(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	storetest.KoreanKeptBefore(t, sqlite.FirstSchema(t, path), func() store.Store {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
