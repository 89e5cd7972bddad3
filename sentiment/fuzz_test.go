package sentiment

import (
	"bytes"
	"context"
	"math"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/earshot-dev/earshot/msg"
)

// FuzzScore: any text gets a label and a compound score in -1..1.
func FuzzScore(f *testing.F) {
	m := NewEnglish(EnglishConfig{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := m.Score(string(b))
		switch s.Label {
		case msg.Positive, msg.Negative, msg.Neutral, msg.Mixed:
		default:
			t.Fatalf("%q: label %q", b, s.Label)
		}
		if math.IsNaN(s.Compound) || s.Compound < -1 || s.Compound > 1 {
			t.Fatalf("%q: compound %v", b, s.Compound)
		}
		if utf8.Valid(b) && s.Pos+s.Neg+s.Neu > 0 && math.Abs(s.Pos+s.Neg+s.Neu-1) > 0.001 {
			t.Fatalf("%q: pos+neg+neu = %v", b, s.Pos+s.Neg+s.Neu)
		}
	})
}

// discardPublisher takes every message.
type discardPublisher struct{ n int }

func (d *discardPublisher) Publish(context.Context, string, []byte) error { d.n++; return nil }

// FuzzHandle: any message on the analyzer's subjects is applied or refused
// with an error; it never panics.
func FuzzHandle(f *testing.F) {
	a, err := NewAnalyzer(&discardPublisher{}, Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = a.Handle(context.Background(), "earshot.transcript.fuzz", b)
	})
}

// FuzzKoreanTokens: any bytes normalise to rune starts in order, eojeol
// inside the text with no space in them and letters or digits at both
// ends, features inside the hash space, at most one phrase per eojeol,
// and a score in -1..1.
func FuzzKoreanTokens(f *testing.F) {
	k, err := NewKorean()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tx koText
		tx.normalise(string(b))
		for i := 1; i < len(tx.runes); i++ {
			if tx.runes[i] <= tx.runes[i-1] || int(tx.runes[i]) > len(tx.b) {
				t.Fatalf("%q: rune starts %v over %d bytes", b, tx.runes, len(tx.b))
			}
		}
		if !utf8.Valid(tx.b) {
			t.Fatalf("%q: normalised to invalid UTF-8 %q", b, tx.b)
		}
		for i, w := range tx.words {
			word := tx.word(i)
			if w.start >= w.end || int(w.end) > len(tx.b) || bytes.IndexByte(word, ' ') >= 0 {
				t.Fatalf("%q: eojeol %d at %d..%d: %q", b, i, w.start, w.end, word)
			}
			first, _ := utf8.DecodeRune(word)
			last, _ := utf8.DecodeLastRune(word)
			if !(unicode.IsLetter(first) || unicode.IsDigit(first)) || !(unicode.IsLetter(last) || unicode.IsDigit(last)) {
				t.Fatalf("%q: eojeol %q keeps punctuation at an edge", b, word)
			}
		}
		for _, f := range tx.features(nil, 12, k.lex) {
			if f >= 1<<12 {
				t.Fatalf("%q: feature %d outside 12 bits", b, f)
			}
		}
		if h := k.phrases.match(&tx); h.polar+h.plain > len(tx.words) {
			t.Fatalf("%q: phrases %+v in %d eojeol", b, h, len(tx.words))
		}
		s := k.Score(string(b))
		if math.IsNaN(s.Compound) || s.Compound < -1 || s.Compound > 1 || math.Abs(s.Pos+s.Neg+s.Neu-1) > 0.001 {
			t.Fatalf("%q: %+v", b, s)
		}
	})
}
