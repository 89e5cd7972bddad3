package sqlite

import (
	"context"
	"database/sql"
	"testing"

	"github.com/earshot-dev/earshot/store/internal/sqlstore"
)

// FirstSchema is the database as the first schema left it (only migration
// 1 applied), for testing the migrations after it.
func FirstSchema(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sqlstore.FirstSchema(context.Background(), "sqlite", "file:"+path, dialect)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
