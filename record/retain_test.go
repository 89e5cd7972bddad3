package record_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/record"
)

func TestDeleteBefore(t *testing.T) {
	dir := t.TempDir()
	st, err := record.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, n := range []string{"old/original.wav", "old/redacted.wav", "new/redacted.wav", "going/parts/0000000000001-000000000000.ul"} {
		if _, err := st.Put(ctx, n, bytes.NewReader([]byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	for _, n := range []string{"old/original.wav", "old/redacted.wav", "going/parts/0000000000001-000000000000.ul"} {
		if err := os.Chtimes(filepath.Join(dir, n), past, past); err != nil {
			t.Fatal(err)
		}
	}
	n, err := record.DeleteBefore(ctx, st, time.Now().Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want the 2 old recordings", n, err)
	}
	l, _ := st.List(ctx, "")
	if len(l) != 2 || l[0].Name != "going/parts/0000000000001-000000000000.ul" || l[1].Name != "new/redacted.wav" {
		t.Errorf("left %v, want the new recording and the one in progress", l)
	}
}
