// Package scriptedasr is a load-test double of a transcription server. It
// speaks the OpenAI-compatible POST /v1/audio/transcriptions that the http
// engine (transcribe/httpasr) sends to and answers at once, without
// recognising anything, with the text of the scripted call turn whose
// length is nearest the audio's: so that `earshot load --transcriber`
// can drive Earshot's own stages at full speed with text that makes rules
// fire. It is never a transcription engine; point nothing real at it.
package scriptedasr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/internal/wav"
	"github.com/earshot-dev/earshot/msg"
)

// Turn is one scripted turn as the double answers it.
type Turn struct {
	Text     string
	Language string // "en" when the script names no voice
	// DurMS is how long its speech lasts on its leg (with capture's
	// pre- and post-roll added), what an utterance job of it carries.
	DurMS int64
}

// roll is capture's pre-roll and post-roll around a turn's speech.
const roll = 120

// maxBody bounds a request: 30 s jobs at 16 kHz are under 1 MB.
const maxBody = 16 << 20

// TurnsOf measures the turns of a script from its rendered legs (8 kHz):
// a turn's speech runs from its at_ms to the last loud frame before the
// leg's next turn.
func TurnsOf(s *synthcall.Script, legs map[msg.Role][]int16) []Turn {
	lang := "en"
	if v := s.Voice; v != "" && !strings.HasPrefix(v, "en") {
		lang, _, _ = strings.Cut(v, "-")
	}
	var turns []Turn
	for i, t := range s.Turns {
		pcm := legs[t.Leg]
		from := int(t.AtMS * msg.SampleRate / 1000)
		to := len(pcm)
		for _, u := range s.Turns[i+1:] {
			if u.Leg == t.Leg && u.AtMS > t.AtMS {
				to = min(to, int(u.AtMS*msg.SampleRate/1000))
				break
			}
		}
		if from >= to {
			continue
		}
		first, last := synthcall.SpeechBounds(pcm[from:to])
		if first < 0 {
			continue
		}
		turns = append(turns, Turn{Text: t.Text, Language: lang, DurMS: int64(last-first+1)*1000/msg.SampleRate + roll})
	}
	return turns
}

// Server answers transcription requests. It is safe for concurrent use.
type Server struct {
	turns    []Turn // by DurMS
	requests atomic.Int64
}

// New builds a Server answering with turns.
func New(turns []Turn) (*Server, error) {
	if len(turns) == 0 {
		return nil, errors.New("scriptedasr: no scripted turns to answer with")
	}
	s := &Server{turns: append([]Turn(nil), turns...)}
	sort.SliceStable(s.turns, func(i, j int) bool { return s.turns[i].DurMS < s.turns[j].DurMS })
	return s, nil
}

// Requests is how many requests were answered with a transcription.
func (s *Server) Requests() int64 { return s.requests.Load() }

// nearest is the turn whose length is nearest ms.
func (s *Server) nearest(ms int64) Turn {
	i := sort.Search(len(s.turns), func(i int) bool { return s.turns[i].DurMS >= ms })
	switch {
	case i == len(s.turns):
		return s.turns[i-1]
	case i > 0 && ms-s.turns[i-1].DurMS < s.turns[i].DurMS-ms:
		return s.turns[i-1]
	}
	return s.turns[i]
}

type word struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

type segment struct {
	Text         string  `json:"text"`
	AvgLogprob   float64 `json:"avg_logprob"`
	NoSpeechProb float64 `json:"no_speech_prob"`
	Words        []word  `json:"words"`
}

type response struct {
	Text     string    `json:"text"`
	Language string    `json:"language"`
	Segments []segment `json:"segments"`
}

// ServeHTTP answers a multipart request with a file part holding a WAV.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "scriptedasr: POST a multipart form with a file", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "scriptedasr: "+err.Error(), http.StatusBadRequest)
		return
	}
	var audio *wav.Audio
	lang := ""
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, "scriptedasr: "+err.Error(), http.StatusBadRequest)
			return
		}
		switch p.FormName() {
		case "file":
			b, err := io.ReadAll(p)
			if err == nil {
				audio, err = wav.Read(bytes.NewReader(b))
			}
			if err != nil {
				http.Error(w, fmt.Sprintf("scriptedasr: file: %v", err), http.StatusBadRequest)
				return
			}
		case "language":
			b, _ := io.ReadAll(io.LimitReader(p, 16))
			lang = string(b)
		}
	}
	if audio == nil || audio.SampleRate <= 0 || audio.Channels <= 0 {
		http.Error(w, "scriptedasr: no file part with a WAV", http.StatusBadRequest)
		return
	}
	ms := int64(len(audio.Samples)/audio.Channels) * 1000 / int64(audio.SampleRate)
	t := s.nearest(ms)
	if lang == "" {
		lang = t.Language
	}
	// The words spread evenly over the audio.
	fields := strings.Fields(t.Text)
	sec := float64(ms) / 1000
	seg := segment{Text: t.Text, AvgLogprob: -0.2, NoSpeechProb: 0.01, Words: make([]word, len(fields))}
	for i, f := range fields {
		seg.Words[i] = word{Word: f, Start: sec * float64(i) / float64(len(fields)), End: sec * float64(i+1) / float64(len(fields))}
	}
	s.requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(response{Text: t.Text, Language: lang, Segments: []segment{seg}})
}
