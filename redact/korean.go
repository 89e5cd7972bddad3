package redact

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Korean text as whisper writes it reads numbers out digit by digit in
// Sino-Korean syllables (공/영 일 이 삼 사 오 육 칠 팔 구) or writes them as
// digits, in groups with or without spaces or hyphens, often with a
// particle or an ending attached to a group (공일공에, 칠칠칠칠이요) and 다시
// said for a hyphen. Counts, times, money and ordinals are said with native
// numerals (세 번째, 두 시) or with place words (삼만 오천 원, 삼십 분), and a
// counter attached to written digits (2시, 30분) is no ending, so none of
// them reads as a digit string.

// koDigit is the digit a syllable or a written digit stands for.
func koDigit(r rune) (byte, bool) {
	switch r {
	case '공', '영':
		return '0', true
	case '일':
		return '1', true
	case '이':
		return '2', true
	case '삼':
		return '3', true
	case '사':
		return '4', true
	case '오':
		return '5', true
	case '육', '륙':
		return '6', true
	case '칠':
		return '7', true
	case '팔':
		return '8', true
	case '구':
		return '9', true
	}
	if r >= '0' && r <= '9' {
		return byte(r), true
	}
	return 0, false
}

// koEndings may follow the digits of a group read out: particles, the
// copula and its endings, 번 ("number").
var koEndings = map[string]bool{
	"": true, "에": true, "에요": true, "요": true, "이요": true, "이고": true, "고": true,
	"이구요": true, "이고요": true, "고요": true, "이에요": true, "예요": true, "입니다": true,
	"이랑": true, "랑": true, "하고": true, "이며": true, "며": true, "은": true, "는": true,
	"을": true, "를": true, "이": true, "가": true, "의": true, "으로": true, "로": true,
	"이나": true, "나": true, "도": true, "까지": true, "부터": true, "인데": true, "인데요": true,
	"이라고": true, "라고": true, "이거든요": true, "거든요": true, "이죠": true, "죠": true,
	"이야": true, "야": true, "였어요": true, "이었어요": true,
	"번": true, "번이요": true, "번이에요": true, "번입니다": true, "번이고": true,
}

// koFillers may stand between two groups of one number: 다시 for a hyphen,
// hesitations.
var koFillers = map[string]bool{"다시": true, "어": true, "음": true, "그": true, "아": true, "에": true, "엄": true}

// koApart are endings said apart from the digits before them (오육칠팔
// 이에요), though they start with 이; not 이구요, which may be 29요.
var koApart = map[string]bool{}

func init() {
	for e := range koEndings {
		if e != "이" && strings.HasPrefix(e, "이") && e != "이구요" {
			koApart[e] = true
		}
	}
}

// hasBatchim reports whether a Hangul syllable ends in a consonant.
func hasBatchim(r rune) bool {
	return r >= 0xAC00 && r <= 0xD7A3 && (r-0xAC00)%28 != 0
}

// koToken reads a token as a group of digits read out or written: digits,
// then nothing or an ending. It returns the digits and the byte end of each
// (of the longest reading), how many of them the group holds, and alt, the
// digits of another reading when a final 이 may be a 2 or the copula (0 when
// there is none). The copula follows a consonant: 칠칠칠칠이요 is 7777, 사사이요
// 442, and 5678이요 (팔 ends in a consonant) 5678.
func koToken(w string) (digits []byte, ends []int, n, alt int, ok bool) {
	if koApart[w] {
		return nil, nil, 0, 0, false
	}
	var runes []rune
	for i, r := range w {
		d, isDigit := koDigit(r)
		if !isDigit {
			break
		}
		digits = append(digits, d)
		ends = append(ends, i+utf8.RuneLen(r))
		runes = append(runes, r)
	}
	for j := len(digits); j >= 1; j-- {
		rest := w[ends[j-1]:]
		if !koEndings[rest] {
			continue
		}
		if j < 2 || runes[j-1] != '이' || !koEndings["이"+rest] {
			return digits, ends, j, 0, true
		}
		if rest != "" && (hasBatchim(runes[j-2]) || runes[j-2] < utf8.RuneSelf && strings.IndexRune("013678", runes[j-2]) >= 0) {
			return digits, ends, j - 1, j, true
		}
		return digits, ends, j, j - 1, true
	}
	return nil, nil, 0, 0, false
}

