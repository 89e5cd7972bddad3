// Package redact owns finding and masking personal data in transcript text,
// in English and in Korean: card numbers (Luhn-checked), CVVs and expiry
// dates near a card number, bank account numbers, US social security
// numbers and routing numbers (ABA-checked), Korean resident registration
// numbers (주민등록번호), phone numbers, email addresses and PINs after a
// prompt, whether they are written as digits or spoken as words ("four one
// one one", "oh" for zero, "double five"; 공일공에 일이삼사, 칠칠칠칠이요).
// Counts, times, money and ordinals are left alone.
//
// The language of a text picks its reader: Korean for "ko" (and "ko-KR"),
// English for any other language; with no language, Korean when the text
// has Hangul. Entity offsets are byte offsets into the text.
//
// Every stage that lets text out (the store before it writes, rules before
// they publish an alert or call a webhook, the web view before it shows text
// to someone who may not read originals) masks it with this one package, so
// what one of them masks, all of them mask. Of ours it imports only hangul.
//
// Redaction is pure: a Redactor holds only its configuration and is safe for
// concurrent use.
package redact

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/earshot-dev/earshot/hangul"
)

// Type is the kind of a sensitive entity, named as Amazon Contact Lens names them.
type Type string

// The entity types.
const (
	CardNumber  Type = "CREDIT_DEBIT_NUMBER"
	CardCVV     Type = "CREDIT_DEBIT_CVV"
	CardExpiry  Type = "CREDIT_DEBIT_EXPIRY"
	BankAccount Type = "BANK_ACCOUNT_NUMBER"
	BankRouting Type = "BANK_ROUTING"
	SSN         Type = "SSN"
	Phone       Type = "PHONE"
	Email       Type = "EMAIL"
	PIN         Type = "PIN"
	// ResidentID is a Korean resident registration number (주민등록번호).
	ResidentID Type = "KR_RESIDENT_REGISTRATION_NUMBER"
)

// Entity is one sensitive span found in a text: byte offsets [Start, End)
// into the text given to Redact.
type Entity struct {
	Type  Type `json:"type"`
	Start int  `json:"start"`
	End   int  `json:"end"`
}

// Mask says what replaces an entity.
type Mask string

// The masks.
const (
	// MaskPII replaces every entity with "[PII]" (the default).
	MaskPII Mask = "pii"
	// MaskEntity replaces an entity with its type, e.g. "[SSN]".
	MaskEntity Mask = "entity"
)

// ParseMask reads a mask name as given on the command line.
func ParseMask(s string) (Mask, error) {
	switch Mask(s) {
	case MaskPII, MaskEntity:
		return Mask(s), nil
	case "":
		return MaskPII, nil
	}
	return "", fmt.Errorf("redact: mask %q: want pii or entity", s)
}

// Config configures a Redactor. The zero value masks with "[PII]".
type Config struct {
	Mask Mask
}

// Redactor finds and masks entities.
type Redactor struct {
	mask Mask
}

// New returns a Redactor for cfg.
func New(cfg Config) (*Redactor, error) {
	m, err := ParseMask(string(cfg.Mask))
	if err != nil {
		return nil, err
	}
	return &Redactor{mask: m}, nil
}

// Redact masks the entities of text with the default configuration
// ("[PII]"), choosing the language from the text.
func Redact(text string) (string, []Entity) {
	return (&Redactor{mask: MaskPII}).Redact(text)
}

// The languages the redactor reads.
const (
	English = "en"
	Korean  = "ko"
)

// ParseLanguage reads a language as given on the command line: en, ko, or
// auto (or empty), which is returned as "" (choose from the text).
func ParseLanguage(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return "", nil
	case "en", "english":
		return English, nil
	case "ko", "korean":
		return Korean, nil
	}
	return "", fmt.Errorf("redact: language %q: want en, ko or auto", s)
}

