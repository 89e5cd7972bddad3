package sentiment

import (
	"math"
	"strings"
	"sync"

	"github.com/earshot-dev/earshot/msg"
	"github.com/jonreiter/govader"
)

// discourseMarkers are words that, alone at the head of a sentence and set
// off by a comma or a full stop, manage the conversation rather than judge
// anything: "Okay, let me check that." "No, the other account." "Yes. One
// moment." Speech is full of them (backchannels, answers), and VADER's
// lexicon would make every such turn positive or negative, and "no" or
// "nope" would negate what follows ("Yeah, no, that's fine"). Followed by
// "!" they keep their valence ("No! Not again").
var discourseMarkers = map[string]bool{
	"ok": true, "okay": true, "alright": true, "yes": true, "yeah": true, "yep": true,
	"no": true, "nope": true, "sure": true, "well": true, "like": true, "please": true,
}

// VADER's empirically derived constants (Hutto & Gilbert 2014), as in
// govader and vaderSentiment.
const (
	boostIncr       = 0.293 // booster word
	capsIncr        = 0.733 // ALL CAPS word among others not in caps
	negScalar       = -0.74 // negated valence
	negNeverScale   = 1.25  // "never so/this good"
	butBefore       = 0.5   // valence before "but"
	butAfter        = 1.5   // valence after "but"
	alpha           = 15    // compound normalisation
	epAmplify       = 0.292 // per '!', at most maxEP
	maxEP           = 4
	qmAmplify       = 0.18 // per '?' when 2 or 3
	maxQM           = 0.96
	window1Scale    = 0.95 // booster two words back
	window2Scale    = 0.9  // booster three words back
	leastNegScalar  = negScalar
	phraseMaxTokens = 8
)

// EnglishConfig chooses the English model's extensions; the zero value is
// the model Earshot uses. Each switch exists so its effect can be measured
// against plain VADER (see the tweets test).
type EnglishConfig struct {
	// NoPhrases leaves out the contact-center phrase lexicon.
	NoPhrases bool
	// KeepMarkers scores discourse markers like any word ("Okay, ..." is
	// positive in VADER); see discourseMarkers.
	KeepMarkers bool
	// CrossSentence lets negations and boosters reach across a sentence end
	// (VADER's behaviour: "Nothing happened! You suck" negates "suck").
	CrossSentence bool
}

// English is VADER (govader's lexicon, boosters, negations and idioms, the
// same rules) over prose's tokens, extended for contact-center speech: a
// phrase lexicon ("cancel my account", "on hold for an hour", "speak to a
// manager") scored as one word at the phrase's head, so negation and
// boosters before it apply; negations and boosters kept inside their
// sentence; and discourse markers ("Okay, ...") scored 0.
type English struct {
	cfg      EnglishConfig
	lexicon  map[string]float64
	boosters map[string]float64
	negates  map[string]bool
	special  map[string]float64
	phrases  phraseIndex
	pool     sync.Pool
}

var _ Model = (*English)(nil)

// NewEnglish builds the English model. govader's lexicon is parsed once per
// model (about 7,500 entries); share the model, it is safe for concurrent use.
func NewEnglish(cfg EnglishConfig) *English {
	sia := govader.NewSentimentIntensityAnalyzer()
	e := &English{
		cfg:      cfg,
		lexicon:  sia.Lexicon,
		boosters: sia.Constants.BoosterDict,
		negates:  map[string]bool{},
		special:  sia.Constants.SpecialCaseIdioms,
	}
	for _, w := range sia.Constants.NegateList {
		e.negates[w] = true
	}
	if !cfg.NoPhrases {
		e.phrases = newPhraseIndex(contactCenterPhrases(sia.Constants.LadenIdioms))
	}
	e.pool.New = func() any { return &scratch{} }
	return e
}

type scratch struct {
	words []word
	vals  []float64
	skip  []bool
}

func (e *English) inLexicon(w string) bool {
	_, ok := e.lexicon[w]
	return ok
}

