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
	call := func(i int) string { return fmt.Sprintf("bench-%d", i%calls) }
	bustest.Throughput(b, c, func(ctx context.Context) error { return a.Run(ctx, c.JS) },
		func(i int) string { return msg.SubjectTranscript(call(i)) },
		func(i int) []byte {
			d, _ := msg.Marshal(msg.Segment{
				ID: fmt.Sprintf("%s/customer/%d/0", call(i), i/calls), CallID: call(i), Leg: msg.RoleCustomer,
				StartMS: int64(i/calls) * 5000, EndMS: int64(i/calls)*5000 + 3000, Text: benchTexts[i%len(benchTexts)],
			})
			return d
		}, got)
}
