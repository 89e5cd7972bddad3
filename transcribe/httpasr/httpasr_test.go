package httpasr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/transcribe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server starts a real HTTP server answering with h, closed with the test.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func engine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func second() transcribe.Audio {
	s := make([]float32, transcribe.EngineRate)
	for i := range s {
		s[i] = float32(i%40) / 400
	}
	return transcribe.Audio{Samples: s}
}

const openAIAnswer = `{"task":"transcribe","language":"english","duration":1.0,"text":" I want to cancel.",
 "words":[{"word":"I","start":0.0,"end":0.12},{"word":"want","start":0.12,"end":0.4},{"word":"to","start":0.4,"end":0.5},{"word":"cancel.","start":0.5,"end":0.98}],
 "segments":[{"id":0,"text":" I want to cancel.","avg_logprob":-0.2,"no_speech_prob":0.01}]}`

const whisperCppAnswer = `{"task":"transcribe","language":"en","duration":1.0,"text":"Hello.",
 "segments":[{"id":0,"text":"Hello.","start":0.0,"end":1.0,"avg_logprob":-0.3,"no_speech_prob":0.02,
   "words":[{"word":" Hello.","start":0.1,"end":0.6,"probability":0.8}]}]}`

func TestTranscribeRequestAndAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, answer, text, lang string
		words                    int
		conf                     float64
	}{
		{"openai", openAIAnswer, "I want to cancel.", "en", 4, 0.8187},
		{"whisper.cpp", whisperCppAnswer, "Hello.", "en", 1, 0.8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Value
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != DefaultPath {
					http.Error(w, "wrong endpoint", http.StatusNotFound)
					return
				}
				if err := r.ParseMultipartForm(1 << 20); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				f, _, err := r.FormFile("file")
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				defer f.Close()
				wav, err := transcribe.ReadWAV(f)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				got.Store(fmt.Sprintf("%d Hz %d samples model=%s format=%s gran=%v lang=%s prompt=%s auth=%s",
					wav.Rate, len(wav.Channels[0]), r.FormValue("model"), r.FormValue("response_format"),
					r.MultipartForm.Value["timestamp_granularities[]"], r.FormValue("language"), r.FormValue("prompt"), r.Header.Get("Authorization")))
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.answer)
			})
			e := engine(t, Config{URL: srv.URL, Language: "en", Prompt: "refund, chargeback", APIKey: "k1"})
			res, err := e.Transcribe(context.Background(), second())
			if err != nil {
				t.Fatal(err)
			}
			want := "16000 Hz 16000 samples model=whisper-1 format=verbose_json gran=[word segment] lang=en prompt=refund, chargeback auth=Bearer k1"
			if got.Load() != want {
				t.Errorf("request: %v\nwant      %s", got.Load(), want)
			}
			if res.Text != tc.text || res.Language != tc.lang || len(res.Words) != tc.words || res.NoSpeech {
				t.Errorf("result = %+v", res)
			}
			if d := res.Confidence - tc.conf; d > 0.001 || d < -0.001 {
				t.Errorf("confidence = %v, want %v", res.Confidence, tc.conf)
			}
			if last := res.Words[len(res.Words)-1]; last.EndMS < last.StartMS || last.StartMS < 100 {
				t.Errorf("last word = %+v", last)
			}
		})
	}
}

