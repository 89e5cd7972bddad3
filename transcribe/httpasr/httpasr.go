// Package httpasr is a transcription engine that sends audio to any server
// speaking the OpenAI-compatible POST /v1/audio/transcriptions (whisper.cpp's
// server with --inference-path, faster-whisper servers, a GPU pool, the
// OpenAI API), so that speech recognition can run on other machines.
package httpasr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/transcribe"
)

// DefaultPath is appended to a URL given without a path.
const DefaultPath = "/v1/audio/transcriptions"

// ErrBadResponse: the server answered, but not with a transcription.
var ErrBadResponse = errors.New("not a transcription")

// Config configures the engine. Only URL is required.
type Config struct {
	// URL of the server: its base (http://asr:8080, DefaultPath is added)
	// or the full endpoint.
	URL string
	// Model is sent as the "model" field; default "whisper-1".
	Model string
	// Language is the default language hint ("en", "ko"); a job's own
	// language wins. Empty: the server detects it.
	Language string
	// Prompt is sent as the initial prompt: a contact center's vocabulary.
	Prompt string
	// APIKey, when set, is sent as a bearer token.
	APIKey string
	// Timeout bounds one attempt; default 60s.
	Timeout time.Duration
	// Attempts bounds the tries at one request on network errors, timeouts,
	// 408, 429 and 5xx answers; default 3. After them the error wraps
	// transcribe.ErrUnavailable, and the worker keeps the job for later.
	Attempts int
	// Backoff is the wait before the first retry, doubling after each;
	// default 500ms. A Retry-After header (up to 10s) wins.
	Backoff time.Duration
	// Client sends the requests; default a client of its own.
	Client *http.Client
	Logger *slog.Logger
}

// Engine is the http transcription engine. It is safe for concurrent use.
type Engine struct {
	cfg      Config
	endpoint string
	client   *http.Client
	log      *slog.Logger
}

var _ transcribe.Engine = (*Engine)(nil)

// New checks cfg and builds the engine. It sends nothing; see Check.
func New(cfg Config) (*Engine, error) {
	if cfg.URL == "" {
		return nil, errors.New("httpasr: no server URL (--asr-url)")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("httpasr: server URL %q: want http://host:port[/path] or https://...", cfg.URL)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = DefaultPath
	}
	if cfg.Model == "" {
		cfg.Model = "whisper-1"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, endpoint: u.String(), client: client, log: cfg.Logger}, nil
}

// Info names the engine and the model it asks for.
func (e *Engine) Info() transcribe.EngineInfo {
	return transcribe.EngineInfo{Name: "http", Model: e.cfg.Model}
}

// Endpoint is the URL requests go to.
func (e *Engine) Endpoint() string { return e.endpoint }

// Close releases idle connections.
func (e *Engine) Close() { e.client.CloseIdleConnections() }

// Check sends a second of silence and reports whether the server answers
// with a transcription, so a wrong URL is found at start-up rather than on
// the first call.
func (e *Engine) Check(ctx context.Context) error {
	_, err := e.Transcribe(ctx, transcribe.Audio{Samples: make([]float32, transcribe.EngineRate)})
	return err
}

// Transcribe sends the audio and parses the answer.
func (e *Engine) Transcribe(ctx context.Context, a transcribe.Audio) (transcribe.Result, error) {
	body, ctype, err := e.form(a)
	if err != nil {
		return transcribe.Result{}, err
	}
	delay := e.cfg.Backoff
	var lastErr error
	for attempt := 1; ; attempt++ {
		res, retryAfter, err := e.post(ctx, body, ctype)
		if err == nil {
			return res, nil
		}
		lastErr = err
		if retryAfter < 0 || attempt >= e.cfg.Attempts || ctx.Err() != nil {
			break
		}
		wait := delay
		if retryAfter > 0 {
			wait = retryAfter
		}
		e.log.Debug("asr server request failed; retrying", "url", e.endpoint, "attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return transcribe.Result{}, fmt.Errorf("%w (then %v)", lastErr, ctx.Err())
		case <-time.After(wait):
		}
		delay *= 2
	}
	return transcribe.Result{}, lastErr
}

// form builds the multipart request body.
func (e *Engine) form(a transcribe.Audio) ([]byte, string, error) {
	audio := transcribe.EncodeWAV(a.Samples, transcribe.EngineRate)
	var buf bytes.Buffer
	buf.Grow(len(audio) + 2048) // the form's fields and boundaries: one allocation, not a doubling per write
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="audio.wav"`)
	h.Set("Content-Type", "audio/wav")
	fw, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := fw.Write(audio); err != nil {
		return nil, "", err
	}
	lang := a.Language
	if lang == "" {
		lang = e.cfg.Language
	}
	fields := [][2]string{
		{"model", e.cfg.Model},
		{"response_format", "verbose_json"},
		{"timestamp_granularities[]", "word"},
		{"timestamp_granularities[]", "segment"},
		{"temperature", "0"},
	}
	if lang != "" {
		fields = append(fields, [2]string{"language", lang})
	}
	if e.cfg.Prompt != "" {
		fields = append(fields, [2]string{"prompt", e.cfg.Prompt})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// post makes one attempt. retryAfter is negative when trying again at once
// cannot help, zero for the default backoff, positive when the server said
// how long. An error that says nothing about the audio (the server cannot
// be reached, is failing or overloaded, or refuses the URL or the key)
// wraps transcribe.ErrUnavailable: the job waits for the server. One that
// refuses the audio wraps transcribe.ErrRejected.
func (e *Engine) post(ctx context.Context, body []byte, ctype string) (res transcribe.Result, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return res, -1, fmt.Errorf("httpasr: %s: %w", e.endpoint, err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	if e.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.APIKey)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return res, 0, fmt.Errorf("httpasr: %s: no answer within %s (%w)", e.endpoint, e.cfg.Timeout, transcribe.ErrUnavailable)
		}
		return res, 0, fmt.Errorf("httpasr: %s (%w): %w", e.endpoint, transcribe.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return res, 0, fmt.Errorf("httpasr: %s: reading the answer (%w): %w", e.endpoint, transcribe.ErrUnavailable, err)
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		return res, parseRetryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("httpasr: %s answered %s (%w): %s", e.endpoint, resp.Status, transcribe.ErrUnavailable, snippet(b))
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge || code == http.StatusUnsupportedMediaType || code == http.StatusUnprocessableEntity:
		return res, -1, fmt.Errorf("httpasr: %s answered %s (%w): %s", e.endpoint, resp.Status, transcribe.ErrRejected, snippet(b))
	default: // 401, 403, 404, 405...: the URL or the key is wrong; the jobs wait until it is fixed
		return res, -1, fmt.Errorf("httpasr: %s answered %s (%w): check --asr-url (an OpenAI-compatible server takes POST %s) and the API key: %s", e.endpoint, resp.Status, transcribe.ErrUnavailable, DefaultPath, snippet(b))
	}
	res, err = ParseResponse(b)
	if err != nil {
		return res, -1, fmt.Errorf("httpasr: %s answered %s with %q: %w", e.endpoint, resp.Status, resp.Header.Get("Content-Type"), err)
	}
	return res, 0, nil
}

func parseRetryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return min(time.Duration(s)*time.Second, 10*time.Second)
	}
	return 0
}

// snippet is the start of a body, for error messages.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return strconv.Quote(s)
}
