package postgres

import (
	"context"
	"database/sql"
	"testing"

	"github.com/earshot-dev/earshot/store/internal/sqlstore"
)

// FirstSchema is the database as the first schema left it (only migration
// 1 applied), for testing the migrations after it.
func FirstSchema(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sqlstore.FirstSchema(context.Background(), "pgx", dsn, dialect)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
