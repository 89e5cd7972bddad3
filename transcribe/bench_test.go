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
	in := job("bench", 1, speech(4000))
	in.Interim, in.Rev = interim, 1
	frame, err := msg.EncodeUtterance(in)
	if err != nil {
		b.Fatal(err)
	}
	bustest.Throughput(b, c, func(ctx context.Context) error { return w.Run(ctx, c.JS) },
		func(i int) string { return msg.SubjectAudio("bench-"+strconv.Itoa(i), msg.RoleAgent) },
		func(int) []byte { return frame }, got)
}
