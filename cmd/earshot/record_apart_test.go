package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/record"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/zaf/g711"
)

// stageStart runs an earshot stage command in this process until the
// test ends or stop is called (as SIGTERM); it must exit 0.
func stageStart(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr string
	go func() {
		var code int
		code, _, stderr = captureRun(ctx, args...)
		done <- code
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		switch code := <-done; {
		case code != 0:
			t.Errorf("earshot %s exited %d: %s", args[0], code, stderr)
		case t.Failed() && stderr != "":
			t.Logf("earshot %s's log:\n%s", args[0], stderr)
		}
	})
	t.Cleanup(stop)
	return stop
}

// TestRecordingRedactedWithStagesApart runs capture (recording into the
// NATS object store), analyze and store as separate stages on one NATS
// server, sends the card-number call over RTP and transcribes it with
// timed words: capture's process, which has no store, writes the
// redacted recording from the audio redaction the store publishes, silent
// over the card number and the original's, byte for byte, elsewhere.
func TestRecordingRedactedWithStagesApart(t *testing.T) {
	if !synthcall.Available() {
		t.Skip(synthcall.ErrNoTools)
	}
	storeNoLeaks(t)
	srv, conn := bustest.Start(t)
	url := srv.ClientURL()
	scripts, calls := e2eScripted(t, "../../examples/calls/card-number.json")
	sc, call := scripts[0], calls[scripts[0].CallID]
	dir := t.TempDir()
	rules, err := os.ReadFile("../../examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	rtp := captureFreePort(t)
	captureStart(t, conn.NC, "--nats", url, "--rtp", rtp, "--record", "redacted-and-original", "--log-level", "warn")
	stageStart(t, "store", "--nats", url, "--data", dir, "--log-level", "warn")
	stageStart(t, "analyze", "--nats", url, "--data", dir, "--log-level", "warn")
	asrCtx, stopASR := context.WithCancel(context.Background())
	asrDone := make(chan error, 1)
	go func() { asrDone <- e2eTimedWordsASR(asrCtx, conn, "en", calls) }()
	defer func() { stopASR(); <-asrDone }()
	if err := e2eSend(conn, rtp, sc, call, 4); err != nil {
		t.Fatal(err)
	}

	// The store's audio redaction, from the stream.
	ctx := context.Background()
	oc, err := conn.JS.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{FilterSubjects: []string{msg.SubjectRedaction(sc.CallID)}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := oc.Next(jetstream.FetchMaxWait(90 * time.Second))
	if err != nil {
		t.Fatalf("no audio redaction for %s: %v", sc.CallID, err)
	}
	var red msg.AudioRedaction
	if err := msg.Unmarshal(m.Data(), &red); err != nil {
		t.Fatal(err)
	}
	var card synthcall.Span
	for _, s := range call.Truth {
		if strings.Contains(s.Text, "four one one one") {
			card = s
		}
	}
	covered := int64(0)
	for _, s := range red.Spans {
		covered += max(0, min(s.EndMS, card.EndMS)-max(s.StartMS, card.StartMS))
	}
	if covered < (card.EndMS-card.StartMS)/2 {
		t.Fatalf("audio redaction %v covers %d ms of the card number's turn %d-%d ms", red.Spans, covered, card.StartMS, card.EndMS)
	}

	// The redacted recording, written where capture records.
	st, err := record.NewObjectStore(ctx, conn.JS, record.ObjectStoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	obs, err := conn.JS.ObjectStore(ctx, record.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	w, err := obs.Watch(ctx, jetstream.IncludeHistory())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	timeout := time.After(60 * time.Second)
	for written := false; !written; {
		select {
		case info := <-w.Updates():
			written = info != nil && info.Name == record.RedactedName(sc.CallID) && !info.Deleted
		case <-timeout:
			t.Fatal("no redacted recording within 60 s of the audio redaction")
		}
	}
	orig, red8 := readFrames(t, st, record.OriginalName(sc.CallID)), readFrames(t, st, record.RedactedName(sc.CallID))
	if len(orig) != len(red8) || len(orig) < 2*30*8000 {
		t.Fatalf("redacted %d bytes, original %d", len(red8), len(orig))
	}
	masked := record.MaskSpans(red.Spans, record.DefaultPad)
	var speech float64
	for i := 0; i < len(orig); i++ {
		f := int64(i / 2)
		in := false
		for _, s := range masked {
			in = in || f >= s.Start && f < s.End
		}
		switch {
		case in && g711.DecodeUlawFrame(red8[i]) != 0:
			t.Fatalf("frame %d (%d ms) inside a masked span is not silent", f, f/8)
		case in:
			v := float64(g711.DecodeUlawFrame(orig[i]))
			speech += v * v
		case red8[i] != orig[i]:
			t.Fatalf("frame %d (%d ms) outside the masked spans changed", f, f/8)
		}
	}
	if speech == 0 {
		t.Error("the original is silent over the masked spans: nothing was masked")
	}
}

// readFrames returns a sealed recording's µ-law bytes, agent then
// customer for each frame.
func readFrames(t *testing.T, st record.Store, name string) []byte {
	t.Helper()
	rc, _, err := st.Open(context.Background(), name, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rec, err := record.ParseWAV(rc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.LimitReader(rc, rec.Frames*2))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
