package rules

import (
	"errors"
	"fmt"
	"strings"
)

// ptokKind is the kind of one element of a phrase pattern.
type ptokKind uint8

const (
	pLit  ptokKind = iota // a normalised word
	pGlob                 // a word with * wildcards: cancel*, *ing
	pAny                  // * alone: any one word
	pNum                  // [num]: one or more number words or digits
)

type ptok struct {
	kind ptokKind
	text string // pLit: normalised word; pGlob: lower-case glob
}

// pattern is one phrase of a rule, shared by every rule that uses it.
type pattern struct {
	id    int32
	toks  []ptok
	lang  string
	alt   int // index in the automaton's patterns of its anchor, -1 when unanchored
	start int // index in toks of the anchor's first word
	n     int // anchor words
}

// Errors in phrases.
var (
	errEmptyPhrase  = errors.New("empty phrase")
	errPlaceholder  = errors.New("unknown placeholder")
	errOnlyWildcard = errors.New("a phrase needs at least one word or [num] besides * wildcards")
	errLongPhrase   = errors.New("phrase too long")
)

// maxPhraseWords bounds a phrase.
const maxPhraseWords = 32

// compilePhrase parses a rule phrase: words, * wildcards and [num].
func compilePhrase(s, lang string) ([]ptok, error) {
	var out []ptok
	solid := false
	for _, w := range strings.Fields(s) {
		lw := strings.ToLower(w)
		switch {
		case lw == "[num]":
			out = append(out, ptok{kind: pNum})
			solid = true
		case strings.ContainsAny(lw, "[]"):
			return nil, fmt.Errorf("%w %q (want [num])", errPlaceholder, w)
		case lw == "*":
			out = append(out, ptok{kind: pAny})
		case strings.Contains(lw, "*"):
			var b strings.Builder
			lastStar := false
			for _, r := range lw {
				if r == '*' {
					if !lastStar {
						b.WriteRune(r)
					}
					lastStar = true
					continue
				}
				lastStar = false
				if isWordRune(r) {
					b.WriteRune(r)
				}
			}
			g := b.String()
			if strings.Trim(g, "*") == "" {
				out = append(out, ptok{kind: pAny})
				continue
			}
			out = append(out, ptok{kind: pGlob, text: g})
			solid = true
		default:
			for _, t := range tokenize(nil, w, lang) {
				out = append(out, ptok{kind: pLit, text: t.norm})
				solid = true
			}
		}
	}
	if len(out) == 0 {
		return nil, errEmptyPhrase
	}
	if !solid {
		return nil, errOnlyWildcard
	}
	if len(out) > maxPhraseWords {
		return nil, fmt.Errorf("%w: %d words, at most %d", errLongPhrase, len(out), maxPhraseWords)
	}
	return out, nil
}

func phraseKey(toks []ptok, lang string) string {
	var b strings.Builder
	b.WriteString(lang)
	b.WriteByte('|')
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch t.kind {
		case pLit, pGlob:
			b.WriteString(t.text)
		case pAny:
			b.WriteString("*")
		case pNum:
			b.WriteString("[num]")
		}
	}
	return b.String()
}

// anchor picks the longest run of literal words as the automaton's key.
func anchor(toks []ptok) (start, n int, key string) {
	best, bestLen := -1, 0
	bestN := 0
	for i := 0; i < len(toks); {
		if toks[i].kind != pLit {
			i++
			continue
		}
		j, l := i, 0
		for j < len(toks) && toks[j].kind == pLit {
			l += len(toks[j].text) + 1
			j++
		}
		if l > bestLen {
			best, bestLen, bestN = i, l, j-i
		}
		i = j
	}
	if best < 0 {
		return -1, 0, ""
	}
	var b strings.Builder
	b.WriteByte(' ')
	for _, t := range toks[best : best+bestN] {
		b.WriteString(t.text)
		b.WriteByte(' ')
	}
	return best, bestN, b.String()
}

// matchOne reports whether word w matches pattern element p (not pNum).
func matchOne(p ptok, w *token) bool {
	switch p.kind {
	case pLit:
		return p.text == w.norm
	case pAny:
		return true
	case pGlob:
		return glob(p.text, w.lower) || glob(p.text, w.norm)
	}
	return false
}

// matchFwd matches ps against ws starting at ws[i] and returns the end
// (exclusive) of the longest match. [num] takes as many number words as it
// can, giving some back if the rest needs them.
func matchFwd(ps []ptok, ws []token, i int) (int, bool) {
	if len(ps) == 0 {
		return i, true
	}
	p := ps[0]
	if p.kind != pNum {
		if i >= len(ws) || !matchOne(p, &ws[i]) {
			return 0, false
		}
		return matchFwd(ps[1:], ws, i+1)
	}
	j := i
	for j < len(ws) && ws[j].num {
		j++
	}
	for ; j > i; j-- {
		if end, ok := matchFwd(ps[1:], ws, j); ok {
			return end, true
		}
	}
	return 0, false
}

// matchBwd matches ps backwards, ending just before ws[i], and returns
// where the match starts.
func matchBwd(ps []ptok, ws []token, i int) (int, bool) {
	if len(ps) == 0 {
		return i, true
	}
	p := ps[len(ps)-1]
	if p.kind != pNum {
		if i <= 0 || !matchOne(p, &ws[i-1]) {
			return 0, false
		}
		return matchBwd(ps[:len(ps)-1], ws, i-1)
	}
	j := i
	for j > 0 && ws[j-1].num {
		j--
	}
	for ; j < i; j++ {
		if start, ok := matchBwd(ps[:len(ps)-1], ws, j); ok {
			return start, true
		}
	}
	return 0, false
}

// matchAround matches the whole pattern given that its anchor starts at
// ws[at]; it returns the match's word range.
func (p *pattern) matchAround(ws []token, at int) (int, int, bool) {
	// The anchor itself matched in the automaton; check the rest.
	end, ok := matchFwd(p.toks[p.start+p.n:], ws, at+p.n)
	if !ok {
		return 0, 0, false
	}
	start, ok := matchBwd(p.toks[:p.start], ws, at)
	if !ok {
		return 0, 0, false
	}
	return start, end, true
}

// glob matches s against a pattern where * is any run of characters.
func glob(pat, s string) bool {
	// Iterative matching with backtracking to the last star.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pat) && pat[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(pat) && pat[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}
