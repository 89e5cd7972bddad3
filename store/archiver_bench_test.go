package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/sqlite"
)

// writerOnly hides a store's Batch, so that the archiver writes each
// message in a transaction of its own.
type writerOnly struct{ store.Writer }

// BenchmarkArchiverSQLite is the archiver's throughput from a real
// embedded NATS into SQLite: final segments of 200 calls, each message in
// its own transaction ("each") or the messages at hand in one ("batched").
func BenchmarkArchiverSQLite(b *testing.B) {
	for _, batched := range []bool{false, true} {
		b.Run(map[bool]string{false: "each", true: "batched"}[batched], func(b *testing.B) {
			_, c := bustest.Start(b)
			s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), sqlite.FileName)})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var w store.Writer = writerOnly{s}
			if batched {
				w = s
			}
			got := make(chan struct{}, 4096)
			a, err := store.NewArchiver(store.ArchiverConfig{Store: w, OnStored: func(string) { got <- struct{}{} }})
			if err != nil {
				b.Fatal(err)
			}
			const calls = 200
			call := func(i int) string { return fmt.Sprintf("bench-%d", i%calls) }
			bustest.Throughput(b, c, func(ctx context.Context) error { return a.Run(ctx, c.JS) },
				func(i int) string { return msg.SubjectTranscript(call(i)) },
				func(i int) []byte {
					d, _ := msg.Marshal(msg.Segment{
						ID: fmt.Sprintf("%s/customer/%d/0", call(i), i/calls), CallID: call(i), Leg: msg.RoleCustomer,
						StartMS: int64(i/calls) * 5000, EndMS: int64(i/calls)*5000 + 3000, Text: "I would like to check my balance please",
					})
					return d
				}, got)
		})
	}
}
