package sentiment

import (
	"sort"
	"strings"
)

// phrase is a run of words scored as one lexicon entry.
type phrase struct {
	words   []string
	valence float64
}

// phraseIndex finds phrases by their first word, longest first.
type phraseIndex map[string][]phrase

func newPhraseIndex(ps map[string]float64) phraseIndex {
	idx := phraseIndex{}
	for text, v := range ps {
		ws := strings.Fields(text)
		if len(ws) < 2 || len(ws) > phraseMaxTokens {
			continue
		}
		idx[ws[0]] = append(idx[ws[0]], phrase{words: ws, valence: v})
	}
	for _, list := range idx {
		sort.Slice(list, func(a, b int) bool {
			if len(list[a].words) != len(list[b].words) {
				return len(list[a].words) > len(list[b].words)
			}
			return strings.Join(list[a].words, " ") < strings.Join(list[b].words, " ")
		})
	}
	return idx
}

func (p phraseIndex) has(first string) bool {
	_, ok := p[first]
	return ok
}

// match returns the longest phrase that starts at words[i].
func (p phraseIndex) match(words []word, i int) (valence float64, n int, ok bool) {
	for _, ph := range p[words[i].lower] {
		if i+len(ph.words) > len(words) {
			continue
		}
		hit := true
		for j, w := range ph.words[1:] {
			next := words[i+1+j]
			if next.sent != words[i].sent || next.lower != w && (w != numberSlot || !isNumber(next.lower)) {
				hit = false
				break
			}
		}
		if hit {
			return ph.valence, len(ph.words), true
		}
	}
	return 0, 0, false
}

// numberSlot in a phrase matches a number, in digits or in words ("on hold
// for 45 minutes", "for two hours").
const numberSlot = "<n>"

var numberWords = map[string]bool{
	"two": true, "three": true, "four": true, "five": true, "six": true, "seven": true, "eight": true,
	"nine": true, "ten": true, "eleven": true, "twelve": true, "fifteen": true, "twenty": true,
	"thirty": true, "forty": true, "fifty": true, "sixty": true, "several": true, "many": true, "few": true,
	"forty-five": true, "twenty-five": true, "thirty-five": true,
}

func isNumber(w string) bool {
	if numberWords[w] {
		return true
	}
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return true
}

// contactCenterPhrases is the phrase lexicon for contact-center speech, on
// VADER's -4..+4 scale, each valence set beside the single words of the
// lexicon that mean about as much ("cancel" -1.0, "complaint" -1.2,
// "frustrated" -2.4, "thanks" 1.9, "helpful" 1.8). Every phrase says
// something its words alone do not: wanting to leave, waiting, escalating,
// a fault that persists, a problem solved. VADER's own multi-word idioms
// ("under the weather", "in the red"), which vaderSentiment lists but does
// not use, are added as phrases too.
func contactCenterPhrases(idioms map[string]float64) map[string]float64 {
	ps := map[string]float64{}
	for k, v := range idioms {
		ps[k] = v
	}
	add := func(v float64, texts ...string) {
		for _, t := range texts {
			ps[t] = v
		}
	}
	// Leaving: a customer asking to close or cancel, or to move elsewhere.
	for _, verb := range []string{"cancel", "close", "terminate"} {
		for _, obj := range []string{"account", "subscription", "service", "contract", "membership", "policy", "card", "plan"} {
			add(-1.8, verb+" my "+obj, verb+" the "+obj)
		}
	}
	add(-2.0, "switch to another provider", "switching to another provider", "take my business elsewhere", "going to a competitor")
	// Waiting.
	for _, lead := range []string{"on hold", "waiting", "waited", "been waiting"} {
		add(-1.5, lead+" for an hour", lead+" for hours", lead+" for ages", lead+" forever",
			lead+" for over an hour", lead+" for half an hour", lead+" for so long", lead+" for weeks", lead+" for days",
			lead+" for <n> hours", lead+" for <n> minutes", lead+" for <n> days", lead+" for <n> weeks",
			lead+" for over <n> minutes", lead+" for more than <n> minutes", lead+" for a week", lead+" for a month")
	}
	add(-1.2, "still on hold", "been on hold", "kept me on hold", "put me on hold again", "still waiting", "still haven't heard back")
	// Escalating.
	for _, verb := range []string{"speak", "talk"} {
		for _, prep := range []string{"to", "with"} {
			for _, det := range []string{"a", "your", "the", "my"} {
				for _, boss := range []string{"manager", "supervisor"} {
					add(-1.5, verb+" "+prep+" "+det+" "+boss)
				}
			}
		}
	}
	add(-1.8, "file a complaint", "make a complaint", "filing a complaint", "report you", "contact my lawyer", "better business bureau")
	// A fault that persists, or that they were told was fixed.
	add(-1.5, "not working", "still not working", "doesn't work", "does not work", "isn't working", "is not working",
		"stopped working", "still broken", "never received", "never arrived", "didn't arrive", "never got",
		"charged twice", "double charged", "overcharged me", "no one called me back", "nobody called me back",
		"nobody called back", "no one called back", "keep getting transferred", "transferred again", "hung up on me",
		"called three times", "called several times", "called multiple times", "third time calling", "waste of my time")
	add(-2.0, "this is ridiculous", "this is unacceptable", "this is a joke", "this is absurd")
	// An agent's empathy: an apology or acknowledgement for the caller's
	// trouble, not a complaint ("sorry" and "frustration" alone are negative).
	add(0.5, "sorry to hear", "so sorry to hear", "sorry for the inconvenience", "sorry about the inconvenience",
		"apologize for the inconvenience", "apologise for the inconvenience", "sorry for the trouble",
		"sorry for the wait", "sorry to keep you waiting", "sorry for the delay", "sorry about the delay",
		"understand your frustration", "understand how frustrating", "understand how you feel")
	// A problem solved, gratitude.
	add(1.8, "problem solved", "that fixed it", "that solved it", "it works now", "it's working now", "working now",
		"that worked", "that helps a lot", "sorted it out", "fixed the problem")
	add(2.5, "thank you so much", "thanks so much", "thank you very much", "thanks a lot", "really appreciate it", "appreciate your help", "you've been very helpful", "you've been so helpful")
	return ps
}
