package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/transcribe"
	"github.com/earshot-dev/earshot/transcribe/httpasr"
	"github.com/earshot-dev/earshot/transcribe/whisper"
)

// asrStage is the asr stage: transcription workers on the audio work queue.
type asrStage struct {
	opts     asrOptions
	workers  int
	ackWait  time.Duration
	maxWait  time.Duration
	retryMax time.Duration
	none     bool // --engine none in earshot run: nothing transcribes here
}

func (*asrStage) name() string    { return "asr" }
func (*asrStage) summary() string { return "transcription workers" }

func (s *asrStage) flags(fs *flag.FlagSet) {
	s.opts.flags(fs, true)
	fs.IntVar(&s.workers, "asr-workers", 2, "utterance jobs transcribed at once in this process (whisper: one state each, sharing the model)")
	fs.DurationVar(&s.ackWait, "asr-ack-wait", 5*time.Second, "how long a job in hand may go without a heartbeat before another worker takes it (what a killed worker's jobs wait)")
	fs.DurationVar(&s.retryMax, "asr-retry-max", 15*time.Second, "longest wait between tries at a job while the engine is unavailable (how soon jobs go on after an outage)")
	fs.DurationVar(&s.maxWait, "asr-max-wait", 0, "how long jobs are kept while the engine is unavailable before they are dead-lettered (0: as long as the work queue keeps them, 24h)")
}

// check refuses, before anything starts, flags that name no usable engine.
func (s *asrStage) check() error {
	if s.workers < 1 {
		return badInputf("--asr-workers %d: want at least 1", s.workers)
	}
	_, err := s.opts.resolve(true) // earshot asr alone refuses none when it starts
	return err
}

func (s *asrStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		d    time.Duration
		zero bool
	}{{"--asr-ack-wait", s.ackWait, false}, {"--asr-retry-max", s.retryMax, false}, {"--asr-max-wait", s.maxWait, true}} {
		if f.d < 0 || (f.d == 0 && !f.zero) {
			return nil, badInputf("%s %s: want a positive duration", f.name, f.d)
		}
	}
	eng, closeEngine, err := s.opts.engine(ctx, s.workers, e.log, e.allIn)
	if err != nil {
		return nil, err
	}
	if eng == nil { // --engine none
		s.none = true
		e.log.Warn("no transcription in this process (--engine none): utterance jobs wait in the work queue for `earshot asr` workers")
		return waitDone, nil
	}
	w, err := transcribe.New(transcribe.Config{
		Engine: eng, Workers: s.workers, AckWait: s.ackWait, MaxRetryBackoff: s.retryMax, MaxWait: s.maxWait,
		Metrics: e.metrics, Logger: e.log.With("stage", "asr"),
	})
	if err != nil {
		closeEngine()
		return nil, err
	}
	return func(ctx context.Context) error {
		defer closeEngine()
		return w.Run(ctx, e.bus.JS)
	}, nil
}

// asrOptions are the engine flags shared by the asr stage and earshot transcribe.
type asrOptions struct {
	engineName string
	model      string
	vadModel   string
	url        string
	apiKey     string
	httpModel  string
	timeout    time.Duration
	threads    int
	language   string
	prompt     string
	audioCtx   int
	beam       int
}

