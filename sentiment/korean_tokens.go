package sentiment

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// The Korean tokenizer: text is normalised (whitespace to one space, ASCII
// to lower case, a character repeated more than twice cut to two: ㅋㅋㅋㅋ is
// ㅋㅋ, !!!! is !!), then cut into eojeol (the space-separated units of
// Korean writing: a word with its particles and endings) and scored through
// hashed features: character 1-3-grams over the whole text, so n-grams
// across eojeol boundaries count ("안 좋" reaches over the space), eojeol
// unigrams and bigrams, and negation-marked eojeol.

// koText is one normalised text: its bytes, where each rune starts (with
// len(b) at the end), and its eojeol as byte ranges of b.
type koText struct {
	b     []byte
	runes []int32
	words []koSpan
}

// koSpan is the bytes b[start:end] of one eojeol, without the punctuation
// at its edges.
type koSpan struct{ start, end int32 }

// koMaxRunes bounds the text a score reads: a segment is a few seconds of
// speech; beyond this a line is cut (the score of a 100 kB line is that of
// its first koMaxRunes runes).
const koMaxRunes = 4096

// normalise fills t from text.
func (t *koText) normalise(text string) {
	t.b, t.runes, t.words = t.b[:0], t.runes[:0], t.words[:0]
	t.b = append(t.b, ' ')
	t.runes = append(t.runes, 0)
	var last rune = ' '
	repeat := 0
	for n := 0; len(text) > 0 && n < koMaxRunes; n++ {
		r, size := utf8.DecodeRuneInString(text)
		text = text[size:]
		switch {
		case r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r):
			r = ' '
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		}
		if r == last {
			repeat++
			if r == ' ' || repeat >= 2 {
				continue
			}
		} else {
			repeat = 0
		}
		last = r
		t.runes = append(t.runes, int32(len(t.b)))
		t.b = utf8.AppendRune(t.b, r)
	}
	if last != ' ' {
		t.runes = append(t.runes, int32(len(t.b)))
		t.b = append(t.b, ' ')
	}
	t.runes = append(t.runes, int32(len(t.b)))
	// Eojeol: the runs between spaces, trimmed of punctuation at both ends.
	start := -1
	for i, c := range t.b {
		switch {
		case c == ' ' && start >= 0:
			t.addWord(start, i)
			start = -1
		case c != ' ' && start < 0:
			start = i
		}
	}
}

func (t *koText) addWord(start, end int) {
	for start < end {
		r, size := utf8.DecodeRune(t.b[start:end])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			break
		}
		start += size
	}
	for end > start {
		r, size := utf8.DecodeLastRune(t.b[start:end])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			break
		}
		end -= size
	}
	if end > start {
		t.words = append(t.words, koSpan{int32(start), int32(end)})
	}
}

func (t *koText) word(i int) []byte { return t.b[t.words[i].start:t.words[i].end] }

// koNegator reports whether an eojeol negates the next one: 안 and 못
// written apart ("안 좋아요", "못 받았어요"), 전혀 and 별로 ("별로 안 좋아요"
// is negated twice over, and still not good: the features are marked, not
// multiplied).
func koNegator(w []byte) bool {
	return string(w) == "안" || string(w) == "못" || string(w) == "전혀" || string(w) == "별로"
}

var (
	koAnh   = []byte("않")
	koEops  = []byte("없")
	koAni   = []byte("아니")
	koMot   = []byte("못")
	koMotha = []byte("못하")
)

// koNegates reports whether an eojeol negates the one before it: 않다,
// 없다, 아니다 and 못하다 in their inflections ("좋지 않아요", "문제 없어요",
// "받지 못했어요").
func koNegates(w []byte) bool {
	return bytes.HasPrefix(w, koAnh) || bytes.HasPrefix(w, koEops) || bytes.HasPrefix(w, koAni) ||
		bytes.HasPrefix(w, koMot) && len(w) > len(koMot)
}

// isHangul reports whether r is a Hangul syllable or jamo.
func isHangul(r rune) bool {
	return r >= 0xAC00 && r <= 0xD7A3 || r >= 0x1100 && r <= 0x11FF || r >= 0x3130 && r <= 0x318F || r >= 0xA960 && r <= 0xA97F || r >= 0xD7B0 && r <= 0xD7FF
}

// Feature kinds, hashed in front of a feature's bytes so that the same
// bytes as a character n-gram and as an eojeol are different features.
const (
	koKindChar    = 'c' // character n-gram, followed by n
	koKindWord    = 'w' // eojeol
	koKindBigram  = 'b' // two eojeol in a row
	koKindNegated = 'n' // an eojeol under negation
	koKindLexicon = 'k' // a lexicon polarity: + or -
)

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// bucket maps a feature's hash to one of 1<<bits buckets.
func bucket(h uint64, bits uint) uint32 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return uint32(h >> (64 - bits))
}

// koLexicon maps an eojeol's start (a lexicon surface: 짜증, 불편, 좋) to its
// polarity, +1 or -1.
type koLexicon map[string]int8

// koMaxLexRunes is the longest surface looked up at an eojeol's start.
const koMaxLexRunes = 4

// features appends t's features, one bucket per occurrence, to dst.
func (t *koText) features(dst []uint32, bits uint, lex koLexicon) []uint32 {
	// Character 1-3-grams over the text with its spaces.
	nr := len(t.runes) - 1
	for i := 0; i < nr; i++ {
		for n := 1; n <= 3 && i+n <= nr; n++ {
			if n == 1 && t.b[t.runes[i]] == ' ' {
				continue
			}
			h := fnvByte(fnvByte(fnvOffset, koKindChar), byte(n))
			dst = append(dst, bucket(fnvBytes(h, t.b[t.runes[i]:t.runes[i+n]]), bits))
		}
	}
	var prev uint64
	for i := range t.words {
		w := t.word(i)
		hw := fnvBytes(fnvOffset, w)
		dst = append(dst, bucket(fnvByte(hw, koKindWord), bits))
		if i > 0 {
			dst = append(dst, bucket(fnvByte(fnvBytes(fnvByte(prev, ' '), w), koKindBigram), bits))
		}
		prev = hw
		negated := i > 0 && koNegator(t.word(i-1)) || i+1 < len(t.words) && koNegates(t.word(i+1))
		if negated {
			dst = append(dst, bucket(fnvByte(hw, koKindNegated), bits))
		}
		if pol := lex.polarity(w); pol != 0 {
			if negated {
				pol = -pol
			}
			sign := byte('+')
			if pol < 0 {
				sign = '-'
			}
			dst = append(dst, bucket(fnvByte(fnvByte(fnvOffset, koKindLexicon), sign), bits))
		}
	}
	return dst
}

// polarity returns the polarity of the longest lexicon surface w starts
// with, turned if the rest of w negates it ("재미없다", "좋지않다").
func (lex koLexicon) polarity(w []byte) int8 {
	if len(lex) == 0 {
		return 0
	}
	end, n := 0, 0
	var pol int8
	var at int
	for end < len(w) && n < koMaxLexRunes {
		_, size := utf8.DecodeRune(w[end:])
		end += size
		n++
		if p, ok := lex[string(w[:end])]; ok {
			pol, at = p, end
		}
	}
	if pol == 0 {
		return 0
	}
	rest := w[at:]
	if bytes.Contains(rest, koAnh) || bytes.Contains(rest, koEops) || bytes.Contains(rest, koMotha) {
		return -pol
	}
	return pol
}
