//go:build whisper

package whisper

/*
// The libraries in link order: a static libwhisper (BUILD_SHARED_LIBS=OFF)
// needs ggml-cpu and OpenMP named after it; shared ones pull them in
// themselves. The directories come from whisper.pc (pkgconfig.go).
#cgo LDFLAGS: -lwhisper -lggml -lggml-cpu -lggml-base -lgomp -lstdc++ -lm
#include <stdlib.h>
#include <stdbool.h>
#include <whisper.h>

// earshot_quiet keeps libwhisper's log off stderr except for errors.
static void earshot_quiet(enum ggml_log_level level, const char * text, void * user_data) {
	if (level == GGML_LOG_LEVEL_ERROR) {
		fputs(text, stderr);
	}
}
static void earshot_set_log(void) { whisper_log_set(earshot_quiet, NULL); }

// earshot_stop reads the flag Go sets when the job's context is done.
static bool earshot_stop(void * flag) { return __atomic_load_n((int *)flag, __ATOMIC_RELAXED) != 0; }
static bool earshot_begin(struct whisper_context * ctx, struct whisper_state * st, void * flag) { return !earshot_stop(flag); }
static void earshot_set_flag(int * flag) { __atomic_store_n(flag, 1, __ATOMIC_RELAXED); }

static void earshot_set_abort(struct whisper_full_params * p, int * flag) {
	p->abort_callback = earshot_stop;
	p->abort_callback_user_data = flag;
	p->encoder_begin_callback = earshot_begin;
	p->encoder_begin_callback_user_data = flag;
}
*/
import "C"

import (
	"context"

	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/earshot-dev/earshot/transcribe"
)

// Built reports whether this binary has the whisper engine.
const Built = true

// LibVersion is the version of the libwhisper this binary is linked with.
func LibVersion() string { return C.GoString(C.whisper_version()) }

// noSpeechProb is the no-speech probability above which every segment must
// be for the result to count as no speech.
const noSpeechProb = 0.6

// Engine is the whisper.cpp engine: one model, Workers states.
type Engine struct {
	cfg    Config
	info   transcribe.EngineInfo
	ctx    *C.struct_whisper_context
	eot    C.whisper_token
	multi  bool
	states chan *state
	all    []*state
	once   sync.Once
}

var _ transcribe.Engine = (*Engine)(nil)

// state is one worker's decoding state and voice activity detector.
type state struct {
	st  *C.struct_whisper_state
	vad *C.struct_whisper_vad_context
}

// New loads the model (and the VAD model) and allocates cfg.Workers states.
func New(cfg Config) (*Engine, error) {
	if err := CheckModel(cfg.ModelPath); err != nil {
		return nil, err
	}
	if cfg.VADModelPath != "" {
		if err := checkVAD(cfg.VADModelPath); err != nil {
			return nil, fmt.Errorf("VAD model: %w", err)
		}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 2
	}
	if cfg.AudioCtx < AudioCtxFit || cfg.AudioCtx > 1500 {
		return nil, fmt.Errorf("whisper: audio context %d: want 0 (the model's), up to 1500, or %d (fit each clip)", cfg.AudioCtx, AudioCtxFit)
	}
	C.earshot_set_log()
	path := C.CString(cfg.ModelPath)
	defer C.free(unsafe.Pointer(path))
	cp := C.whisper_context_default_params()
	cp.use_gpu = false
	e := &Engine{cfg: cfg, info: transcribe.EngineInfo{Name: "whisper", Model: modelName(cfg.ModelPath)}}
	e.ctx = C.whisper_init_from_file_with_params_no_state(path, cp)
	if e.ctx == nil {
		return nil, fmt.Errorf("whisper: %w: libwhisper could not load %s (a truncated file, or a ggml file that is not a whisper model)", ErrModel, cfg.ModelPath)
	}
	e.eot = C.whisper_token_eot(e.ctx)
	e.multi = C.whisper_is_multilingual(e.ctx) != 0
	if e.cfg.Language == "" {
		e.cfg.Language = "auto"
		if !e.multi {
			e.cfg.Language = "en"
		}
	}
	e.states = make(chan *state, cfg.Workers)
	for range cfg.Workers {
		s := &state{st: C.whisper_init_state(e.ctx)}
		if s.st == nil {
			e.Close()
			return nil, fmt.Errorf("whisper: could not allocate a state for %s (out of memory?)", cfg.ModelPath)
		}
		e.all = append(e.all, s)
		if cfg.VADModelPath != "" {
			vp := C.CString(cfg.VADModelPath)
			vcp := C.whisper_vad_default_context_params()
			vcp.n_threads = 1
			vcp.use_gpu = false
			s.vad = C.whisper_vad_init_from_file_with_params(vp, vcp)
			C.free(unsafe.Pointer(vp))
			if s.vad == nil {
				e.Close()
				return nil, fmt.Errorf("whisper: %w: libwhisper could not load the VAD model %s", ErrModel, cfg.VADModelPath)
			}
		}
		e.states <- s
	}
	return e, nil
}

// Info names the engine and its model.
func (e *Engine) Info() transcribe.EngineInfo { return e.info }

// Multilingual reports whether the model knows languages other than English.
func (e *Engine) Multilingual() bool { return e.multi }

