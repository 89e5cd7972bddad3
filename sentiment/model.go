package sentiment

import (
	"strings"

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
// "en-US"), lower case. A language without a model of its own (and a segment
// whose language is unknown) gets Default.
type Models struct {
	ByLanguage map[string]Model
	Default    Model
}

// For returns the model for lang.
func (m *Models) For(lang string) Model {
	if len(m.ByLanguage) > 0 {
		base := strings.ToLower(lang)
		if i := strings.IndexAny(base, "-_"); i >= 0 {
			base = base[:i]
		}
		if mod, ok := m.ByLanguage[base]; ok {
			return mod
		}
	}
	return m.Default
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
