package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/postgres"
	"github.com/earshot-dev/earshot/store/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// DSNEnv names the variable holding the test server's DSN; .ci/run sets it.
const DSNEnv = "EARSHOT_TEST_POSTGRES"

var schemas atomic.Int64

// testDSN returns a DSN whose search_path is a new, empty schema dropped
// when t ends. Without a server it skips, except under CI, where it fails.
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI: the PostgreSQL store must be tested against a real server (.ci/run starts one)", DSNEnv)
		}
		t.Skipf("%s is not set: no PostgreSQL server to test against (e.g. %s=postgres://postgres:earshot@127.0.0.1:5432/postgres)", DSNEnv, DSNEnv)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", DSNEnv, err)
	}
	schema := fmt.Sprintf("earshot_test_%d_%d", os.Getpid(), schemas.Add(1))
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("postgres at %s: %v", DSNEnv, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), postgres.Config{DSN: testDSN(t), MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Two processes starting at once both migrate safely, and a restart
// finds the schema current.
// migrations is how many migrations the dialect has.
const migrations = 8

func TestMigrationsConcurrentAndOnce(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	errs := make(chan error, 2)
	stores := make(chan *postgres.Store, 2)
	for range 2 {
		go func() {
			s, err := postgres.Open(ctx, postgres.Config{DSN: dsn})
			errs <- err
			stores <- s
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		s := <-stores
		v, err := s.Version(ctx)
		if err != nil || v != migrations {
			t.Errorf("version %d, %v", v, err)
		}
		s.Close()
	}
	s, err := postgres.Open(ctx, postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != migrations {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, migrations)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := postgres.Open(context.Background(), postgres.Config{}); err == nil {
		t.Fatal("Open without a DSN succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, postgres.Config{DSN: "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
}

func TestSearchTimeLimit(t *testing.T) {
	storetest.SearchTimeLimit(t, func(t *testing.T, limit time.Duration) store.Store {
		s, err := postgres.Open(context.Background(), postgres.Config{DSN: testDSN(t), MaxConns: 4, SearchTimeout: limit})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestDashboardBackfill(t *testing.T) {
	dsn := testDSN(t)
	storetest.DashboardBackfill(t, 3, func(t *testing.T) (store.Store, *sql.DB) {
		s, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		return s, s.DB()
	})
}

func TestRollupBackfill(t *testing.T) {
	dsn := testDSN(t)
	storetest.RollupBackfill(t, 7, func(t *testing.T) (store.Store, *sql.DB) {
		s, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		return s, s.DB()
	})
}

func TestMigrationKeepsKoreanSearch(t *testing.T) {
	dsn := testDSN(t)
	storetest.KoreanKeptBefore(t, postgres.FirstSchema(t, dsn), func() store.Store {
		s, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