// Close frees the states and the model. Call it after every Transcribe
// has returned. It is safe to call more than once.
func (e *Engine) Close() {
	e.once.Do(func() {
		for _, s := range e.all {
			if s.vad != nil {
				C.whisper_vad_free(s.vad)
			}
			C.whisper_free_state(s.st)
		}
		e.all = nil
		if e.ctx != nil {
			C.whisper_free(e.ctx)
		}
	})
}

// Transcribe runs whisper on one state; it waits for a free state when all
// Workers are busy. Cancelling ctx aborts the computation.
func (e *Engine) Transcribe(ctx context.Context, a transcribe.Audio) (transcribe.Result, error) {
	if len(a.Samples) == 0 {
		return transcribe.Result{}, fmt.Errorf("whisper: %w: no audio", transcribe.ErrRejected)
	}
	var s *state
	select {
	case s = <-e.states:
	case <-ctx.Done():
		return transcribe.Result{}, ctx.Err()
	}
	defer func() { e.states <- s }()

	if s.vad != nil && !e.speech(s, a.Samples) {
		return transcribe.Result{NoSpeech: true}, nil
	}

	strategy := C.enum_whisper_sampling_strategy(C.WHISPER_SAMPLING_GREEDY)
	if e.cfg.BeamSize > 1 {
		strategy = C.WHISPER_SAMPLING_BEAM_SEARCH
	}
	p := C.whisper_full_default_params(strategy)
	p.n_threads = C.int(e.cfg.Threads)
	p.no_context = true
	p.print_progress, p.print_realtime, p.print_timestamps, p.print_special = false, false, false, false
	p.token_timestamps = true
	p.audio_ctx = C.int(e.cfg.audioCtxFor(len(a.Samples)))
	if e.cfg.BeamSize > 1 {
		p.beam_search.beam_size = C.int(e.cfg.BeamSize)
	}
	lang := a.Language
	if lang == "" || (!e.multi && lang != "en") {
		lang = e.cfg.Language
	}
	clang := C.CString(lang)
	defer C.free(unsafe.Pointer(clang))
	p.language = clang
	if e.cfg.Prompt != "" {
		cprompt := C.CString(e.cfg.Prompt)
		defer C.free(unsafe.Pointer(cprompt))
		p.initial_prompt = cprompt
	}
	flag := (*C.int)(C.calloc(1, C.size_t(unsafe.Sizeof(C.int(0)))))
	defer C.free(unsafe.Pointer(flag))
	C.earshot_set_abort(&p, flag)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			C.earshot_set_flag(flag)
		case <-done:
		}
	}()
	rc := C.whisper_full_with_state(e.ctx, s.st, p, (*C.float)(unsafe.Pointer(&a.Samples[0])), C.int(len(a.Samples)))
	close(done)
	wg.Wait()
	if ctx.Err() != nil {
		return transcribe.Result{}, ctx.Err()
	}
	if rc != 0 {
		return transcribe.Result{}, fmt.Errorf("whisper: whisper_full failed with code %d on %d ms of audio", int(rc), a.DurationMS())
	}
	return e.result(s), nil
}

// speech runs the state's VAD over the audio.
func (e *Engine) speech(s *state, samples []float32) bool {
	vp := C.whisper_vad_default_params()
	segs := C.whisper_vad_segments_from_samples(s.vad, vp, (*C.float)(unsafe.Pointer(&samples[0])), C.int(len(samples)))
	if segs == nil {
		return true // the detector failed: let whisper decide
	}
	defer C.whisper_vad_free_segments(segs)
	return C.whisper_vad_segments_n_segments(segs) > 0
}

// result reads the state's segments into words and text.
func (e *Engine) result(s *state) transcribe.Result {
	var res transcribe.Result
	n := int(C.whisper_full_n_segments_from_state(s.st))
	res.NoSpeech = true // unless a segment says otherwise
	if n > 0 {
		if id := C.whisper_full_lang_id_from_state(s.st); id >= 0 {
			res.Language = C.GoString(C.whisper_lang_str(id))
		}
	}
	var text strings.Builder
	var toks []token
	for i := range n {
		ci := C.int(i)
		if float64(C.whisper_full_get_segment_no_speech_prob_from_state(s.st, ci)) < noSpeechProb {
			res.NoSpeech = false
		}
		text.WriteString(C.GoString(C.whisper_full_get_segment_text_from_state(s.st, ci)))
		for j := range int(C.whisper_full_n_tokens_from_state(s.st, ci)) {
			cj := C.int(j)
			td := C.whisper_full_get_token_data_from_state(s.st, ci, cj)
			if td.id >= e.eot {
				continue // special and timestamp tokens
			}
			toks = append(toks, token{
				text: []byte(C.GoString(C.whisper_full_get_token_text_from_state(e.ctx, s.st, ci, cj))),
				t0:   int64(td.t0), t1: int64(td.t1), p: float64(td.p),
			})
		}
	}
	res.Text = strings.TrimSpace(text.String())
	res.Words = groupWords(toks)
	if len(toks) > 0 {
		var sum float64
		for _, tk := range toks {
			sum += tk.p
		}
		res.Confidence = sum / float64(len(toks))
	}
	return res
}
