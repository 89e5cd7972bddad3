package sentiment

import (
	"context"
	"fmt"
	"testing"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
)

// BenchmarkAnalyzerOnNATS is the analyzer's throughput over a real
// embedded NATS: final segments of 200 calls in, a scored segment and a
// call sentiment out for each, published and acked.
func BenchmarkAnalyzerOnNATS(b *testing.B) {
	_, c := bustest.Start(b)
	got := make(chan struct{}, 4096)
	sub, err := c.NC.Subscribe(msg.SubjectCallSentiment("*"), func(*nats.Msg) { got <- struct{}{} })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	a, err := NewAnalyzer(c, Config{})
	if err != nil {
		b.Fatal(err)
	}
	const calls = 200
	data := make([][]byte, b.N)
	for i := range data {
		call := fmt.Sprintf("bench-%d", i%calls)
		data[i], _ = msg.Marshal(msg.Segment{
			ID: fmt.Sprintf("%s/customer/%d/0", call, i/calls), CallID: call, Leg: msg.RoleCustomer,
			StartMS: int64(i/calls) * 5000, EndMS: int64(i/calls)*5000 + 3000, Text: benchTexts[i%len(benchTexts)],
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}
