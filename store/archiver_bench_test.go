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
			got := make(chan string, 4096)
			a, err := store.NewArchiver(store.ArchiverConfig{Store: w, OnStored: func(sub string) { got <- sub }})
			if err != nil {
				b.Fatal(err)
			}
			const calls = 200
			data := make([][]byte, b.N)
			for i := range data {
				call := fmt.Sprintf("bench-%d", i%calls)
				data[i], _ = msg.Marshal(msg.Segment{
					ID: fmt.Sprintf("%s/customer/%d/0", call, i/calls), CallID: call, Leg: msg.RoleCustomer,
					StartMS: int64(i/calls) * 5000, EndMS: int64(i/calls)*5000 + 3000, Text: "I would like to check my balance please",
				})
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx, c.JS) }()
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				for i, d := range data {
					if _, err := c.JS.PublishAsync(msg.SubjectTranscript(fmt.Sprintf("bench-%d", i%calls)), d); err != nil {
						b.Error(err)
						return
					}
				}
			}()
			for range b.N {
				<-got
			}
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			<-c.JS.PublishAsyncComplete()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