// languageOf is the reader for text said in lang (a segment's language, as
// "ko" or "ko-KR"): Korean or English, or, when lang is empty, Korean if
// the text has Hangul.
func languageOf(text, lang string) string {
	switch l := strings.ToLower(lang); {
	case l == Korean || strings.HasPrefix(l, Korean+"-") || strings.HasPrefix(l, Korean+"_") || l == "korean":
		return Korean
	case l != "":
		return English
	}
	if hangul.Has(text) {
		return Korean
	}
	return English
}

// Token returns what replaces an entity of type t.
func (r *Redactor) Token(t Type) string {
	if r.mask == MaskEntity {
		return "[" + string(t) + "]"
	}
	return "[PII]"
}

// Redact returns text with every entity masked, and the entities found
// (offsets into text, in order), choosing the language from the text.
func (r *Redactor) Redact(text string) (string, []Entity) {
	return r.RedactLang(text, "")
}

// RedactLang is Redact for text said in lang ("" to choose from the text).
func (r *Redactor) RedactLang(text, lang string) (string, []Entity) {
	ents := FindLang(text, lang)
	return r.replace(text, ents), ents
}

// replace replaces ents (in order, not overlapping) in text by their tokens.
func (r *Redactor) replace(text string, ents []Entity) string {
	if len(ents) == 0 {
		return text
	}
	var b strings.Builder
	at := 0
	for _, e := range ents {
		b.WriteString(text[at:e.Start])
		b.WriteString(r.Token(e.Type))
		at = e.End
	}
	b.WriteString(text[at:])
	return b.String()
}

// Find returns the entities of text, in order and not overlapping,
// choosing the language from the text.
func Find(text string) []Entity { return FindLang(text, "") }

// FindLang is Find for text said in lang ("" to choose from the text).
func FindLang(text, lang string) []Entity {
	if languageOf(text, lang) == Korean {
		return findKorean(text)
	}
	toks := tokenize(text)
	var ents []Entity
	ents = append(ents, findEmails(text)...)
	ents = append(ents, findNumbers(text, toks)...)
	return merge(ents)
}

// merge sorts entities and folds overlapping ones into the first.
func merge(ents []Entity) []Entity {
	if len(ents) < 2 {
		return ents
	}
	sort.Slice(ents, func(i, j int) bool {
		if ents[i].Start != ents[j].Start {
			return ents[i].Start < ents[j].Start
		}
		return ents[i].End > ents[j].End
	})
	out := ents[:1]
	for _, e := range ents[1:] {
		last := &out[len(out)-1]
		if e.Start < last.End {
			last.End = max(last.End, e.End)
			continue
		}
		out = append(out, e)
	}
	return out
}

var (
	writtenEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	spokenEmail  = regexp.MustCompile(`(?i)\b[a-z0-9]+(?:(?:\s+(?:dot|underscore|dash|hyphen)\s+|[._\-])[a-z0-9]+)*\s+at\s+[a-z0-9]+(?:(?:\s+dot\s+|\.)[a-z0-9]+)*(?:\s+dot\s+|\.)(?:com|net|org|edu|gov|io|co|us|uk|info|biz|me)\b`)
)

func findEmails(text string) []Entity {
	var ents []Entity
	for _, re := range []*regexp.Regexp{writtenEmail, spokenEmail} {
		for _, m := range re.FindAllStringIndex(text, -1) {
			ents = append(ents, Entity{Type: Email, Start: m[0], End: m[1]})
		}
	}
	return ents
}

// token is a word or a number in the text.
type token struct {
	start, end int
	lower      string
}

// tokenize splits text into runs of letters, digits and apostrophes.
func tokenize(text string) []token {
	var toks []token
	start := -1
	for i, r := range text {
		word := unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\''
		if word && start < 0 {
			start = i
		}
		if !word && start >= 0 {
			toks = append(toks, token{start, i, strings.ToLower(text[start:i])})
			start = -1
		}
	}
	if start >= 0 {
		toks = append(toks, token{start, len(text), strings.ToLower(text[start:])})
	}
	return toks
}

