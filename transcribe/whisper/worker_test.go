//go:build whisper

package whisper

import (
	"context"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/transcribe"
	"github.com/nats-io/nats.go"
)

// TestWorkerJobFlow runs the real engine behind the worker on the real
// bus: a speech job and a silent job each yield one final segment; the
// for-tests model writes no text, so both are empty with a reason.
func TestWorkerJobFlow(t *testing.T) {
	_, c := bustest.Start(t)
	e := newEngine(t, Config{Workers: 2, Threads: 1, AudioCtx: AudioCtxFit, VADModelPath: sharedtest.Path(t, vadModel)})
	w, err := transcribe.New(transcribe.Config{Engine: e, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	segs := make(chan *msg.Segment, 4)
	sub, err := c.NC.Subscribe(msg.AllTranscripts, func(m *nats.Msg) {
		s := new(msg.Segment)
		if err := msg.Unmarshal(m.Data, s); err != nil {
			t.Error(err)
		}
		segs <- s
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, c.JS) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	// 3 s of real speech taken down to 8 kHz, as capture sends it.
	sp := speech16k(t, 3000)
	pcm := make([]int16, len(sp)/2)
	for i := range pcm {
		pcm[i] = int16(sp[2*i] * 32767)
	}
	jobs := []*msg.UtteranceJob{
		{CallID: "wcall", Leg: msg.RoleCustomer, Turn: 1, StartMS: 500, EndMS: 3500, SampleRate: 8000, PCM: pcm},
		{CallID: "wcall", Leg: msg.RoleAgent, Turn: 1, StartMS: 4000, EndMS: 6000, SampleRate: 8000, PCM: make([]int16, 16000)},
	}
	for _, j := range jobs {
		b, err := msg.EncodeUtterance(j)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(context.Background(), msg.SubjectAudio(j.CallID, j.Leg), b); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]*msg.Segment{}
	for range jobs {
		select {
		case s := <-segs:
			got[s.ID] = s
		case <-time.After(60 * time.Second):
			t.Fatalf("segments so far %v", got)
		}
	}
	for _, j := range jobs {
		s := got[j.ID()]
		if s == nil || s.Interim || s.Engine != "whisper" || s.Model != "for-tests-ggml-tiny.en" || s.Text != "" || s.Dropped == "" || s.Error != "" {
			t.Errorf("segment for %s = %+v", j.ID(), s)
		}
	}
}