func (o *asrOptions) flags(fs *flag.FlagSet, stage bool) {
	engines := "whisper, http"
	if stage {
		// No back quotes here: flag would take the quoted words for the
		// value's name in -h.
		engines += ", none (earshot run only: no transcription here; earshot asr workers elsewhere take the jobs)"
	}
	fs.StringVar(&o.engineName, "engine", "auto", "transcription engine: "+engines+"; auto picks http when --asr-url is given, else whisper when a model is given")
	fs.StringVar(&o.model, "model", os.Getenv("WHISPER_MODEL"), "whisper.cpp ggml model file, e.g. ggml-base.en.bin (default $WHISPER_MODEL)")
	fs.StringVar(&o.vadModel, "asr-vad-model", os.Getenv("WHISPER_VAD_MODEL"), "Silero VAD ggml model (ggml-silero-v6.2.0.bin): whisper skips audio without speech (default $WHISPER_VAD_MODEL)")
	fs.StringVar(&o.url, "asr-url", os.Getenv("EARSHOT_ASR_URL"), "OpenAI-compatible transcription server, e.g. http://asr:8080 (POST /v1/audio/transcriptions) (default $EARSHOT_ASR_URL)")
	fs.StringVar(&o.apiKey, "asr-key", os.Getenv("EARSHOT_ASR_KEY"), "bearer token for --asr-url (default $EARSHOT_ASR_KEY)")
	fs.StringVar(&o.httpModel, "asr-http-model", "whisper-1", "model name sent to --asr-url")
	fs.DurationVar(&o.timeout, "asr-timeout", 60*time.Second, "http engine: time allowed per request")
	threads := 1 // workers run side by side: one thread each uses the CPU best
	if !stage {
		threads = runtime.NumCPU() // one file at a time: give it every core
	}
	fs.IntVar(&o.threads, "asr-threads", threads, "whisper: threads per transcription")
	fs.StringVar(&o.language, "asr-language", "", "default language hint (en, ko, auto); jobs may carry their own")
	fs.StringVar(&o.prompt, "asr-prompt", "", "initial prompt: your contact center's vocabulary (product names, jargon)")
	fs.IntVar(&o.audioCtx, "asr-audio-ctx", 0, "whisper: encoder audio context (0 = the model's 1500, -1 = fit each utterance; smaller is faster, a little less accurate)")
	fs.IntVar(&o.beam, "asr-beam", 0, "whisper: beam size (0 or 1 = greedy)")
}

// resolve names the engine the flags ask for ("whisper", "http" or "none")
// and refuses, without loading or reaching anything, flags that cannot work:
// no engine at all, --engine none where the command must transcribe,
// --engine http without a URL, whisper in a binary built without it or
// without a model file. What cannot work is refused with what to install or
// pass; --engine none only where the command can run without transcription
// (earshot run: noneOK).
func (o *asrOptions) resolve(noneOK bool) (string, error) {
	name := o.engineName
	if name == "auto" {
		switch {
		case o.url != "":
			name = "http"
		case o.model != "":
			name = "whisper"
		default:
			return "", badInputf("no transcription engine: %s", noEngineHelp(noneOK))
		}
	}
	switch name {
	case "none":
		if !noneOK {
			return "", badInputf("--engine none: this command transcribes; pick --engine whisper or --engine http (only earshot run runs without transcription)")
		}
	case "http":
		if o.url == "" {
			return "", badInputf("--engine http needs --asr-url URL (an OpenAI-compatible server: POST /v1/audio/transcriptions)")
		}
	case "whisper":
		if o.threads < 1 {
			return "", badInputf("--asr-threads %d: want at least 1", o.threads)
		}
		if err := whisper.CheckModel(o.model); err != nil { // reported either way
			return "", badInput(err)
		}
		if !whisper.Built {
			return "", badInputf("--engine whisper: %s", whisper.NotBuiltHelp)
		}
	default:
		return "", badInputf("--engine %q: want whisper, http or none", name)
	}
	return name, nil
}

