package httpasr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/transcribe"
)

// response is the verbose_json answer. OpenAI puts words at the top level;
// whisper.cpp's server and faster-whisper servers put them in segments.
type response struct {
	Text     *string   `json:"text"`
	Language string    `json:"language"`
	Words    []word    `json:"words"`
	Segments []segment `json:"segments"`
}

type segment struct {
	Text         string   `json:"text"`
	AvgLogprob   *float64 `json:"avg_logprob"`
	NoSpeechProb *float64 `json:"no_speech_prob"`
	Words        []word   `json:"words"`
}

type word struct {
	Word        string   `json:"word"`
	Start       float64  `json:"start"`
	End         float64  `json:"end"`
	Probability *float64 `json:"probability"`
}

// noSpeech is the no_speech_prob above which a segment counts as silence.
const noSpeech = 0.6

// languages maps the language names some servers answer with to codes.
var languages = map[string]string{"english": "en", "korean": "ko", "spanish": "es", "japanese": "ja", "chinese": "zh", "french": "fr", "german": "de"}

// ParseResponse reads a verbose_json (or plain json) transcription answer.
func ParseResponse(b []byte) (transcribe.Result, error) {
	var r response
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return transcribe.Result{}, fmt.Errorf("%w: %v in %s", ErrBadResponse, err, snippet(b))
	}
	if r.Text == nil {
		return transcribe.Result{}, fmt.Errorf("%w: JSON without a \"text\" field: %s", ErrBadResponse, snippet(b))
	}
	res := transcribe.Result{Text: strings.TrimSpace(*r.Text), Language: strings.ToLower(r.Language)}
	if code, ok := languages[res.Language]; ok {
		res.Language = code
	}
	words := r.Words
	if len(words) == 0 {
		for _, s := range r.Segments {
			words = append(words, s.Words...)
		}
	}
	var psum float64
	var pn int
	for _, w := range words {
		if !finite(w.Start) || !finite(w.End) || w.Start < 0 || w.End < w.Start || w.End > 24*3600 {
			return transcribe.Result{}, fmt.Errorf("%w: word %q from %v s to %v s", ErrBadResponse, w.Word, w.Start, w.End)
		}
		mw := msg.Word{Text: strings.TrimSpace(w.Word), StartMS: int64(math.Round(w.Start * 1000)), EndMS: int64(math.Round(w.End * 1000))}
		if w.Probability != nil && finite(*w.Probability) {
			mw.Confidence = min(1, max(0, *w.Probability))
			psum += mw.Confidence
			pn++
		}
		if mw.Text != "" {
			res.Words = append(res.Words, mw)
		}
	}
	silent := len(r.Segments) > 0
	var lsum float64
	var ln int
	for _, s := range r.Segments {
		if s.NoSpeechProb == nil || *s.NoSpeechProb < noSpeech {
			silent = false
		}
		if s.AvgLogprob != nil && finite(*s.AvgLogprob) {
			lsum += *s.AvgLogprob
			ln++
		}
	}
	res.NoSpeech = silent
	switch {
	case pn > 0:
		res.Confidence = psum / float64(pn)
	case ln > 0:
		res.Confidence = min(1, math.Exp(lsum/float64(ln)))
	}
	return res, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
