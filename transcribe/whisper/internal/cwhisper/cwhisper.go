//go:build whisper

// Package cwhisper is the baseline the whisper engine's benchmarks compare
// it with: whisper.cpp's own whisper_full on the model's default state,
// called with the least Go around it. It is for benchmarks only.
package cwhisper

/*
#cgo LDFLAGS: -lwhisper -lggml -lggml-cpu -lggml-base -lgomp -lstdc++ -lm
#include <stdlib.h>
#include <whisper.h>

static void cwhisper_quiet(enum ggml_log_level level, const char * text, void * user_data) {}

static struct whisper_context * cwhisper_load(const char * path) {
	whisper_log_set(cwhisper_quiet, NULL);
	struct whisper_context_params cp = whisper_context_default_params();
	cp.use_gpu = false;
	return whisper_init_from_file_with_params(path, cp);
}

// cwhisper_full runs whisper_full with the parameters the engine uses.
static int cwhisper_full(struct whisper_context * ctx, const float * samples, int n, int threads, int audio_ctx) {
	struct whisper_full_params p = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
	p.n_threads = threads;
	p.no_context = true;
	p.print_progress = false;
	p.print_realtime = false;
	p.print_timestamps = false;
	p.print_special = false;
	p.token_timestamps = true;
	p.audio_ctx = audio_ctx;
	p.language = "en";
	return whisper_full(ctx, p, samples, n);
}

// cwhisper_decode_step runs the decoder on one token after n_past tokens,
// on the state whisper_full left (its encoder output).
static int cwhisper_decode_step(struct whisper_context * ctx, int n_past, int threads) {
	whisper_token tok = whisper_token_beg(ctx);
	return whisper_decode(ctx, &tok, 1, n_past, threads);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Model is a whisper context with its default state.
type Model struct{ ctx *C.struct_whisper_context }

// Load loads a model.
func Load(path string) (*Model, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	ctx := C.cwhisper_load(cp)
	if ctx == nil {
		return nil, fmt.Errorf("cwhisper: cannot load %s", path)
	}
	return &Model{ctx: ctx}, nil
}

// Full runs whisper_full on samples (16 kHz mono).
func (m *Model) Full(samples []float32, threads, audioCtx int) error {
	if rc := C.cwhisper_full(m.ctx, (*C.float)(unsafe.Pointer(&samples[0])), C.int(len(samples)), C.int(threads), C.int(audioCtx)); rc != 0 {
		return fmt.Errorf("cwhisper: whisper_full returned %d", int(rc))
	}
	return nil
}

// Close frees the model.
func (m *Model) Close() { C.whisper_free(m.ctx) }

// DecodeStep runs one greedy decoder step after nPast tokens (call Full
// first, for the encoder output the decoder attends to).
func (m *Model) DecodeStep(nPast, threads int) error {
	if rc := C.cwhisper_decode_step(m.ctx, C.int(nPast), C.int(threads)); rc != 0 {
		return fmt.Errorf("cwhisper: whisper_decode returned %d", int(rc))
	}
	return nil
}
