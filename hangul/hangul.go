// Package hangul is what several stages know of written Korean: whether text
// has Hangul, and the particles (postpositions) a Korean word carries, so
// that 계좌를 and 계좌가 are both the word 계좌. It imports nothing of
// Earshot's.
package hangul

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// particles are the postpositions a Korean word may carry, longest first.
var particles = []string{
	"에서는", "에게서", "으로는", "한테서",
	"에서", "에게", "으로", "한테", "께서", "까지", "부터", "처럼", "보다", "이나", "이랑", "에는", "과는", "와는",
	"은", "는", "이", "가", "을", "를", "에", "의", "도", "만", "와", "과", "로", "랑",
}

// Has reports whether s has a Hangul letter.
func Has(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Hangul, r) {
			return true
		}
	}
	return false
}

// StripParticles removes up to two trailing Korean particles from the word
// w, keeping at least one syllable: 계좌를 and 계좌에서 are 계좌, and
// 계좌번호 stays 계좌번호. It may strip a syllable that was not a particle
// (나이 becomes 나), so run it on both sides of a comparison (the text and
// what is looked for), which then normalise alike. A word without Hangul is
// returned as it is.
func StripParticles(w string) string {
	if !Has(w) {
		return w
	}
	for range 2 {
		stripped := false
		for _, p := range particles {
			if strings.HasSuffix(w, p) && utf8.RuneCountInString(w) > utf8.RuneCountInString(p) {
				w = w[:len(w)-len(p)]
				stripped = true
				break
			}
		}
		if !stripped {
			break
		}
	}
	return w
}