// engine builds the engine the flags ask for; nil (with no error) for
// --engine none.
func (o *asrOptions) engine(ctx context.Context, workers int, log *slog.Logger, noneOK bool) (transcribe.Engine, func(), error) {
	name, err := o.resolve(noneOK)
	if err != nil {
		return nil, nil, err
	}
	switch name {
	case "none":
		return nil, func() {}, nil
	case "http":
		e, err := httpasr.New(httpasr.Config{
			URL: o.url, Model: o.httpModel, APIKey: o.apiKey, Language: o.language, Prompt: o.prompt,
			Timeout: o.timeout, Logger: log.With("engine", "http"),
		})
		if err != nil {
			return nil, nil, badInput(err)
		}
		cctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		if err := e.Check(cctx); err != nil {
			e.Close()
			return nil, nil, fmt.Errorf("transcription server check failed: %w", err)
		}
		log.Info("transcription engine", "engine", "http", "url", e.Endpoint(), "model", o.httpModel)
		return e, e.Close, nil
	default: // whisper
		e, err := whisper.New(whisper.Config{
			ModelPath: o.model, VADModelPath: o.vadModel, Workers: workers, Threads: o.threads,
			AudioCtx: o.audioCtx, BeamSize: o.beam, Language: o.language, Prompt: o.prompt,
		})
		if err != nil {
			return nil, nil, badInput(err)
		}
		log.Info("transcription engine", "engine", "whisper", "model", o.model, "workers", workers, "threads", o.threads, "audio_ctx", o.audioCtx, "vad", o.vadModel != "")
		return e, e.Close, nil
	}
}

// noEngineHelp says how to get a transcription engine; where the command
// can run without one (earshot run: noneOK), also how to do that.
func noEngineHelp(noneOK bool) string {
	help := "pass --model PATH (or set WHISPER_MODEL) to a whisper.cpp ggml model, e.g. ggml-base.en.bin from " +
		"https://huggingface.co/ggerganov/whisper.cpp, or --engine http --asr-url URL"
	if !whisper.Built {
		help = "pass --engine http --asr-url URL (an OpenAI-compatible transcription server), or " + whisper.InstallHelp +
			" and pass --model ggml-base.en.bin (or set WHISPER_MODEL)"
	}
	if noneOK {
		help += "; --engine none runs without transcription"
	}
	return help
}

// transcribeCmd is earshot transcribe FILE.wav...: recordings to JSON lines.
func transcribeCmd(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot transcribe", flag.ContinueOnError)
	fs.SetOutput(std.err)
	var o asrOptions
	o.flags(fs, false)
	stereo := fs.String("stereo", "split", "stereo files: split (left is leg a, right leg b: agent and customer on separate channels) or mix")
	quiet := fs.Bool("quiet", false, "no progress bar")
	fs.Usage = func() {
		fmt.Fprintln(std.err, "usage: earshot transcribe [flags] FILE.wav...  (segments as JSON lines on stdout)")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return badInputf("no files: earshot transcribe [flags] FILE.wav...")
	}
	if *stereo != "split" && *stereo != "mix" {
		return badInputf("--stereo %q: want split or mix", *stereo)
	}
	log := slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, closeEngine, err := o.engine(ctx, 1, log, false)
	if err != nil {
		return err
	}
	defer closeEngine()
	b := &asrBatch{
		engine: transcribe.Guarded(eng, transcribe.NewGuard(transcribe.GuardConfig{})),
		info:   eng.Info(), language: o.language, mix: *stereo == "mix",
		out: json.NewEncoder(std.out), progress: std.err,
	}
	if *quiet {
		b.progress = io.Discard
	}
	var bad []error
	for _, path := range fs.Args() {
		if err := b.file(ctx, path); err != nil {
			if ctx.Err() != nil {
				return err
			}
			var ue usageError
			if !errors.As(err, &ue) {
				return err // the engine failed: stop
			}
			bad = append(bad, err)
			fmt.Fprintf(std.err, "earshot transcribe: %v\n", err)
		}
	}
	if len(bad) > 0 {
		return badInputf("%d of %d files could not be read", len(bad), fs.NArg())
	}
	return nil
}

// asrBatch transcribes files one after another.
type asrBatch struct {
	engine   transcribe.Engine
	info     transcribe.EngineInfo
	language string
	mix      bool
	out      *json.Encoder
	progress io.Writer
}

// asrChunkMS bounds one piece of a recording: whisper's window.
const asrChunkMS = 30_000

