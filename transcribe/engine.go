package transcribe

import (
	"context"
	"errors"

	"github.com/earshot-dev/earshot/msg"
)

// EngineRate is the sample rate, in Hz, of the audio engines take.
const EngineRate = 16000

// ErrRejected marks an engine error that retrying cannot fix: the engine
// refused this input. The worker dead-letters such a job at once.
var ErrRejected = errors.New("rejected by the engine")

// ErrUnavailable marks an engine error that says nothing about the job:
// the engine cannot be reached or is failing (connection refused, a
// timeout, 5xx, 429). The worker keeps such a job in the work queue and
// retries it until the engine is back, however long that takes (up to
// Config.MaxWait).
var ErrUnavailable = errors.New("engine unavailable")

// Engine turns audio into text. Transcribe must be safe for concurrent use:
// the worker calls it from each of its goroutines.
type Engine interface {
	Transcribe(ctx context.Context, a Audio) (Result, error)
	// Info names the engine and its model, for segments and metrics.
	Info() EngineInfo
}

// EngineInfo names an engine and the model it runs.
type EngineInfo struct {
	Name  string // "whisper", "http"
	Model string // model file base name or the server's model name
}

// Audio is one stretch of mono speech at EngineRate.
type Audio struct {
	Samples []float32 // -1..1; engines only read them (the worker keeps them to resume the next interim)
	// Language is a hint ("en", "ko"); empty means the engine's default.
	Language string
}

// Duration of the audio in milliseconds.
func (a Audio) DurationMS() int64 { return int64(len(a.Samples)) * 1000 / EngineRate }

// Result is what an engine heard.
type Result struct {
	Text     string
	Language string
	// Words have times in milliseconds from the start of the audio.
	Words []msg.Word
	// Confidence is 0..1, or 0 when the engine does not say.
	Confidence float64
	// NoSpeech: the engine's own voice activity detection found none.
	NoSpeech bool
	// Dropped says why Text is empty although there was audio:
	// DroppedSilence or DroppedHallucination. Set by the guard.
	Dropped string
}

// Why a result has no text.
const (
	DroppedSilence       = "silence"
	DroppedHallucination = "hallucination"
)