// koRuns finds the runs of digit groups in Korean text. A run whose last
// group has another reading carries it as alt.
func koRuns(text string, toks []token) []run {
	type group struct {
		digits []byte
		ends   []int
		n, alt int
	}
	groups := make([]*group, len(toks))
	for i, t := range toks {
		if d, e, n, alt, ok := koToken(t.lower); ok {
			groups[i] = &group{d, e, n, alt}
		}
	}
	// add appends group j's first n digits to r.
	add := func(r *run, j, n int) {
		g, t := groups[j], toks[j]
		start := t.start
		for k := range n {
			r.digits = append(r.digits, g.digits[k])
			r.spans = append(r.spans, span{start, t.start + g.ends[k]})
			start = t.start + g.ends[k]
		}
		r.groups = append(r.groups, n)
		r.last = j
	}
	var out []run
	for i := 0; i < len(toks); {
		if groups[i] == nil {
			i++
			continue
		}
		r := run{first: i}
		j := i
		for {
			add(&r, j, groups[j].n)
			next := j + 1
			if next+1 < len(toks) && koFillers[toks[next].lower] && groups[next+1] != nil &&
				joinable(text[toks[j].end:toks[next].start]) && joinable(text[toks[next].end:toks[next+1].start]) {
				next++
			}
			if next >= len(toks) || groups[next] == nil || !joinable(text[toks[next-1].end:toks[next].start]) {
				break
			}
			j = next
		}
		if g := groups[r.last]; g.alt > 0 {
			a := run{first: r.first, last: r.last,
				digits: append([]byte(nil), r.digits[:len(r.digits)-g.n]...),
				spans:  append([]span(nil), r.spans[:len(r.spans)-g.n]...),
				groups: append([]int(nil), r.groups[:len(r.groups)-1]...)}
			add(&a, r.last, g.alt)
			r.alt = &a
		}
		out = append(out, r)
		i = j + 1
	}
	return out
}

var (
	koCardWords    = []string{"카드", "비자", "마스터", "card", "visa"}
	koCVCWords     = []string{"cvc", "cvv", "씨브이씨", "씨비씨", "보안코드", "보안 코드", "뒷면", "세 자리", "세자리"}
	koExpiryWords  = []string{"유효기간", "유효 기간", "만료", "만기"}
	koRRNWords     = []string{"주민"}
	koAccountWords = []string{"계좌", "통장", "account"}
	koPINWords     = []string{"비밀번호", "비번", "핀번호", "핀 번호", "암호", "pin"}
	koPhoneWords   = []string{"전화", "연락처", "휴대폰", "핸드폰", "폰 번호", "폰번호", "연락"}
)

// spokenKoreanEmail is an address read out the Korean way: 골뱅이 (or 앳) for
// @, 점 or 닷 for the dots.
var spokenKoreanEmail = regexp.MustCompile(`(?i)[a-z0-9][a-z0-9._\-]*(?:\s*(?:점|닷|dot)\s*[a-z0-9_\-]+)*\s*(?:골뱅이|앳)\s*[a-z0-9\-]+(?:\s*(?:점|닷|dot|\.)\s*[a-z]{2,})+`)

// findKorean returns the entities of Korean text, in order.
func findKorean(text string) []Entity {
	toks := tokenize(text)
	ents := findEmails(text)
	for _, m := range spokenKoreanEmail.FindAllStringIndex(text, -1) {
		ents = append(ents, Entity{Type: Email, Start: m[0], End: m[1]})
	}
	lastCard := -1000
	for _, r := range joinCardRuns(koRuns(text, toks)) {
		last := lastCard
		ents = append(ents, koClassify(toks, r, &lastCard)...)
		if r.alt != nil {
			// Both readings are masked: masking a copula shows nothing,
			// leaving a digit out shows it.
			ents = append(ents, koClassify(toks, *r.alt, &last)...)
			lastCard = max(lastCard, last)
		}
	}
	return merge(ents)
}