func (b *asrBatch) file(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return badInput(err)
	}
	w, err := transcribe.ReadWAV(f)
	f.Close()
	if err != nil {
		return badInputf("%s: %w", path, err)
	}
	rs, err := transcribe.NewResampler(w.Rate, transcribe.EngineRate)
	if err != nil {
		return badInputf("%s: %w", path, err)
	}
	legs := []msg.Role{msg.RoleA, msg.RoleB}
	chans := w.Channels
	if len(chans) == 2 && b.mix {
		m := make([]float32, len(chans[0]))
		for i := range m {
			m[i] = (chans[0][i] + chans[1][i]) / 2
		}
		chans = [][]float32{m}
	}
	call := asrCallID(path)
	total := w.DurationMS() * int64(len(chans))
	var done int64
	bar := asrBar{w: b.progress, name: filepath.Base(path), totalMS: total}
	bar.draw(0)
	for c, samples := range chans {
		audio := rs.Resample(nil, samples)
		turn := 0
		for _, piece := range asrPieces(audio) {
			turn++
			startMS := int64(piece[0]) * 1000 / transcribe.EngineRate
			endMS := int64(piece[1]) * 1000 / transcribe.EngineRate
			res, err := b.engine.Transcribe(ctx, transcribe.Audio{Samples: audio[piece[0]:piece[1]], Language: b.language})
			if err != nil {
				return fmt.Errorf("%s: %d-%d ms: %w", path, startMS, endMS, err)
			}
			done += endMS - startMS
			bar.draw(done)
			if res.Text == "" {
				continue
			}
			seg := msg.Segment{
				ID: fmt.Sprintf("%s/%s/%d/0", call, legs[c], turn), CallID: call, Leg: legs[c], Turn: turn,
				StartMS: startMS, EndMS: endMS, Text: res.Text, Language: res.Language,
				Confidence: res.Confidence, Engine: b.info.Name, Model: b.info.Model,
			}
			for _, wd := range res.Words {
				wd.StartMS += startMS
				wd.EndMS += startMS
				seg.Words = append(seg.Words, wd)
			}
			if err := b.out.Encode(seg); err != nil {
				return err
			}
		}
	}
	bar.finish()
	return nil
}

// asrPieces cuts 16 kHz audio into pieces of at most asrChunkMS, each cut
// at the quietest 100 ms in the last 10 s of its window so words are not
// split.
func asrPieces(audio []float32) [][2]int {
	const rate = transcribe.EngineRate
	const win, search, frame = asrChunkMS * rate / 1000, 10 * rate, rate / 10
	var out [][2]int
	for start := 0; start < len(audio); {
		end := start + win
		if end >= len(audio) {
			out = append(out, [2]int{start, len(audio)})
			break
		}
		best, bestE := end, float32(-1)
		for f := end - search; f+frame <= end; f += frame {
			var e float32
			for _, s := range audio[f : f+frame] {
				e += s * s
			}
			if bestE < 0 || e < bestE {
				best, bestE = f+frame/2, e
			}
		}
		out = append(out, [2]int{start, best})
		start = best
	}
	return out
}

// asrCallID makes a call id of a file name.
func asrCallID(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	id := []rune{}
	for _, r := range base {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_:@+", r)) {
			r = '_'
		}
		id = append(id, r)
	}
	if len(id) == 0 {
		return "file"
	}
	return string(id[:min(len(id), msg.MaxCallIDLen)])
}

// asrBar is a progress bar on stderr, by audio time transcribed.
type asrBar struct {
	w       io.Writer
	name    string
	totalMS int64
	start   time.Time
}

func (b *asrBar) draw(doneMS int64) {
	if b.start.IsZero() {
		b.start = time.Now()
	}
	const width = 30
	frac := 1.0
	if b.totalMS > 0 {
		frac = float64(doneMS) / float64(b.totalMS)
	}
	n := int(frac * width)
	fmt.Fprintf(b.w, "\r%s [%s%s] %3.0f%% %.1f/%.1f s audio, %.1f s", b.name, strings.Repeat("=", n), strings.Repeat(" ", width-n),
		100*frac, float64(doneMS)/1000, float64(b.totalMS)/1000, time.Since(b.start).Seconds())
}

func (b *asrBar) finish() { fmt.Fprintln(b.w) }