// Score implements Model.
func (e *English) Score(text string) msg.Sentiment {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	s.words = e.tokenize(text, s.words[:0])
	words := s.words
	if len(words) == 0 {
		return msg.Sentiment{Label: msg.Neutral, Neu: 1}
	}
	capDiff := capsDifferential(words)
	vals := s.vals[:0]
	skip := s.skip[:0]
	for range words {
		skip = append(skip, false)
	}
	for i := range words {
		lw := words[i].lower
		switch {
		case skip[i]:
			vals = append(vals, 0)
		case e.phrases.has(lw) && e.phraseAt(words, i, skip, &vals, capDiff):
		case e.marker(words[i]):
			vals = append(vals, 0)
		case e.boosters[lw] != 0:
			vals = append(vals, 0)
		case lw == "kind" && i+1 < len(words) && words[i+1].lower == "of":
			vals = append(vals, 0)
		default:
			v, ok := e.lexicon[lw]
			if !ok {
				vals = append(vals, 0)
				continue
			}
			if lw == "no" && i+1 < len(words) && e.inLexicon(words[i+1].lower) {
				v = 0
			}
			vals = append(vals, e.valence(words, i, v, capDiff))
		}
	}
	s.vals, s.skip = vals, skip
	e.butCheck(words, vals)
	return e.scoreValence(vals, text)
}

// phraseAt scores a phrase starting at words[i], if one does: its valence
// goes on its first word (with VADER's rules for what precedes it), the
// rest of its words score 0.
func (e *English) phraseAt(words []word, i int, skip []bool, vals *[]float64, capDiff bool) bool {
	v, n, ok := e.phrases.match(words, i)
	if !ok {
		return false
	}
	for j := i + 1; j < i+n; j++ {
		skip[j] = true
	}
	*vals = append(*vals, e.valence(words, i, v, capDiff))
	return true
}

// valence applies VADER's rules to the lexicon valence v of words[i]:
// "no" before it, capitals, boosters and negations up to three words back,
// special idioms, "least".
func (e *English) valence(words []word, i int, v float64, capDiff bool) float64 {
	lw := func(k int) string { return words[k].lower }
	// first is the first word the rules may look back to.
	first := 0
	if !e.cfg.CrossSentence {
		for first = i; first > 0 && words[first-1].sent == words[i].sent; first-- {
		}
	}
	isNo := func(k int) bool { return k >= first && lw(k) == "no" && !e.marker(words[k]) }
	if isNo(i-1) || isNo(i-2) || (isNo(i-3) && (lw(i-1) == "or" || lw(i-1) == "nor")) {
		v *= negScalar
	}
	if capDiff && isUpper(words[i].text) {
		if v > 0 {
			v += capsIncr
		} else {
			v -= capsIncr
		}
	}
	for start := 0; start < 3; start++ {
		k := i - (start + 1)
		if k < first || e.inLexicon(lw(k)) {
			continue
		}
		s := e.scalarIncDec(words[k], v, capDiff)
		switch start {
		case 1:
			s *= window1Scale
		case 2:
			s *= window2Scale
		}
		v += s
		v = e.negationCheck(v, words, start, i)
		if start == 2 {
			v = e.specialIdioms(v, words, i)
		}
	}
	// "least" before it, but not "at least" or "very least".
	if i-2 >= first && !e.inLexicon(lw(i-1)) && lw(i-1) == "least" {
		if lw(i-2) != "at" && lw(i-2) != "very" {
			v *= leastNegScalar
		}
	} else if i-1 >= first && !e.inLexicon(lw(i-1)) && lw(i-1) == "least" {
		v *= leastNegScalar
	}
	return v
}

func (e *English) scalarIncDec(w word, v float64, capDiff bool) float64 {
	s := e.boosters[w.lower]
	if s == 0 {
		return 0
	}
	if v < 0 {
		s = -s
	}
	if capDiff && isUpper(w.text) {
		if v > 0 {
			s += capsIncr
		} else {
			s -= capsIncr
		}
	}
	return s
}

func (e *English) negated(w word) bool {
	if e.marker(w) {
		return false // "Nope, that's fine": the marker answers, it does not negate
	}
	return e.negates[w.lower] || strings.Contains(w.lower, "n't")
}

// marker reports whether w is a discourse marker where markers stand.
func (e *English) marker(w word) bool {
	return !e.cfg.KeepMarkers && w.aside && discourseMarkers[w.lower]
}

