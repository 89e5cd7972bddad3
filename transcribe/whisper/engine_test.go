//go:build whisper

package whisper

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/transcribe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The shared for-tests model is whisper.cpp's header-only tiny.en: it
// loads and runs the whole tiny compute graph but yields no text, so these
// tests check loading, job flow, timing and concurrency, never text.
const (
	testModel = "models/for-tests-ggml-tiny.en.bin"
	vadModel  = "models/ggml-silero-v6.2.0.bin"
)

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	if cfg.ModelPath == "" {
		cfg.ModelPath = sharedtest.Path(t, testModel)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// speech16k returns ms of real speech at 16 kHz (jfk, 11 s, repeated).
func speech16k(t testing.TB, ms int) []float32 {
	t.Helper()
	f, err := os.Open(sharedtest.Path(t, "data/speech/jfk/jfk-16k.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := transcribe.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, 0, ms*16)
	for len(out) < ms*16 {
		out = append(out, w.Channels[0][:min(len(w.Channels[0]), ms*16-len(out))]...)
	}
	return out
}

func TestLoadAndRun(t *testing.T) {
	e := newEngine(t, Config{Threads: 2})
	if e.Info().Name != "whisper" || e.Info().Model != "for-tests-ggml-tiny.en" || e.Multilingual() {
		t.Fatalf("info %+v, multilingual %v", e.Info(), e.Multilingual())
	}
	start := time.Now()
	res, err := e.Transcribe(context.Background(), transcribe.Audio{Samples: speech16k(t, 3000)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3 s of speech through the tiny graph in %s: %+v", time.Since(start), res)
	// Silence yields no text.
	res, err = e.Transcribe(context.Background(), transcribe.Audio{Samples: make([]float32, 16000)})
	if err != nil || res.Text != "" || len(res.Words) != 0 {
		t.Fatalf("silence: %+v, %v", res, err)
	}
	if _, err := e.Transcribe(context.Background(), transcribe.Audio{}); !errors.Is(err, transcribe.ErrRejected) {
		t.Fatalf("empty audio: %v, want ErrRejected", err)
	}
}

func TestVADSkipsSilence(t *testing.T) {
	e := newEngine(t, Config{VADModelPath: sharedtest.Path(t, vadModel)})
	noise := make([]float32, 2*16000)
	for i := range noise {
		noise[i] = float32(i%7-3) / 3000
	}
	start := time.Now()
	res, err := e.Transcribe(context.Background(), transcribe.Audio{Samples: noise})
	if err != nil || !res.NoSpeech || res.Text != "" {
		t.Fatalf("VAD on faint noise: %+v, %v", res, err)
	}
	vadTook := time.Since(start)
	// Real speech passes the VAD and runs the model (more time, no text
	// from the header-only model).
	start = time.Now()
	res, err = e.Transcribe(context.Background(), transcribe.Audio{Samples: speech16k(t, 2000)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("VAD only: %s; VAD + model: %s (%+v)", vadTook, time.Since(start), res)
	if time.Since(start) < vadTook {
		t.Errorf("speech took less time than the VAD alone: was it decoded?")
	}
}

func TestConcurrentWorkersShareTheModel(t *testing.T) {
	e := newEngine(t, Config{Workers: 2, Threads: 1, AudioCtx: 256})
	audio := transcribe.Audio{Samples: speech16k(t, 4000)}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Transcribe(context.Background(), audio)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if len(e.all) != 2 {
		t.Errorf("%d states for 2 workers", len(e.all))
	}
}

func TestCancel(t *testing.T) {
	e := newEngine(t, Config{Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Transcribe(ctx, transcribe.Audio{Samples: speech16k(t, 1000)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	// A deadline far shorter than one run aborts it inside whisper_full.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Transcribe(ctx, transcribe.Audio{Samples: speech16k(t, 10000)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	t.Logf("aborted after %s", time.Since(start))
	// The state is usable again.
	if _, err := e.Transcribe(context.Background(), transcribe.Audio{Samples: speech16k(t, 1000)}); err != nil {
		t.Fatal(err)
	}
}

func TestBadModels(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "ggml-truncated.bin")
	b, err := os.ReadFile(sharedtest.Path(t, testModel))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, b[:20], 0o600); err != nil {
		t.Fatal(err)
	}
	notGGML := filepath.Join(dir, "model.bin")
	if err := os.WriteFile(notGGML, []byte("<html>404</html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{
		{ModelPath: filepath.Join(dir, "missing.bin")},
		{ModelPath: notGGML},
		{ModelPath: truncated},
		{ModelPath: sharedtest.Path(t, testModel), VADModelPath: notGGML},
	} {
		e, err := New(cfg)
		if err == nil {
			e.Close()
		}
		if !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), dir) {
			t.Errorf("New(%+v) = %v; want ErrModel naming the file", cfg, err)
		} else {
			t.Log(err)
		}
	}
	if _, err := New(Config{ModelPath: sharedtest.Path(t, testModel), AudioCtx: 4000}); err == nil {
		t.Error("audio context 4000 accepted")
	}
}
