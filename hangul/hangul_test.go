package hangul

import "testing"

func TestHas(t *testing.T) {
	for s, want := range map[string]bool{"계좌": true, "my 계좌": true, "account": false, "": false, "ㅋㅋ": true, "日本": false} {
		if got := Has(s); got != want {
			t.Errorf("Has(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestStripParticles(t *testing.T) {
	for w, want := range map[string]string{
		"계좌":     "계좌",
		"계좌를":    "계좌",
		"계좌가":    "계좌",
		"계좌에서":   "계좌",
		"계좌에서는":  "계좌",
		"고객님이":   "고객님",
		"고객님께서도": "고객님",  // two particles
		"계좌번호":   "계좌번호", // a compound noun is another word
		"를":      "를",    // at least one syllable stays
		"가를":     "가",
		"cards":  "cards", // not Hangul: untouched
		"는는는는":   "는는",
	} {
		if got := StripParticles(w); got != want {
			t.Errorf("StripParticles(%q) = %q, want %q", w, got, want)
		}
	}
}