func (e *English) negationCheck(v float64, words []word, start, i int) float64 {
	lw := func(k int) string { return words[k].lower }
	switch start {
	case 0:
		if e.negated(words[i-1]) {
			return v * negScalar
		}
	case 1:
		switch {
		case lw(i-2) == "never" && (lw(i-1) == "so" || lw(i-1) == "this"):
			return v * negNeverScale
		case lw(i-2) == "without" && lw(i-1) == "doubt":
			return v
		case e.negated(words[i-2]):
			return v * negScalar
		}
	case 2:
		switch {
		case lw(i-3) == "never" && (lw(i-2) == "so" || lw(i-2) == "this" || lw(i-1) == "so" || lw(i-1) == "this"):
			return v * negNeverScale
		case lw(i-3) == "without" && (lw(i-2) == "doubt" || lw(i-1) == "doubt"):
			return v
		case e.negated(words[i-3]):
			return v * negScalar
		}
	}
	return v
}

// specialIdioms is VADER's check for idioms around words[i] ("the bomb",
// "yeah right") and two-word boosters ("kind of") before it; i >= 3.
func (e *English) specialIdioms(v float64, words []word, i int) float64 {
	lw := func(k int) string { return words[k].lower }
	for _, seq := range [...]string{
		lw(i-1) + " " + lw(i),
		lw(i-2) + " " + lw(i-1) + " " + lw(i),
		lw(i-2) + " " + lw(i-1),
		lw(i-3) + " " + lw(i-2) + " " + lw(i-1),
		lw(i-3) + " " + lw(i-2),
	} {
		if sv, ok := e.special[seq]; ok {
			v = sv
			break
		}
	}
	if i+1 < len(words) {
		if sv, ok := e.special[lw(i)+" "+lw(i+1)]; ok {
			v = sv
		}
	}
	if i+2 < len(words) {
		if sv, ok := e.special[lw(i)+" "+lw(i+1)+" "+lw(i+2)]; ok {
			v = sv
		}
	}
	for _, seq := range [...]string{
		lw(i-3) + " " + lw(i-2) + " " + lw(i-1),
		lw(i-3) + " " + lw(i-2),
		lw(i-2) + " " + lw(i-1),
	} {
		v += e.boosters[seq]
	}
	return v
}

// butCheck halves what comes before the first "but" and raises what comes
// after it by half, across the whole text as VADER does: a sentence that
// opens with "But" turns against the sentence before it. (Keeping "but" to
// its own sentence was measured and dropped: it lowered Pearson r on the
// movie review snippets and macro F1 on the tweets.)
func (e *English) butCheck(words []word, vals []float64) {
	for bi := range words {
		if words[bi].lower != "but" {
			continue
		}
		for i := range vals {
			switch {
			case i < bi:
				vals[i] *= butBefore
			case i > bi:
				vals[i] *= butAfter
			}
		}
		return
	}
}

func (e *English) scoreValence(vals []float64, text string) msg.Sentiment {
	sum := 0.0
	for _, v := range vals {
		sum += v
	}
	emph := punctuationEmphasis(text)
	switch {
	case sum > 0:
		sum += emph
	case sum < 0:
		sum -= emph
	}
	compound := sum / math.Sqrt(sum*sum+alpha)
	compound = max(-1, min(1, compound))

	pos, neg, neu := 0.0, 0.0, 0
	for _, v := range vals {
		switch {
		case v > 0:
			pos += v + 1
		case v < 0:
			neg += v - 1
		default:
			neu++
		}
	}
	posMass, negMass := pos, -neg
	if pos > -neg {
		pos += emph
	} else if pos < -neg {
		neg -= emph
	}
	total := pos - neg + float64(neu)
	out := msg.Sentiment{Compound: round4(compound)}
	if total > 0 {
		out.Pos = round4(pos / total)
		out.Neg = round4(math.Abs(neg) / total)
		out.Neu = round4(float64(neu) / total)
	}
	out.Label = label(compound, posMass, negMass)
	return out
}

func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }

func punctuationEmphasis(text string) float64 {
	ep := min(strings.Count(text, "!"), maxEP)
	emph := float64(ep) * epAmplify
	if qm := strings.Count(text, "?"); qm > 1 {
		if qm <= 3 {
			emph += float64(qm) * qmAmplify
		} else {
			emph += maxQM
		}
	}
	return emph
}

// isUpper is Python's str.isupper: a cased letter and no lower-case one.
func isUpper(s string) bool {
	upper := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			return false
		case r >= 'A' && r <= 'Z':
			upper = true
		}
	}
	return upper
}

// capsDifferential reports whether some but not all words are in capitals.
func capsDifferential(words []word) bool {
	n := 0
	for _, w := range words {
		if isUpper(w.text) {
			n++
		}
	}
	return n > 0 && n < len(words)
}
