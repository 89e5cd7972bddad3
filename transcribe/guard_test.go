package transcribe

import (
	"context"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/earshot-dev/earshot/msg"
)

func TestGuardFilter(t *testing.T) {
	g := NewGuard(GuardConfig{Phrases: []string{"Call recorded for quality."}})
	const quiet, loud = -45.0, -20.0
	for _, tc := range []struct {
		text     string
		level    float64
		noSpeech bool
		want     string
		dropped  bool
	}{
		{" Thanks for watching!", quiet, false, "", true},
		{"Thank you.", quiet, false, "", true},
		{"you", quiet, false, "", true},
		{"Subtitles by the Amara.org community", quiet, false, "", true},
		{"[BLANK_AUDIO]", loud, false, "", true},
		{" (upbeat music) ♪", loud, false, "", true},
		{"시청해주셔서 감사합니다.", quiet, false, "", true},
		{"call recorded, for quality", quiet, false, "", true}, // a configured phrase
		{"Thank you.", loud, false, "Thank you.", false},       // said out loud
		{"Thank you.", loud, true, "", true},                   // the engine heard no speech
		{"[BLANK_AUDIO] I want to close my account", quiet, false, "I want to close my account", false},
		{"I want to close my account", quiet, false, "I want to close my account", false},
		{"", quiet, false, "", false},
		{"[unclosed hello", loud, false, "[unclosed hello", false},
	} {
		got, dropped := g.Filter(tc.text, tc.level, tc.noSpeech)
		if got != tc.want || dropped != tc.dropped {
			t.Errorf("Filter(%q, %v dBFS, nospeech=%v) = %q, %v; want %q, %v", tc.text, tc.level, tc.noSpeech, got, dropped, tc.want, tc.dropped)
		}
	}
}

func TestLevel(t *testing.T) {
	if l := Level(tone(EngineRate, 300, EngineRate, 0.1)); math.Abs(l-(-23.0)) > 0.2 {
		t.Errorf("0.1 amplitude sine: %.2f dBFS, want -23.0", l)
	}
	// Pauses do not pull a talker's level down: 1 s of speech in 4 s.
	s := make([]float32, 4*EngineRate)
	copy(s, tone(EngineRate, 300, EngineRate, 0.1))
	if l := Level(s); l < -24 {
		t.Errorf("speech with pauses: %.2f dBFS", l)
	}
	if l := Level(nil); !math.IsInf(l, -1) {
		t.Errorf("Level(nil) = %v", l)
	}
}

func TestGuardedEngine(t *testing.T) {
	eng := &scripted{script: func(context.Context, int, Audio) (Result, error) {
		return Result{Text: "[BLANK_AUDIO] hello", Words: []msg.Word{{Text: "[BLANK_AUDIO]"}, {Text: " hello"}}}, nil
	}}
	e := Guarded(eng, NewGuard(GuardConfig{}))
	res, err := e.Transcribe(context.Background(), Audio{Samples: make([]float32, 1600)})
	if err != nil || res.Dropped != DroppedSilence || eng.count() != 0 {
		t.Fatalf("silence: %+v, %v, engine ran %d times", res, err, eng.count())
	}
	res, err = e.Transcribe(context.Background(), Audio{Samples: tone(EngineRate, 300, 1600, 0.1)})
	if err != nil || res.Text != "hello" || len(res.Words) != 1 || res.Words[0].Text != " hello" {
		t.Fatalf("annotation removed: %+v, %v", res, err)
	}
}

func FuzzGuardFilter(f *testing.F) {
	g := NewGuard(GuardConfig{})
	f.Add("Thanks for watching!", -60.0)
	f.Fuzz(func(t *testing.T, text string, level float64) {
		got, dropped := g.Filter(text, level, false)
		if dropped && got != "" {
			t.Fatalf("dropped but returned %q", got)
		}
		if utf8.ValidString(text) && !utf8.ValidString(got) {
			t.Fatalf("valid %q became invalid %q", text, got)
		}
		if strings.ContainsRune(got, '♪') && !strings.ContainsRune(text, '[') && !strings.ContainsRune(text, '(') && !strings.ContainsRune(text, '*') {
			t.Fatalf("annotation left in %q from %q", got, text)
		}
	})
}
