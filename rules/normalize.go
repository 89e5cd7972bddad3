package rules

import (
	"strings"
	"unicode"

	"github.com/earshot-dev/earshot/hangul"
)

// token is one normalised word of a transcript or a rule phrase.
type token struct {
	norm  string // what matching compares: lower case, singular, digits, particles stripped
	lower string // lower case only, for wildcard patterns
	raw   string // as written, for the matched text
	num   bool   // a number: digits, or an English number word
	// Times on the call clock, when known.
	startMS, endMS int64
}

// numberWords maps English number words to digits, so that "press one" and
// "press 1" are the same phrase and both are a [num].
var numberWords = map[string]string{
	"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
	"six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
	"eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
	"sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
	"twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60",
	"seventy": "70", "eighty": "80", "ninety": "90",
	"hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
}

// Tokenize splits text into normalised words, as rule matching sees them,
// for a segment in language lang ("en", "ko", ...; "" for unknown). It is
// exported for tests and tools that want to see why a phrase did or did not
// match.
func Tokenize(text, lang string) []string {
	toks := tokenize(nil, text, lang)
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.norm
	}
	return out
}

// tokenize appends text's tokens to dst. Letters and digits make words;
// apostrophes inside a word are dropped ("don't" is "dont"); everything else
// separates words.
func tokenize(dst []token, text, lang string) []token {
	english := lang == "" || strings.HasPrefix(strings.ToLower(lang), "en")
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		raw := text[start:end]
		start = -1
		dst = append(dst, normalizeWord(raw, english))
	}
	for i, r := range text {
		switch {
		case isWordRune(r):
			if start < 0 {
				start = i
			}
		case (r == '\'' || r == '’') && start >= 0:
			// inside a word: keep going, dropped in normalizeWord
		default:
			flush(i)
		}
	}
	flush(len(text))
	return dst
}

// normalizeWord normalises one word (no separators inside).
func normalizeWord(raw string, english bool) token {
	raw = strings.TrimRight(raw, "'’")
	lower := strings.ToLower(raw)
	if strings.ContainsAny(lower, "'’") {
		lower = strings.NewReplacer("'", "", "’", "").Replace(lower)
	}
	t := token{raw: raw, lower: lower, norm: lower}
	switch {
	case allDigits(lower):
		t.num = true
	case english:
		if d, ok := numberWords[lower]; ok {
			t.norm, t.num = d, true
		} else {
			t.norm = singular(lower)
		}
	}
	// Stripping Korean particles lets a rule for 계좌 match 계좌를 and 계좌가.
	t.norm = hangul.StripParticles(t.norm)
	return t
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// singular folds a lower-case English plural to its singular, well enough
// that a word and its plural normalise alike ("cards" and "card",
// "policies" and "policy", "boxes" and "box", "charges" and "charge").
func singular(w string) string {
	n := len(w)
	if n <= 3 || !isASCIILetters(w) {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && n > 4:
		return w[:n-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "zes"),
		strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		return w[:n-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "s"):
		return w[:n-1]
	}
	return w
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}
