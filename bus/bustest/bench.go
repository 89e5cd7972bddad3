package bustest

import (
	"context"
	"errors"
	"testing"

	"github.com/earshot-dev/earshot/bus"
	"github.com/nats-io/nats.go/jetstream"
)

// Throughput times a stage over c: run is started (it consumes until its
// context ends), b.N messages are published asynchronously, message i
// being data(i) on subject(i), and the timer stops once out has yielded
// b.N results; then run is stopped and must return nil.
func Throughput(b *testing.B, c *bus.Conn, run func(ctx context.Context) error, subject func(i int) string, data func(i int) []byte, out <-chan struct{}) {
	b.Helper()
	Drive(b, c, run, subject, data, b.N, out)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// Drive is Throughput for a stage that yields a result for only some of
// the messages: the timer stops once out has yielded want results.
func Drive(b *testing.B, c *bus.Conn, run func(ctx context.Context) error, subject func(i int) string, data func(i int) []byte, want int, out <-chan struct{}) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	b.ReportAllocs()
	b.ResetTimer()
	failed := make(chan error, 1)
	go func() {
		for i := range b.N {
			// A publish stalled behind too many the server has not
			// acked yet is sent again.
			for {
				_, err := c.JS.PublishAsync(subject(i), data(i))
				if err == nil {
					break
				}
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
					failed <- err
					return
				}
			}
		}
	}()
	for range want {
		select {
		case <-out:
		case err := <-failed:
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	<-c.JS.PublishAsyncComplete()
}
