package transcribe

import (
	"context"
	"testing"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
)

// BenchmarkWorkerScripted is the worker's own cost per job with an engine
// that answers at once: decoding the frame, resampling 4 s of audio, the
// guard, publishing the segment and acking, over a real embedded NATS.
func BenchmarkWorkerScripted(b *testing.B) {
	_, c := bustest.Start(b)
	got := make(chan struct{}, 1024)
	sub, err := c.NC.Subscribe(msg.AllTranscripts, func(*nats.Msg) { got <- struct{}{} })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	eng := &scripted{script: says("I would like to check my balance please")}
	w, err := New(Config{Engine: eng, Workers: 2})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, c.JS) }()
	frame, err := msg.EncodeUtterance(job("bench", 1, speech(4000)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, err := c.JS.PublishAsync(msg.SubjectAudio("bench", msg.RoleAgent), frame); err != nil {
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
}