func TestRetriesTransientFailures(t *testing.T) {
	var calls atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "loading model", http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			io.WriteString(w, whisperCppAnswer)
		}
	})
	e := engine(t, Config{URL: srv.URL, Backoff: time.Millisecond})
	res, err := e.Transcribe(context.Background(), second())
	if err != nil || res.Text != "Hello." || calls.Load() != 3 {
		t.Fatalf("after 2 transient failures: %+v, %v, %d calls", res, err, calls.Load())
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		status                int
		body                  string
		calls                 int32
		rejected, unavailable bool
		want                  string
	}{
		{"garbage", 200, "<html><body>It works!</body></html>", 1, false, false, "not a transcription"},
		{"json without text", 200, `{"error":"model not loaded"}`, 1, false, false, `without a "text" field`},
		{"bad words", 200, `{"text":"x","words":[{"word":"x","start":5,"end":1}]}`, 1, false, false, "not a transcription"},
		{"server down", 502, "bad gateway", 3, false, true, "502 Bad Gateway"},
		{"server error", 500, "model crashed", 3, false, true, "500 Internal Server Error"},
		{"overloaded", 429, "slow down", 3, false, true, "429 Too Many Requests"},
		{"wrong url", 404, "404 page not found", 1, false, true, "check --asr-url"},
		{"wrong key", 401, "unauthorized", 1, false, true, "check --asr-url"},
		{"rejected", 400, `{"error":{"message":"Invalid file format."}}`, 1, true, false, "Invalid file format"},
		{"too large", 413, "too large", 1, true, false, "413 Request Entity Too Large"},
		{"format", 415, "unsupported", 1, true, false, "415 Unsupported Media Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			e := engine(t, Config{URL: srv.URL + "/asr/v1/audio/transcriptions", Backoff: time.Millisecond})
			_, err := e.Transcribe(context.Background(), second())
			if err == nil {
				t.Fatal("want an error")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), srv.URL+"/asr/v1/audio/transcriptions") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the server and %q", err, tc.want)
			}
			if errors.Is(err, transcribe.ErrRejected) != tc.rejected {
				t.Errorf("errors.Is(ErrRejected) = %v, want %v", !tc.rejected, tc.rejected)
			}
			if errors.Is(err, transcribe.ErrUnavailable) != tc.unavailable {
				t.Errorf("errors.Is(ErrUnavailable) = %v, want %v", !tc.unavailable, tc.unavailable)
			}
			if calls.Load() != tc.calls {
				t.Errorf("%d requests, want %d", calls.Load(), tc.calls)
			}
			if err := e.Check(context.Background()); err == nil {
				t.Error("Check passed against a broken server")
			}
		})
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done() // a server that never answers
	})
	e := engine(t, Config{URL: srv.URL, Timeout: 50 * time.Millisecond, Attempts: 2, Backoff: time.Millisecond})
	_, err := e.Transcribe(context.Background(), second())
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") || !strings.Contains(err.Error(), srv.URL) || !errors.Is(err, transcribe.ErrUnavailable) {
		t.Fatalf("timeout error = %v, want one naming the server, unavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Transcribe(ctx, second()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	e := engine(t, Config{URL: url, Attempts: 2, Backoff: time.Millisecond})
	_, err := e.Transcribe(context.Background(), second())
	if !errors.Is(err, transcribe.ErrUnavailable) || errors.Is(err, transcribe.ErrRejected) || !strings.Contains(err.Error(), url) {
		t.Fatalf("error %v, want unavailable naming %s", err, url)
	}
}

func TestConfig(t *testing.T) {
	for _, u := range []string{"", "asr:8080", "ftp://x/", "http://"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q): want an error", u)
		}
	}
	e := engine(t, Config{URL: "http://asr:8080"})
	if e.Endpoint() != "http://asr:8080"+DefaultPath || e.Info().Name != "http" || e.Info().Model != "whisper-1" {
		t.Errorf("endpoint %s, info %+v", e.Endpoint(), e.Info())
	}
}

func TestParseNoSpeech(t *testing.T) {
	res, err := ParseResponse([]byte(`{"text":" Thank you.","language":"korean","segments":[{"text":" Thank you.","no_speech_prob":0.9,"avg_logprob":-1.2}]}`))
	if err != nil || !res.NoSpeech || res.Language != "ko" || res.Confidence <= 0 {
		t.Fatalf("%+v, %v", res, err)
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(openAIAnswer))
	f.Add([]byte(whisperCppAnswer))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := ParseResponse(b)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v is not ErrBadResponse", err)
			}
			return
		}
		for _, w := range res.Words {
			if w.EndMS < w.StartMS || w.StartMS < 0 || w.Confidence < 0 || w.Confidence > 1 {
				t.Fatalf("word %+v", w)
			}
		}
		if res.Confidence < 0 || res.Confidence > 1 || bytes.Contains([]byte(res.Text), []byte{0}) && !bytes.Contains(b, []byte(`\u0000`)) {
			t.Fatalf("result %+v", res)
		}
	})
}
