package transcribe

import (
	"context"
	"strconv"
	"testing"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
)

// BenchmarkWorkerScripted is the worker's own cost per job with an engine
// that answers at once: decoding the frame, resampling 4 s of audio, the
// guard, publishing the segment and acking, over a real embedded NATS.
// The interim case adds the check for a newer job on the leg (there is
// none: each job is on a leg of its own).
func BenchmarkWorkerScripted(b *testing.B) {
	b.Run("final", func(b *testing.B) { benchWorker(b, false) })
	b.Run("interim", func(b *testing.B) { benchWorker(b, true) })
}

func benchWorker(b *testing.B, interim bool) {
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
	in := job("bench", 1, speech(4000))
	in.Interim, in.Rev = interim, 1
	frame, err := msg.EncodeUtterance(in)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := range b.N {
			if _, err := c.JS.PublishAsync(msg.SubjectAudio("bench-"+strconv.Itoa(i), msg.RoleAgent), frame); err != nil {
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