var units = map[string]byte{
	"zero": '0', "oh": '0', "o": '0', "nought": '0', "one": '1', "two": '2', "three": '3',
	"four": '4', "five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9',
}

var teens = map[string]string{
	"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
	"fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}

var tens = map[string]byte{
	"twenty": '2', "thirty": '3', "forty": '4', "fifty": '5', "sixty": '6', "seventy": '7',
	"eighty": '8', "ninety": '9',
}

var fillers = map[string]bool{"uh": true, "um": true, "er": true, "erm": true, "ah": true, "hmm": true}

var months = map[string]bool{
	"january": true, "february": true, "march": true, "april": true, "may": true, "june": true,
	"july": true, "august": true, "september": true, "october": true, "november": true,
	"december": true, "jan": true, "feb": true, "mar": true, "apr": true, "jun": true,
	"jul": true, "aug": true, "sep": true, "sept": true, "oct": true, "nov": true, "dec": true,
}

func isASCIIDigits(s string) bool {
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

// numeric reports whether toks[i] can be part of a spoken or written number.
func numeric(toks []token, i int) bool {
	w := toks[i].lower
	if isASCIIDigits(w) {
		return true
	}
	if _, ok := units[w]; ok {
		return w != "o" || i+1 < len(toks) && numericWord(toks[i+1].lower) || i > 0 && numericWord(toks[i-1].lower)
	}
	if _, ok := teens[w]; ok {
		return true
	}
	if _, ok := tens[w]; ok {
		return true
	}
	if w == "double" || w == "triple" {
		return i+1 < len(toks) && numericWord(toks[i+1].lower)
	}
	if _, ok := homophones[w]; ok {
		// "for" is four, "to" two, only among digits: between two, or
		// before or after two.
		real := func(k int) bool { return k >= 0 && k < len(toks) && numericWord(toks[k].lower) }
		near := func(k int) bool {
			_, h := homophones[toks[max(0, min(k, len(toks)-1))].lower]
			return real(k) || k >= 0 && k < len(toks) && h
		}
		n := 0
		for _, k := range []int{i - 2, i - 1, i + 1, i + 2} {
			if real(k) {
				n++
			}
		}
		return n >= 2 && (near(i-1) || near(i+1))
	}
	return false
}

// homophones are words a transcriber writes for a spoken digit.
var homophones = map[string]byte{"for": '4', "to": '2', "too": '2', "won": '1', "ate": '8'}

func numericWord(w string) bool {
	if isASCIIDigits(w) {
		return true
	}
	_, u := units[w]
	_, t := teens[w]
	_, tt := tens[w]
	return u || t || tt
}

// joinable reports whether sep, the text between two numeric tokens, keeps
// them in one number.
func joinable(sep string) bool {
	if len(sep) > 4 {
		return false
	}
	for _, r := range sep {
		if !unicode.IsSpace(r) && !strings.ContainsRune("-,./()+", r) {
			return false
		}
	}
	return true
}

// span is one digit's place in the text.
type span struct{ start, end int }

// run is a maximal sequence of numeric tokens.
type run struct {
	first, last int // token indexes
	digits      []byte
	spans       []span // per digit
	groups      []int  // digits per written group, for 3-2-4 and similar
	alt         *run   // another reading (Korean: a final 이 as the copula or a 2)
}

func runs(text string, toks []token) []run {
	var out []run
	for i := 0; i < len(toks); {
		if !numeric(toks, i) {
			i++
			continue
		}
		r := run{first: i}
		j := i
		for j < len(toks) && numeric(toks, j) {
			if j > i && !joinable(text[toks[j-1].end:toks[j].start]) {
				break
			}
			j = r.add(text, toks, j)
			// A hesitation between digits ("four one one one, uh, one one")
			// does not end the number.
			if j+1 < len(toks) && fillers[toks[j].lower] && numeric(toks, j+1) &&
				joinable(text[toks[j-1].end:toks[j].start]) && joinable(text[toks[j].end:toks[j+1].start]) {
				j++
			}
		}
		r.last = j - 1
		if len(r.digits) > 0 {
			out = append(out, r)
		}
		i = j
	}
	return out
}

// add appends the digits of toks[j] (and of the token "double" applies to)
// and returns the next token index.
func (r *run) add(text string, toks []token, j int) int {
	t := toks[j]
	sp := span{t.start, t.end}
	n := len(r.digits)
	switch w := t.lower; {
	case isASCIIDigits(w):
		for k := 0; k < len(w); k++ {
			r.digits = append(r.digits, w[k])
			r.spans = append(r.spans, span{t.start + k, t.start + k + 1})
		}
	case w == "double" || w == "triple":
		times := 2
		if w == "triple" {
			times = 3
		}
		nt := toks[j+1]
		var d []byte
		switch {
		case isASCIIDigits(nt.lower):
			d = []byte(nt.lower)
		case units[nt.lower] != 0:
			d = []byte{units[nt.lower]}
		case teens[nt.lower] != "":
			d = []byte(teens[nt.lower])
		default:
			d = []byte{tens[nt.lower], '0'}
		}
		whole := span{t.start, nt.end}
		for range times {
			for _, c := range d {
				r.digits = append(r.digits, c)
				r.spans = append(r.spans, whole)
			}
		}
		r.groups = append(r.groups, len(r.digits)-n)
		return j + 2
	default:
		if d, ok := units[w]; ok {
			r.digits = append(r.digits, d)
			r.spans = append(r.spans, sp)
		} else if d, ok := homophones[w]; ok {
			r.digits = append(r.digits, d)
			r.spans = append(r.spans, sp)
		} else if d, ok := teens[w]; ok {
			r.digits = append(r.digits, d[0], d[1])
			r.spans = append(r.spans, sp, sp)
		} else if d, ok := tens[w]; ok {
			// "twenty seven" is 27; "twenty" alone is 20.
			if j+1 < len(toks) && units[toks[j+1].lower] != 0 && toks[j+1].lower != "oh" && toks[j+1].lower != "o" && toks[j+1].lower != "zero" && joinable(text[t.end:toks[j+1].start]) {
				u := toks[j+1]
				whole := span{t.start, u.end}
				r.digits = append(r.digits, d, units[u.lower])
				r.spans = append(r.spans, whole, whole)
				r.groups = append(r.groups, 2)
				return j + 2
			}
			r.digits = append(r.digits, d, '0')
			r.spans = append(r.spans, sp, sp)
		}
	}
	r.groups = append(r.groups, len(r.digits)-n)
	return j + 1
}

// context is the lower-case words in the window before a run.
func context(toks []token, first, window int) string {
	var b strings.Builder
	for k := max(0, first-window); k < first; k++ {
		b.WriteString(toks[k].lower)
		b.WriteByte(' ')
	}
	return b.String()
}

func hasAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

var (
	cardWords    = []string{"card", "visa", "mastercard", "amex", "discover", "credit", "debit"}
	cvvWords     = []string{"cvv", "cvc", "ccv", "security code", "three digit", "3 digit", "code on the back", "card code"}
	expiryWords  = []string{"expir", "exp ", "valid thru", "valid through", "good thru", "good through"}
	ssnWords     = []string{"social", "ssn", "security number"}
	routingWords = []string{"routing", "aba", "transit", "sort code"}
	accountWords = []string{"account", "acct", "a c c t"}
	pinWords     = []string{"pin", "passcode", "pass code", "password", "access code", "verification code", "secret code"}
	phoneWords   = []string{"phone", "number", "call", "reach", "cell", "mobile", "text"}
)

// findNumbers classifies each run of digits by length, checksum and the
// words before it.
func findNumbers(text string, toks []token) []Entity {
	var ents []Entity
	lastCard := -1000 // token index of the end of the last card number
	for _, r := range joinCardRuns(extendCardRuns(text, toks, runs(text, toks))) {
		ctx := context(toks, r.first, 8)
		near := r.first-lastCard <= 16
		add := func(t Type, from, to int) { // digit indexes [from, to)
			start, end := r.spans[from].start, r.spans[to-1].end
			if from == 0 && r.first > 0 && months[toks[r.first-1].lower] && t == CardExpiry {
				start = toks[r.first-1].start
			}
			ents = append(ents, Entity{Type: t, Start: start, End: end})
		}
		n := len(r.digits)
		d := string(r.digits)
		if n >= 4 && n <= 17 && hasAny(ctx, accountWords...) && !hasAny(ctx, cardWords...) && !hasAny(ctx, phoneWords[0]) {
			add(BankAccount, 0, n)
			continue
		}
		if i, j, ok := cardWithin(r.digits, issuers); ok {
			add(CardNumber, i, j)
			lastCard = r.last
			// What is left of the run after the card is its CVV or expiry.
			if rest := n - j; rest >= 3 && rest <= 8 {
				add(CardCVV, j, n)
			}
			continue
		}
		switch {
		case n >= 13 && n <= 19 && hasAny(ctx, cardWords...):
			// A misheard digit breaks the checksum; the prompt still says what it is.
			add(CardNumber, 0, n)
			lastCard = r.last
		case n >= 3 && n <= 4 && hasAny(ctx, cvvWords...):
			add(CardCVV, 0, n)
		case n >= 2 && n <= 6 && (hasAny(ctx, expiryWords...) || near && validExpiry(d, r.first > 0 && months[toks[r.first-1].lower])):
			add(CardExpiry, 0, n)
		case n >= 3 && n <= 4 && near:
			add(CardCVV, 0, n)
		case n == 9 && hasAny(ctx, routingWords...):
			add(BankRouting, 0, n)
		case n == 9 && hasAny(ctx, ssnWords...):
			add(SSN, 0, n)
		case n >= 4 && n <= 8 && hasAny(ctx, pinWords...):
			add(PIN, 0, n)
		case n == 9 && validSSN(d) && (len(r.groups) == 3 && r.groups[0] == 3 && r.groups[1] == 2):
			add(SSN, 0, n)
		case n == 9 && abaValid(d) && hasAny(ctx, "bank"):
			add(BankRouting, 0, n)
		case n == 10 && nanp(d) || n == 11 && d[0] == '1' && nanp(d[1:]):
			add(Phone, 0, n)
		case n == 7 && d[0] >= '2' && hasAny(ctx, phoneWords...):
			add(Phone, 0, n)
		case n == 9 && validSSN(d):
			add(SSN, 0, n)
		}
	}
	return ents
}

// extendCardRuns takes into a run the homophone just before it ("for one
// one ...") when that makes it a Luhn-valid card number.
func extendCardRuns(text string, toks []token, rs []run) []run {
	for i := range rs {
		r := &rs[i]
		if r.first == 0 || isCard(r.digits) {
			continue
		}
		h, ok := homophones[toks[r.first-1].lower]
		if !ok || !joinable(text[toks[r.first-1].end:toks[r.first].start]) {
			continue
		}
		d := append([]byte{h}, r.digits...)
		if i > 0 && rs[i-1].last >= r.first-1 || !isCard(d) {
			continue
		}
		t := toks[r.first-1]
		r.first--
		r.digits = d
		r.spans = append([]span{{t.start, t.end}}, r.spans...)
		r.groups = append([]int{1}, r.groups...)
	}
	return rs
}

// joinCardRuns joins two runs separated by at most two words ("four one
// one one one one one one, okay, one one ...") when together they make a
// Luhn-valid card number and neither is one alone.
func joinCardRuns(rs []run) []run {
	out := rs[:0:0]
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if i+1 < len(rs) {
			n := rs[i+1]
			d := append(append([]byte{}, r.digits...), n.digits...)
			if n.first-r.last <= 3 && len(d) >= 13 && len(d) <= 19 && luhn(d) && !isCard(r.digits) && !isCard(n.digits) {
				r = run{first: r.first, last: n.last, digits: d,
					spans: append(append([]span{}, r.spans...), n.spans...), groups: append(append([]int{}, r.groups...), n.groups...)}
				i++
			}
		}
		out = append(out, r)
	}
	return out
}

func isCard(d []byte) bool {
	_, _, ok := cardWithin(d, issuers)
	return ok
}

// issuers are the first digits of card numbers: Visa, Mastercard, Amex,
// Discover, JCB, Diners.
const issuers = "23456"

// koIssuers adds 9, which starts the numbers of Korean domestic cards
// (BC 9410, ...).
const koIssuers = issuers + "9"

// cardWithin finds the longest Luhn-valid card number (13 to 19 digits,
// starting with one of the issuers' digits) in digits.
func cardWithin(digits []byte, issuers string) (int, int, bool) {
	for l := min(19, len(digits)); l >= 13; l-- {
		for i := 0; i+l <= len(digits); i++ {
			c := digits[i : i+l]
			if strings.IndexByte(issuers, c[0]) >= 0 && luhn(c) {
				return i, i + l, true
			}
		}
	}
	return 0, 0, false
}

// luhn reports whether digits pass the Luhn check.
func luhn(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// abaValid reports whether a 9-digit routing number passes the ABA checksum.
func abaValid(d string) bool {
	if len(d) != 9 {
		return false
	}
	w := [9]int{3, 7, 1, 3, 7, 1, 3, 7, 1}
	sum := 0
	for i := range 9 {
		sum += int(d[i]-'0') * w[i]
	}
	return sum%10 == 0 && d != "000000000"
}

// validSSN reports whether d is a possible US SSN: area not 000, 666 or 9xx,
// group not 00, serial not 0000.
func validSSN(d string) bool {
	if len(d) != 9 {
		return false
	}
	area, group, serial := d[:3], d[3:5], d[5:]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// nanp reports whether a 10-digit number is a possible North American number.
func nanp(d string) bool {
	return len(d) == 10 && d[0] >= '2' && d[3] >= '2'
}

// validExpiry reports whether d reads as a month and year (MMYY, MYY,
// MMYYYY) or, after a month name, a year.
func validExpiry(d string, afterMonth bool) bool {
	if afterMonth {
		return len(d) == 2 || len(d) == 4
	}
	var m string
	switch len(d) {
	case 3:
		m = d[:1]
	case 4, 6:
		m = d[:2]
	default:
		return false
	}
	return m >= "1" && (len(m) == 1 || m >= "01" && m <= "12")
}

// RedactDigits masks, in text, every spoken or written run that spells one
// of the digit strings pressed (DTMF), so digits keyed on the phone never
// appear in text even when the transcript caught them. Runs shorter than
// 3 digits are left alone.
func (r *Redactor) RedactDigits(text string, pressed []string) string {
	return r.replace(text, FindDigits(text, pressed))
}

// FindDigits returns the runs of text that RedactDigits masks, as PIN
// entities in order and not overlapping.
func FindDigits(text string, pressed []string) []Entity {
	if len(pressed) == 0 {
		return nil
	}
	toks := tokenize(text)
	rs := runs(text, toks)
	if languageOf(text, "") == Korean {
		rs = koRuns(text, toks)
	}
	var ents []Entity
	for _, run := range rs {
		if len(run.digits) < 3 {
			continue
		}
		for _, p := range pressed {
			if len(p) >= 3 && strings.Contains(p, string(run.digits)) || len(p) >= 3 && strings.Contains(string(run.digits), p) {
				ents = append(ents, Entity{Type: PIN, Start: run.spans[0].start, End: run.spans[len(run.spans)-1].end})
				break
			}
		}
	}
	return merge(ents)
}
