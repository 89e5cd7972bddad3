package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/transcribe/whisper"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// asrNoLeaks checks, when the test and its cleanups are done, that no
// goroutine it started is left.
func asrNoLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt, natsJetStreamLeak) })
}

// asrServer is a real HTTP server speaking the OpenAI transcription API
// with a scripted answer (the transcriber test double at its boundary).
func asrServer(t *testing.T, answer string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

const asrAnswer = `{"text":" Thank you for calling.","language":"en","words":[{"word":"Thank","start":0.1,"end":0.3},{"word":"you","start":0.3,"end":0.5},{"word":"for","start":0.5,"end":0.6},{"word":"calling.","start":0.6,"end":1.1}]}`

// asrWAV writes a 16-bit PCM WAV with the given channels.
func asrWAV(t *testing.T, rate int, chans ...[]float64) string {
	t.Helper()
	var b bytes.Buffer
	n := len(chans[0])
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+2*n*len(chans)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(len(chans)), uint32(rate), uint32(2 * rate * len(chans)), uint16(2 * len(chans)), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(2*n*len(chans)))
	for i := range n {
		for _, c := range chans {
			binary.Write(&b, binary.LittleEndian, int16(c[i]*32767))
		}
	}
	p := filepath.Join(t.TempDir(), "call 42.wav")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func asrTone(rate, ms int, amp float64) []float64 {
	s := make([]float64, rate*ms/1000)
	for i := range s {
		s[i] = amp * math.Sin(2*math.Pi*300*float64(i)/float64(rate))
	}
	return s
}

func asrRun(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, stdio{strings.NewReader(""), &out, &errb})
	return code, out.String(), errb.String()
}

func TestASRTranscribeCmd(t *testing.T) {
	asrNoLeaks(t)
	srv, calls := asrServer(t, asrAnswer)
	// Stereo at 44.1 kHz: the agent speaks on the left, the right is silent.
	wav := asrWAV(t, 44100, asrTone(44100, 2000, 0.1), make([]float64, 44100*2))
	code, out, errs := asrRun(t, context.Background(), "transcribe", "--engine", "http", "--asr-url", srv.URL, wav)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || calls.Load() != 2 { // the start-up check and the left channel
		t.Fatalf("%d lines, %d requests (the silent channel must not reach the engine):\n%s", len(lines), calls.Load(), out)
	}
	var seg msg.Segment
	if err := json.Unmarshal([]byte(lines[0]), &seg); err != nil {
		t.Fatal(err)
	}
	if seg.CallID != "call_42" || seg.Leg != msg.RoleA || seg.Text != "Thank you for calling." || seg.StartMS != 0 || seg.EndMS != 2000 || len(seg.Words) != 4 || seg.Engine != "http" {
		t.Errorf("segment = %+v", seg)
	}
	if !strings.Contains(errs, "call 42.wav [") || !strings.Contains(errs, "100%") {
		t.Errorf("no progress bar on stderr: %q", errs)
	}
}

func TestASRTranscribeCmdPieces(t *testing.T) {
	// 70 s of speech with a pause at 25 s: cut into pieces of at most 30 s,
	// at quiet moments.
	audio := make([]float32, 70*16000)
	for i := range audio {
		if i < 25*16000 || i > 25*16000+3200 {
			audio[i] = float32(0.1 * math.Sin(float64(i)))
		}
	}
	p := asrPieces(audio)
	if len(p) != 3 || p[0][0] != 0 || p[2][1] != len(audio) {
		t.Fatalf("pieces %v", p)
	}
	if cut := p[0][1]; cut < 25*16000 || cut > 25*16000+3200 {
		t.Errorf("first cut at %.2f s, want in the pause at 25.0-25.2 s", float64(cut)/16000)
	}
	for i, q := range p {
		if q[1]-q[0] > 30*16000 || (i > 0 && q[0] != p[i-1][1]) {
			t.Errorf("piece %d = %v", i, q)
		}
	}
}

