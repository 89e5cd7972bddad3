package transcribe

import (
	"context"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/earshot-dev/earshot/msg"
)

// GuardConfig configures the guard that keeps silence and whisper's known
// hallucinations out of transcripts. The zero value uses the defaults.
type GuardConfig struct {
	// SilenceDBFS: audio whose speech level (see Level) is below this is
	// silence; the engine is not run. Default -50 dBFS.
	SilenceDBFS float64
	// QuietDBFS: on audio whose speech level is below this (near-silent),
	// or in which the engine found no speech, a transcript that is only a
	// known hallucination is dropped. Default -35 dBFS. On louder audio the
	// same words are kept: a caller saying "Thank you." is common.
	QuietDBFS float64
	// Phrases adds hallucinated phrases to the built-in list (compared
	// without case, punctuation or extra spaces).
	Phrases []string
}

// The guard's default levels.
const (
	DefaultSilenceDBFS = -50.0
	DefaultQuietDBFS   = -35.0
)

// hallucinations are the phrases whisper produces from silence and noise
// (whisper.cpp issue #1724, WhisperLive issue #185), normalised.
var hallucinations = []string{
	"thanks for watching", "thank you for watching", "thanks for watching and see you next time",
	"thank you", "thank you very much", "thank you so much", "thanks", "thank you bye",
	"you", "bye", "bye bye", "so", "okay", "oh", "uh", "um", "hmm",
	"please subscribe", "subscribe", "like and subscribe", "please like and subscribe",
	"please subscribe to my channel", "dont forget to like and subscribe",
	"see you next time", "see you in the next video", "ill see you next time",
	"thank you for listening", "thanks for listening",
	// Korean, the next language Earshot serves.
	"시청해주셔서 감사합니다", "시청해 주셔서 감사합니다", "구독과 좋아요 부탁드립니다", "감사합니다",
}

// hallucinationPrefixes start credits whisper learnt from subtitle files.
var hallucinationPrefixes = []string{
	"subtitles by", "subtitled by", "captions by", "captioned by", "transcribed by",
	"transcription by", "translated by", "translation by", "amaraorg", "subtitles made by",
}

// Guard decides which audio is silence and which transcripts are
// hallucinations.
type Guard struct {
	cfg     GuardConfig
	phrases []string
}

// NewGuard builds a guard; the zero config uses the defaults.
func NewGuard(cfg GuardConfig) *Guard {
	if cfg.SilenceDBFS == 0 {
		cfg.SilenceDBFS = DefaultSilenceDBFS
	}
	if cfg.QuietDBFS == 0 {
		cfg.QuietDBFS = DefaultQuietDBFS
	}
	g := &Guard{cfg: cfg, phrases: slices.Clone(hallucinations)}
	for _, p := range cfg.Phrases {
		if n := normalize(p); n != "" {
			g.phrases = append(g.phrases, n)
		}
	}
	return g
}

// Level is the speech level of samples in dBFS: the RMS level of the
// loudest 10% of its 20 ms frames at EngineRate, so that pauses inside an
// utterance do not pull a talker's level down. Empty audio is -inf.
func Level(samples []float32) float64 {
	const frame = EngineRate / 50
	var levels []float64
	for i := 0; i < len(samples); i += frame {
		f := samples[i:min(i+frame, len(samples))]
		var sum float64
		for _, s := range f {
			sum += float64(s) * float64(s)
		}
		levels = append(levels, sum/float64(len(f)))
	}
	if len(levels) == 0 {
		return math.Inf(-1)
	}
	slices.Sort(levels)
	top := levels[len(levels)*9/10:]
	var mean float64
	for _, l := range top {
		mean += l
	}
	mean /= float64(len(top))
	return 10 * math.Log10(mean+1e-20)
}

// Silent reports whether audio at this speech level is silence.
func (g *Guard) Silent(level float64) bool { return level < g.cfg.SilenceDBFS }

// Filter cleans an engine's text: it removes non-speech annotations
// ("[BLANK_AUDIO]", "(music)", "♪") anywhere, and returns "" when what is
// left is a known hallucination and the audio was near-silent (or the
// engine found no speech). dropped reports whether text was removed that way.
func (g *Guard) Filter(text string, level float64, noSpeech bool) (clean string, dropped bool) {
	clean = strings.Join(strings.Fields(stripAnnotations(text)), " ")
	if clean == "" {
		return "", strings.TrimSpace(text) != ""
	}
	if level >= g.cfg.QuietDBFS && !noSpeech {
		return clean, false
	}
	n := normalize(clean)
	if n == "" || slices.Contains(g.phrases, n) {
		return "", true
	}
	for _, p := range hallucinationPrefixes {
		if strings.HasPrefix(n, p) {
			return "", true
		}
	}
	return clean, false
}

// stripAnnotations removes [..], (..) and *..* spans and music symbols. An
// opening bracket that is never closed is kept, with what follows it.
func stripAnnotations(s string) string {
	var b strings.Builder
	var close rune
	open := 0
	for i, r := range s {
		switch {
		case close != 0:
			if r == close {
				close = 0
			}
		case r == '[' || r == '(' || r == '*':
			close, open = map[rune]rune{'[': ']', '(': ')', '*': '*'}[r], i
		case r == '♪' || r == '♫' || r == '♬':
		default:
			b.WriteRune(r)
		}
	}
	if close != 0 {
		b.WriteString(s[open:])
	}
	return b.String()
}

// normalize lowercases s, drops punctuation and collapses spaces.
func normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		case unicode.IsSpace(r):
			space = true
		}
	}
	return b.String()
}

// Guarded wraps e with g: silent audio never reaches the engine (Dropped
// "silence"), and the engine's text goes through Filter (Dropped
// "hallucination" when it was removed, "silence" when the engine wrote
// nothing down).
func Guarded(e Engine, g *Guard) Engine { return guarded{e, g} }

type guarded struct {
	e Engine
	g *Guard
}

func (x guarded) Info() EngineInfo { return x.e.Info() }

func (x guarded) Transcribe(ctx context.Context, a Audio) (Result, error) {
	level := Level(a.Samples)
	if x.g.Silent(level) {
		return Result{Dropped: DroppedSilence, NoSpeech: true}, nil
	}
	res, err := x.e.Transcribe(ctx, a)
	if err != nil {
		return Result{}, err
	}
	clean, dropped := x.g.Filter(res.Text, level, res.NoSpeech)
	switch {
	case dropped:
		res = Result{Language: res.Language, NoSpeech: res.NoSpeech, Dropped: DroppedHallucination}
	case clean == "":
		// The engine heard nothing it could write down.
		res = Result{Language: res.Language, NoSpeech: res.NoSpeech, Dropped: DroppedSilence}
	case clean != res.Text:
		res.Text = clean
		res.Words = slices.DeleteFunc(res.Words, func(w msg.Word) bool { return strings.TrimSpace(stripAnnotations(w.Text)) == "" })
	}
	return res, nil
}
