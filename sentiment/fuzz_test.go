package sentiment

import (
	"context"
	"math"
	"testing"
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