func TestASRBadInput(t *testing.T) {
	asrNoLeaks(t)
	srv, _ := asrServer(t, asrAnswer)
	garbage, _ := asrServer(t, "<html>It works!</html>")
	notWAV := filepath.Join(t.TempDir(), "notes.wav")
	os.WriteFile(notWAV, []byte("hello, not audio"), 0o600)
	good := asrWAV(t, 8000, asrTone(8000, 500, 0.1))
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no files", []string{"--engine", "http", "--asr-url", srv.URL}, 2, "no files"},
		{"missing file", []string{"--engine", "http", "--asr-url", srv.URL, good, "/nope/a.wav"}, 2, "/nope/a.wav"},
		{"not a wav", []string{"--engine", "http", "--asr-url", srv.URL, notWAV}, 2, notWAV + ": unsupported or malformed WAV"},
		{"bad stereo flag", []string{"--stereo", "left", good}, 2, "--stereo"},
		{"no engine", []string{good}, 2, "no transcription engine"},
		{"unknown engine", []string{"--engine", "vosk", good}, 2, `--engine "vosk"`},
		{"http without url", []string{"--engine", "http", good}, 2, "--asr-url"},
		{"missing model", []string{"--engine", "whisper", "--model", "/models/ggml-base.en.bin", good}, 2, "/models/ggml-base.en.bin does not exist"},
		{"not a model", []string{"--engine", "whisper", "--model", notWAV, good}, 2, notWAV + " is not a whisper.cpp ggml model"},
		{"server answers garbage", []string{"--engine", "http", "--asr-url", garbage.URL, good}, 1, garbage.URL + "/v1/audio/transcriptions answered 200 OK"},
		{"zero threads", []string{"--engine", "whisper", "--model", notWAV, "--asr-threads", "0", good}, 2, "--asr-threads 0"},
		{"bad audio ctx flag", []string{"--engine", "http", "--asr-url", srv.URL, "--asr-audio-ctx", "many", good}, 2, "invalid value \"many\" for flag -asr-audio-ctx"},
		{"server down", []string{"--engine", "http", "--asr-url", "http://127.0.0.1:1", "--asr-timeout", "2s", good}, 1, "http://127.0.0.1:1/v1/audio/transcriptions"},
	}
	if !whisper.Built {
		cases = append(cases, struct {
			name string
			args []string
			code int
			want string
		}{"untagged whisper", []string{"--engine", "whisper", "--model", sharedtest.Path(t, "models/for-tests-ggml-tiny.en.bin"), good}, 2, "-tags whisper"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := asrRun(t, context.Background(), append([]string{"transcribe", "--quiet"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errs, tc.code, tc.want)
			}
		})
	}
}

func TestASRStage(t *testing.T) {
	asrNoLeaks(t)
	srv, c := bustest.Start(t)
	asr, calls := asrServer(t, asrAnswer)
	segs := asrSegments(t, c, 4)

	// Without an engine the stage refuses to start, saying what to pass.
	for _, args := range [][]string{{}, {"--engine", "none"}, {"--engine", "http", "--asr-url", asr.URL, "--asr-workers", "0"}} {
		code, _, errs := asrRun(t, context.Background(), append([]string{"asr", "--nats", srv.ClientURL()}, args...)...)
		if code != 2 || !strings.Contains(errs, "--") {
			t.Errorf("asr %v: exit %d, %q", args, code, errs)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"asr", "--nats", srv.ClientURL(), "--engine", "http", "--asr-url", asr.URL, "--asr-workers", "2"}, stdio{strings.NewReader(""), io.Discard, &errb})
	}()
	pcm := make([]int16, 8000)
	for i, v := range asrTone(8000, 1000, 0.1) {
		pcm[i] = int16(v * 32767)
	}
	b, err := msg.EncodeUtterance(&msg.UtteranceJob{CallID: "c-asr", Leg: msg.RoleAgent, Turn: 1, StartMS: 2000, EndMS: 3000, SampleRate: 8000, PCM: pcm})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), msg.SubjectAudio("c-asr", msg.RoleAgent), b); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-segs:
		if s.ID != "c-asr/agent/1/0" || s.Text != "Thank you for calling." || s.Words[0].StartMS != 2100 {
			t.Errorf("segment = %+v", s)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no segment from earshot asr")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("earshot asr exited %d: %s", code, errb.String())
	}
	if calls.Load() != 2 { // the start-up check and the job
		t.Errorf("%d requests to the server, want 2", calls.Load())
	}
}

// asrSegments delivers the segments published on c, decoded, until the test
// ends; buffer is how many may wait unread.
func asrSegments(t *testing.T, c *bus.Conn, buffer int) <-chan *msg.Segment {
	t.Helper()
	segs := make(chan *msg.Segment, buffer)
	sub, err := c.NC.Subscribe(msg.AllTranscripts, func(m *nats.Msg) {
		s := new(msg.Segment)
		if err := msg.Unmarshal(m.Data, s); err == nil {
			segs <- s
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return segs
}
