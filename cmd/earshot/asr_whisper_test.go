//go:build whisper

package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
)

// The shared for-tests model runs the tiny graph but writes no text, so
// these check the wiring of the whisper engine, never transcripts.

func TestASRTranscribeCmdWhisper(t *testing.T) {
	asrNoLeaks(t)
	model := sharedtest.Path(t, "models/for-tests-ggml-tiny.en.bin")
	wav := sharedtest.Path(t, "data/speech/osr-8k/OSR_us_000_0034_8k.wav")
	code, out, errs := asrRun(t, context.Background(), "transcribe", "--model", model, "--asr-audio-ctx", "-1", wav)
	if code != 0 || out != "" || !strings.Contains(errs, "100% 35.5/35.5 s audio") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0, no segments (no text), a finished bar", code, out, errs)
	}
}

func TestASRStageWhisper(t *testing.T) {
	asrNoLeaks(t)
	srv, c := bustest.Start(t)
	segs := asrSegments(t, c, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"asr", "--nats", srv.ClientURL(),
			"--model", sharedtest.Path(t, "models/for-tests-ggml-tiny.en.bin"),
			"--asr-vad-model", sharedtest.Path(t, "models/ggml-silero-v6.2.0.bin"),
			"--asr-workers", "2", "--asr-audio-ctx", "-1"}, stdio{strings.NewReader(""), io.Discard, &errb})
	}()
	pcm := make([]int16, 16000)
	for i, v := range asrTone(8000, 2000, 0.1) {
		pcm[i] = int16(v * 32767)
	}
	b, err := msg.EncodeUtterance(&msg.UtteranceJob{CallID: "c-whisper", Leg: msg.RoleCustomer, Turn: 1, EndMS: 2000, SampleRate: 8000, PCM: pcm})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), msg.SubjectAudio("c-whisper", msg.RoleCustomer), b); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-segs:
		if s.ID != "c-whisper/customer/1/0" || s.Engine != "whisper" || s.Model != "for-tests-ggml-tiny.en" || s.Text != "" || s.Dropped == "" {
			t.Errorf("segment = %+v", s)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("no segment from earshot asr --engine whisper: %s", errb.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("earshot asr exited %d: %s", code, errb.String())
	}
}
