// Package recordtest is the one conformance suite every record.Store
// passes: whole puts, reads from an offset, stat, delete, list by prefix,
// and names refused.
package recordtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/earshot-dev/earshot/record"
)

// Run runs the suite; newStore returns a new, empty store.
func Run(t *testing.T, newStore func(t *testing.T) record.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s record.Store)
	}{
		{"PutOpen", testPutOpen},
		{"OpenFromOffset", testOffset},
		{"Replace", testReplace},
		{"FailedPutKeepsOld", testFailedPut},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"List", testList},
		{"BadNames", testBadNames},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, newStore(t)) })
	}
}

// data is bigger than a NATS object store chunk (128 KiB), so reads cross chunks.
func data(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func put(t *testing.T, s record.Store, name string, b []byte) record.Info {
	t.Helper()
	info, err := s.Put(context.Background(), name, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
	return info
}

func read(t *testing.T, s record.Store, name string, off int64) ([]byte, record.Info) {
	t.Helper()
	rc, info, err := s.Open(context.Background(), name, off)
	if err != nil {
		t.Fatalf("open %s at %d: %v", name, off, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b, info
}

func testPutOpen(t *testing.T, s record.Store) {
	b := data(300_000, 1)
	info := put(t, s, "call-1/original.wav", b)
	if info.Name != "call-1/original.wav" || info.Size != int64(len(b)) || info.ModTime.IsZero() {
		t.Errorf("put info = %+v", info)
	}
	got, info := read(t, s, "call-1/original.wav", 0)
	if !bytes.Equal(got, b) {
		t.Errorf("read back %d bytes, not the %d put", len(got), len(b))
	}
	if info.Size != int64(len(b)) {
		t.Errorf("open size %d, want %d", info.Size, len(b))
	}
	st, err := s.Stat(context.Background(), "call-1/original.wav")
	if err != nil || st.Size != int64(len(b)) {
		t.Errorf("stat = %+v, %v", st, err)
	}
	put(t, s, "empty", nil)
	if got, _ := read(t, s, "empty", 0); len(got) != 0 {
		t.Errorf("empty object read %d bytes", len(got))
	}
}

func testOffset(t *testing.T, s record.Store) {
	b := data(300_000, 2)
	put(t, s, "c/r", b)
	for _, off := range []int64{1, 131_071, 131_072, 200_000, 299_999, 300_000} {
		got, _ := read(t, s, "c/r", off)
		if !bytes.Equal(got, b[off:]) {
			t.Errorf("from %d: read %d bytes, want the %d from there", off, len(got), len(b)-int(off))
		}
	}
	for _, off := range []int64{300_001, -1} {
		_, _, err := s.Open(context.Background(), "c/r", off)
		if !errors.Is(err, record.ErrRange) {
			t.Errorf("open at %d: err %v, want ErrRange", off, err)
		}
	}
}

func testReplace(t *testing.T, s record.Store) {
	put(t, s, "c/r", data(1000, 3))
	b := data(500, 4)
	put(t, s, "c/r", b)
	if got, _ := read(t, s, "c/r", 0); !bytes.Equal(got, b) {
		t.Errorf("after replace read %d bytes, want the second put's %d", len(got), len(b))
	}
}

type failing struct{ n int }

var errBroken = errors.New("broken reader")

func (f *failing) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errBroken
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

func testFailedPut(t *testing.T, s record.Store) {
	ctx := context.Background()
	if _, err := s.Put(ctx, "c/new", &failing{n: 200_000}); !errors.Is(err, errBroken) {
		t.Errorf("put from a failing reader: err %v, want it wrapped", err)
	}
	if _, err := s.Stat(ctx, "c/new"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("a failed put left an object: stat err %v", err)
	}
	b := data(1000, 5)
	put(t, s, "c/old", b)
	if _, err := s.Put(ctx, "c/old", &failing{n: 200_000}); err == nil {
		t.Error("put from a failing reader succeeded")
	}
	if got, _ := read(t, s, "c/old", 0); !bytes.Equal(got, b) {
		t.Errorf("a failed put changed the old object: %d bytes", len(got))
	}
	if l, err := s.List(ctx, ""); err != nil || len(l) != 1 {
		t.Errorf("list after failed puts = %v, %v; want just c/old", l, err)
	}
}

func testNotFound(t *testing.T, s record.Store) {
	ctx := context.Background()
	put(t, s, "c/r", data(10, 6))
	for _, name := range []string{"nope", "c", "c/r/x"} {
		if _, _, err := s.Open(ctx, name, 0); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("open %s: err %v, want ErrNotFound", name, err)
		}
		if _, err := s.Stat(ctx, name); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("stat %s: err %v, want ErrNotFound", name, err)
		}
	}
}

func testDelete(t *testing.T, s record.Store) {
	ctx := context.Background()
	put(t, s, "c/a", data(10, 7))
	put(t, s, "c/b", data(10, 8))
	if err := s.Delete(ctx, "c/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "c/a"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("stat after delete: err %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "c/a"); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if _, err := s.Stat(ctx, "c/b"); err != nil {
		t.Errorf("delete took the neighbour: %v", err)
	}
	put(t, s, "c/a", data(10, 9))
	if _, err := s.Stat(ctx, "c/a"); err != nil {
		t.Errorf("put after delete: %v", err)
	}
}

func testList(t *testing.T, s record.Store) {
	ctx := context.Background()
	if l, err := s.List(ctx, ""); err != nil || len(l) != 0 {
		t.Fatalf("empty store lists %v, %v", l, err)
	}
	for _, n := range []string{"b/2", "a/1", "a/2", "ab/1"} {
		put(t, s, n, data(3, 1))
	}
	names := func(prefix string) []string {
		l, err := s.List(ctx, prefix)
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		var out []string
		for _, i := range l {
			if i.Size != 3 {
				t.Errorf("list %s size %d", i.Name, i.Size)
			}
			out = append(out, i.Name)
		}
		return out
	}
	if got := names(""); !slices.Equal(got, []string{"a/1", "a/2", "ab/1", "b/2"}) {
		t.Errorf("list all = %v", got)
	}
	if got := names("a/"); !slices.Equal(got, []string{"a/1", "a/2"}) {
		t.Errorf("list a/ = %v", got)
	}
	if got := names("zz/"); len(got) != 0 {
		t.Errorf("list zz/ = %v", got)
	}
}

func testBadNames(t *testing.T, s record.Store) {
	ctx := context.Background()
	for _, n := range []string{"", "../x", "a/../../x", "/abs", "a//b", "a b", "a\x00b", "a/"} {
		if _, err := s.Put(ctx, n, bytes.NewReader(nil)); !errors.Is(err, record.ErrName) {
			t.Errorf("put %q: err %v, want ErrName", n, err)
		}
		if _, _, err := s.Open(ctx, n, 0); !errors.Is(err, record.ErrName) {
			t.Errorf("open %q: err %v, want ErrName", n, err)
		}
	}
	if _, err := s.List(ctx, "../"); !errors.Is(err, record.ErrName) {
		t.Errorf("list ../: err %v, want ErrName", err)
	}
}
