package postgres

import (
	"context"
	"database/sql"
	"testing"

	"github.com/earshot-dev/earshot/store/internal/sqlstore"
)

// FirstSchema is the database at dsn as the first schema left it (only
// migration 1 applied), for testing the migrations after it.
func FirstSchema(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	d := dialect
	d.Migrations = d.Migrations[:1]
	s, err := sqlstore.New(context.Background(), db, d, 0)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return s.DB()
}
