// Package whisper is the in-process whisper.cpp transcription engine. It
// loads a ggml model once and gives each worker its own whisper_state
// (whisper_init_state / whisper_full_with_state), so N concurrent workers
// share one copy of the weights. Optionally each state has a Silero voice
// activity detector, and audio in which it hears no speech never reaches
// the decoder.
//
// The engine needs libwhisper (whisper.cpp) and is built only with
// -tags whisper; without the tag, New returns ErrNotBuilt with what to do.
// whisper.cpp's Go bindings (github.com/ggerganov/whisper.cpp/bindings/go)
// are not used: their Context wraps the model's one default state, so two
// workers would need two copies of the weights.
package whisper
