//go:build !whisper

package whisper

import (
	"context"
	"fmt"

	"github.com/earshot-dev/earshot/transcribe"
)

// Built reports whether this binary has the whisper engine.
const Built = false

// LibVersion is "": this binary has no libwhisper.
func LibVersion() string { return "" }

// Engine is absent from this build; see New.
type Engine struct{}

// New checks the model path (so a bad path is reported either way) and
// returns ErrNotBuilt: this binary was built without -tags whisper.
func New(cfg Config) (*Engine, error) {
	if err := CheckModel(cfg.ModelPath); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("whisper: %w: %s", ErrNotBuilt, NotBuiltHelp)
}

// Transcribe is never reached: New returns no Engine in this build.
func (*Engine) Transcribe(context.Context, transcribe.Audio) (transcribe.Result, error) {
	return transcribe.Result{}, ErrNotBuilt
}

// Info names the engine.
func (*Engine) Info() transcribe.EngineInfo { return transcribe.EngineInfo{Name: "whisper"} }

// Close does nothing.
func (*Engine) Close() {}
