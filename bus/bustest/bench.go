package bustest

import (
	"context"
	"testing"

	"github.com/earshot-dev/earshot/bus"
)

// Throughput times a stage over c: run is started (it consumes until its
// context ends), b.N messages are published asynchronously, message i
// being data(i) on subject(i), and the timer stops once out has yielded
// b.N results; then run is stopped and must return nil.
func Throughput(b *testing.B, c *bus.Conn, run func(ctx context.Context) error, subject func(i int) string, data func(i int) []byte, out <-chan struct{}) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := range b.N {
			if _, err := c.JS.PublishAsync(subject(i), data(i)); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for range b.N {
		<-out
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	<-c.JS.PublishAsyncComplete()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
