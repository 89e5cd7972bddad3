package sentiment

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/earshot-dev/earshot/msg"
)

// Model scores one text. Implementations are safe for concurrent use.
type Model interface {
	Score(text string) msg.Sentiment
}

// ModelFunc adapts a function to Model.
type ModelFunc func(text string) msg.Sentiment

// Score implements Model.
func (f ModelFunc) Score(text string) msg.Sentiment { return f(text) }

// Models chooses a model by language: the base of a BCP 47 tag ("en" for
// "en-US"), lower case. A language without a model of its own gets
// Default; with no Default, its text is neutral and says why (see Score).
type Models struct {
	ByLanguage map[string]Model
	Default    Model
}

// NewModels returns Earshot's models: English and Korean, and no default,
// so that a language with no model is neutral and says so.
func NewModels() (*Models, error) {
	ko, err := NewKorean()
	if err != nil {
		return nil, err
	}
	return &Models{ByLanguage: map[string]Model{"en": NewEnglish(EnglishConfig{}), "ko": ko}}, nil
}

// For returns the model for lang, or nil when there is none.
func (m *Models) For(lang string) Model {
	if mod, ok := m.ByLanguage[baseLanguage(lang)]; ok {
		return mod
	}
	return m.Default
}

// Score scores text with the model of lang; an empty lang (or "auto",
// "und": a transcriber's or an announce's "not known") is detected from the
// text (DetectLanguage). The result names the language scored (or
// found); a language with no model gives a neutral result whose Unscored
// says so.
func (m *Models) Score(lang, text string) msg.Sentiment {
	lang = baseLanguage(lang)
	if lang == "" || lang == "auto" || lang == "und" {
		lang = DetectLanguage(text)
	}
	mod := m.For(lang)
	if mod == nil {
		return msg.Sentiment{Label: msg.Neutral, Neu: 1, Language: lang,
			Unscored: fmt.Sprintf("no sentiment model for language %q", lang)}
	}
	s := mod.Score(text)
	s.Language = lang
	return s
}

// baseLanguage is the base of a BCP 47 tag, lower case: "ko" for "ko-KR".
func baseLanguage(tag string) string {
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(strings.TrimSpace(tag))
}

// DetectLanguage names the language of a text that says nothing of its
// own: "ko" when at least half its letters are Hangul, else "en".
func DetectLanguage(text string) string {
	letters, hangul := 0, 0
	for _, r := range text {
		switch {
		case isHangul(r):
			hangul++
			letters++
		case unicode.IsLetter(r):
			letters++
		}
	}
	if hangul > 0 && 2*hangul >= letters {
		return "ko"
	}
	return "en"
}

// Thresholds of the labels. Compound scores at or beyond ±CompoundThreshold
// are positive or negative (VADER's own threshold); a text whose positive
// and negative parts are both strong is mixed.
const (
	CompoundThreshold = 0.05
	// MixedMin is the least valence mass (VADER's sifted sums: a word of
	// valence v counts |v|+1) each side needs for a mixed label: one word of
	// at least moderate strength (|v| >= 1.5) on each side.
	MixedMin = 2.5
	// MixedBalance is the least ratio of the weaker side to the stronger
	// side for a mixed label; below it the stronger side's label wins.
	MixedBalance = 0.5
)

// label names a text's sentiment from its compound score and the positive
// and negative valence masses behind it.
func label(compound, posMass, negMass float64) string {
	if posMass >= MixedMin && negMass >= MixedMin && min(posMass, negMass) >= MixedBalance*max(posMass, negMass) {
		return msg.Mixed
	}
	switch {
	case compound >= CompoundThreshold:
		return msg.Positive
	case compound <= -CompoundThreshold:
		return msg.Negative
	}
	return msg.Neutral
}