// koClassify says what a run of digits in Korean text is, by its length,
// checksum and the words before it. lastCard is the token index where the
// last card number ended.
func koClassify(toks []token, r run, lastCard *int) []Entity {
	var ents []Entity
	ctx := context(toks, r.first, 8)
	near := r.first-*lastCard <= 12
	add := func(t Type, from, to int) {
		ents = append(ents, Entity{Type: t, Start: r.spans[from].start, End: r.spans[to-1].end})
	}
	n, d := len(r.digits), string(r.digits)
	if n >= 8 && n <= 16 && hasAny(ctx, koAccountWords...) && !hasAny(ctx, koCardWords...) {
		add(BankAccount, 0, n)
		return ents
	}
	rrn := hasAny(ctx, koRRNWords...)
	if n == 13 && (rrn || validRRN(d) && !hasAny(ctx, koCardWords...)) ||
		rrn && (n == 6 && validRRN(d+"1000000") || n == 7 && d[0] >= '1' && d[0] <= '8') {
		add(ResidentID, 0, n) // whole, or its front or back said apart
		return ents
	}
	if i, j, ok := cardWithin(r.digits, koIssuers); ok {
		add(CardNumber, i, j)
		*lastCard = r.last
		if rest := n - j; rest >= 3 && rest <= 8 {
			add(CardCVV, j, n)
		}
		return ents
	}
	switch {
	case n >= 13 && n <= 19 && hasAny(ctx, koCardWords...):
		add(CardNumber, 0, n)
		*lastCard = r.last
	case n >= 3 && n <= 4 && hasAny(ctx, koCVCWords...):
		add(CardCVV, 0, n)
	case (n == 4 || n == 6) && (hasAny(ctx, koExpiryWords...) || near && validExpiry(d, false)):
		add(CardExpiry, 0, n)
	case n >= 3 && n <= 4 && near:
		add(CardCVV, 0, n)
	case n >= 4 && n <= 6 && hasAny(ctx, koPINWords...):
		add(PIN, 0, n)
	case krPhone(d):
		add(Phone, 0, n)
	case n >= 7 && n <= 8 && d[0] != '0' && !strings.HasPrefix(d, "15") && !strings.HasPrefix(d, "16") && !strings.HasPrefix(d, "18") && hasAny(ctx, koPhoneWords...):
		// A number without its area code, after a prompt; 15xx-xxxx and
		// the like are companies' numbers.
		add(Phone, 0, n)
	}
	return ents
}

// validRRN reports whether 13 digits read as a 주민등록번호: a date of birth
// YYMMDD, then a digit for century and sex (1-8), then six more.
func validRRN(d string) bool {
	if len(d) != 13 {
		return false
	}
	mm, dd := d[2:4], d[4:6]
	return mm >= "01" && mm <= "12" && dd >= "01" && dd <= "31" && d[6] >= '1' && d[6] <= '8'
}

// krPhone reports whether digits are a Korean mobile (010...) or landline
// (02..., 031..., 070...) number.
func krPhone(d string) bool {
	n := len(d)
	switch {
	case strings.HasPrefix(d, "01") && len(d) > 2 && strings.IndexByte("016789", d[2]) >= 0:
		return n == 10 || n == 11
	case strings.HasPrefix(d, "02"):
		return n == 9 || n == 10
	case strings.HasPrefix(d, "070"):
		return n == 11
	case n >= 3 && d[0] == '0' && d[1] >= '3' && d[1] <= '6' && d[2] >= '1' && d[2] <= '5':
		return n == 10 || n == 11
	}
	return false
}
