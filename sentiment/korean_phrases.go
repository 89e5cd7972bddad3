package sentiment

import (
	"bytes"
	"cmp"
	"slices"
	"unicode/utf8"
)

// koPhrases is the Korean contact-center lexicon: what a call says that a
// movie review does not (churn, escalation, repeat calls, billing faults,
// thanks for help), with a valence in the model's units (log-odds; the
// movie-review model's margins mostly lie within ±3), and the plain
// informational phrases of a call (identity checks, holds), valence 0.
// Phrases are matched in the normalised text (lower case, single spaces)
// from the start of an eojeol, so a stem covers its inflections (해지 in
// 해지해, 해지하고) but not another word's inside (행복해지는); the longest
// phrase wins where two overlap (불친절 over 친절).
var koPhrases = map[string]float64{
	// Churn, refunds, escalation, complaints.
	"해지":     -3,
	"환불":     -2.5,
	"상담원 바꿔": -3, "상담원 연결": -2, "책임자": -3, "상급자": -3, "팀장 바꿔": -3, "윗사람": -3,
	"세 번째": -3, "네 번째": -3, "몇 번째": -3, "몇 번이나": -3, "또 전화": -2.5, "다시 전화했": -2,
	"시간째": -3, "시간 넘게": -3, "계속 기다": -3, "기다리고 있": -2,
	"민원": -3, "소비자원": -3, "신고": -2.5, "고소": -3,
	"불친절": -3.5, "불편": -2.5, "불만": -3, "짜증": -3.5, "화가 나": -3.5, "화나": -3, "어이가 없": -3.5, "어이없": -3.5,
	"말이 됩": -3, "말이 돼": -3, "장난하": -3, "답답": -3, "황당": -3, "실망": -3, "최악": -4,
	"안 돼": -2.5, "안 되": -2.5, "안돼": -2.5, "안되": -2.5, "끊겨": -3, "끊기": -3, "끊어져": -3, "먹통": -3.5,
	"고장": -3, "오류": -2.5, "에러": -2.5,
	"두 번 청구": -3.5, "이중 청구": -3.5, "잘못 청구": -3.5, "청구됐": -1.5, "과금": -2, "요금 폭탄": -4,
	"연락을 안": -3, "연락이 없": -3, "연락 안": -3, "안 줬": -2,
	// Refusals.
	"어렵습니다": -2.5, "어려울 것 같": -2.5, "불가능": -3, "안 됩니다": -2.5, "해 드릴 수 없": -3, "해드릴 수 없": -3,
	// Thanks, help, things working again.
	"감사": 3.5, "고맙": 3.5, "고마워": 3.5, "고마웠": 3.5, "덕분": 3, "다행": 3, "해결됐": 3, "해결되었": 3, "해결됩": 2.5,
	"잘 돼": 3, "잘 되": 3, "잘돼": 3, "잘되": 3, "친절": 3, "만족": 3, "좋은 하루": 3, "도와드릴": 2, "도와주셔서": 3,
	"수고하": 2.5, "수고 많": 2.5,
	// Information: identity checks, holds, answers. They make a turn plain
	// when nothing polar is in it.
	"안녕하세요": 0, "성함": 0, "생년월일": 0, "주소": 0, "번호": 0, "확인해 드": 0, "확인해드": 0, "확인해 보": 0, "확인 부탁": 0,
	"잠시만": 0, "말씀해 주": 0, "말씀 부탁": 0, "변경하": 0, "맞습니다": 0, "맞아요": 0, "네": 0, "예": 0, "아니요": 0,
}

// koPhrase is one entry of a koPhraseIndex.
type koPhrase struct {
	text    []byte
	valence float64
}

// koPhraseIndex holds the phrases by their first rune, longest first, so
// that at an eojeol's start the longest phrase is tried first.
type koPhraseIndex map[rune][]koPhrase

func newKoPhraseIndex(m map[string]float64) koPhraseIndex {
	idx := koPhraseIndex{}
	for p, v := range m {
		r, _ := utf8.DecodeRuneInString(p)
		idx[r] = append(idx[r], koPhrase{[]byte(p), v})
	}
	for _, ps := range idx {
		slices.SortFunc(ps, func(a, b koPhrase) int {
			if c := cmp.Compare(len(b.text), len(a.text)); c != 0 {
				return c
			}
			return bytes.Compare(a.text, b.text)
		})
	}
	return idx
}

// koPhraseHits is what the phrases found in a text: the sum of the polar
// phrases' valences, how many polar phrases, how many plain ones.
type koPhraseHits struct {
	valence      float64
	polar, plain int
}

// match finds the phrases in t, left to right, each from an eojeol's start,
// the longest there; a phrase's bytes are not matched again. A plain
// phrase of one syllable (네, 예) matches only a whole eojeol. A polar
// phrase is turned when the eojeol before it is 안 or 못, or the one after
// it says 않다, 없다, 아니다 ("친절하지 않아요", "불만 없어요").
func (idx koPhraseIndex) match(t *koText) koPhraseHits {
	var h koPhraseHits
	covered := 0 // bytes of t.b before this are a phrase's
	for w, span := range t.words {
		start := int(span.start)
		if start < covered {
			continue
		}
		r, _ := utf8.DecodeRune(t.b[start:])
		for _, p := range idx[r] {
			if !bytes.HasPrefix(t.b[start:], p.text) {
				continue
			}
			end := start + len(p.text)
			if p.valence == 0 && len(p.text) <= 3 && int(span.end) != end {
				continue // 네 alone, not 네트워크
			}
			covered = end
			if p.valence == 0 {
				h.plain++
				break
			}
			last := w
			for last+1 < len(t.words) && int(t.words[last+1].start) < end {
				last++
			}
			v := p.valence
			if w > 0 && koNegator(t.word(w-1)) || last+1 < len(t.words) && koNegates(t.word(last+1)) {
				v = -v
			}
			h.valence += v
			h.polar++
			break
		}
	}
	return h
}
