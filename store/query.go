package store

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/earshot-dev/earshot/hangul"
	"github.com/earshot-dev/earshot/msg"
)

// MaxQueryLen bounds the text of a search query, in bytes.
const MaxQueryLen = 1024

// maxDepth bounds how deeply a query's parentheses and NOTs nest.
const maxDepth = 32

// MaxQueryWords bounds the words a query searches for (a phrase counts each
// of its words), once repeats are dropped: each costs the stores a pass
// over its matches, so 512 of them held a core for minutes.
const MaxQueryWords = 32

// Query is a parsed search query: words, "quoted phrases", prefix*, AND, OR,
// NOT (or -word) and parentheses. Words next to each other must all match
// (AND). Operators are written in capitals; "and", "or" and "not" in lower
// case are words. A query matches one segment: all its words must be said in
// the same turn.
type Query struct {
	root node
}

// node is a query expression.
type node interface{ isNode() }

// term is one word, a prefix (word*), or a phrase (several words in order).
type term struct {
	words  []string // index tokens, lower case
	prefix bool     // the last word is a prefix
}

type and struct{ kids []node }
type or struct{ kids []node }
type not struct{ kid node }

func (term) isNode() {}
func (and) isNode()  {}
func (or) isNode()   {}
func (not) isNode()  {}

// ParseQuery parses text in the query syntax. Its errors wrap
// msg.ErrBadQuery and say at which column (1-based, in characters) the
// problem is.
func ParseQuery(text string) (*Query, error) {
	if len(text) > MaxQueryLen {
		return nil, fmt.Errorf("%w: query is %d bytes long, at most %d", msg.ErrBadQuery, len(text), MaxQueryLen)
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: query is not valid UTF-8", msg.ErrBadQuery)
	}
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{text: text, toks: toks}
	if p.peek().kind == tEOF {
		return nil, p.errAt(p.peek(), "empty query")
	}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, fmt.Sprintf("unexpected %s", t.describe()))
	}
	root = dedupe(root)
	if n := countWords(root); n > MaxQueryWords {
		return nil, fmt.Errorf("%w: query searches for %d words, at most %d (a phrase counts each of its words; a repeated word counts once)", msg.ErrBadQuery, n, MaxQueryWords)
	}
	if err := positive(root); err != nil {
		return nil, fmt.Errorf("%w: %v", msg.ErrBadQuery, err)
	}
	return &Query{root: root}, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tPhrase
	tAnd
	tOr
	tNot
	tMinus
	tOpen
	tClose
)

type qtok struct {
	kind   tokKind
	text   string
	pos    int // byte offset
	prefix bool
}

func (t qtok) describe() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tPhrase:
		return fmt.Sprintf("phrase %q", t.text)
	case tOpen:
		return `"("`
	case tClose:
		return `")"`
	case tMinus:
		return `"-"`
	}
	return fmt.Sprintf("%q", t.text)
}

func column(text string, pos int) int { return utf8.RuneCountInString(text[:pos]) + 1 }

func lex(text string) ([]qtok, error) {
	var toks []qtok
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '(':
			toks = append(toks, qtok{kind: tOpen, text: "(", pos: i})
			i++
		case r == ')':
			toks = append(toks, qtok{kind: tClose, text: ")", pos: i})
			i++
		case r == '"':
			end := strings.IndexByte(text[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("%w: column %d: quote opened here is never closed", msg.ErrBadQuery, column(text, i))
			}
			toks = append(toks, qtok{kind: tPhrase, text: text[i+1 : i+1+end], pos: i})
			i += end + 2
		case r == '-' && (i == 0 || !isWordRune(lastRune(text[:i]))):
			toks = append(toks, qtok{kind: tMinus, text: "-", pos: i})
			i++
		default:
			j := i
			for j < len(text) {
				r, size := utf8.DecodeRuneInString(text[j:])
				if unicode.IsSpace(r) || r == '(' || r == ')' || r == '"' {
					break
				}
				j += size
			}
			w := text[i:j]
			t := qtok{kind: tWord, text: w, pos: i}
			switch w {
			case "AND":
				t.kind = tAnd
			case "OR":
				t.kind = tOr
			case "NOT":
				t.kind = tNot
			default:
				if strings.HasSuffix(w, "*") {
					t.prefix = true
					t.text = strings.TrimRight(w, "*")
				}
			}
			toks = append(toks, t)
			i = j
		}
	}
	return append(toks, qtok{kind: tEOF, pos: len(text)}), nil
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

type parser struct {
	text string
	toks []qtok
	at   int
}

func (p *parser) peek() qtok { return p.toks[p.at] }
func (p *parser) next() qtok { t := p.toks[p.at]; p.at++; return t }

func (p *parser) errAt(t qtok, what string) error {
	return fmt.Errorf("%w: column %d: %s", msg.ErrBadQuery, column(p.text, t.pos), what)
}

func (p *parser) or(depth int) (node, error) {
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	kids := []node{first}
	for p.peek().kind == tOr {
		p.next()
		n, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return or{kids}, nil
}

func (p *parser) and(depth int) (node, error) {
	var kids []node
	for {
		t := p.peek()
		switch t.kind {
		case tEOF, tClose, tOr:
			if len(kids) == 0 {
				return nil, p.errAt(t, fmt.Sprintf("expected a word, a phrase or \"(\" before %s", t.describe()))
			}
			if len(kids) == 1 {
				return kids[0], nil
			}
			return and{kids}, nil
		case tAnd:
			if len(kids) == 0 {
				return nil, p.errAt(t, "AND needs a word or phrase before it")
			}
			p.next()
			if k := p.peek().kind; k == tEOF || k == tClose || k == tOr || k == tAnd {
				return nil, p.errAt(p.peek(), fmt.Sprintf("AND needs a word or phrase after it, not %s", p.peek().describe()))
			}
		}
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		if n != nil {
			kids = append(kids, n)
		}
	}
}

func (p *parser) unary(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.errAt(p.peek(), fmt.Sprintf("nested more than %d deep", maxDepth))
	}
	t := p.next()
	switch t.kind {
	case tNot, tMinus:
		if k := p.peek().kind; k == tEOF || k == tClose || k == tOr || k == tAnd {
			return nil, p.errAt(t, fmt.Sprintf("%s needs a word, phrase or \"(\" after it", t.describe()))
		}
		kid, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return not{kid}, nil
	case tOpen:
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tClose {
			return nil, p.errAt(t, "\"(\" opened here is never closed")
		}
		return n, nil
	case tClose:
		return nil, p.errAt(t, "\")\" without a matching \"(\"")
	case tWord, tPhrase:
		words := Tokens(t.text)
		if len(words) == 0 {
			return nil, p.errAt(t, fmt.Sprintf("%s has no letters or digits to search for", t.describe()))
		}
		if t.prefix && len(words[len(words)-1]) < 2 {
			return nil, p.errAt(t, "a prefix needs at least 2 letters before \"*\"")
		}
		return term{words: words, prefix: t.prefix}, nil
	}
	return nil, p.errAt(t, fmt.Sprintf("unexpected %s", t.describe()))
}

// dedupe drops the repeats among the operands of each AND and OR: "a a a"
// is "a", and costs as much.
func dedupe(n node) node {
	switch n := n.(type) {
	case and:
		kids := uniqueKids(n.kids)
		if len(kids) == 1 {
			return kids[0]
		}
		return and{kids}
	case or:
		kids := uniqueKids(n.kids)
		if len(kids) == 1 {
			return kids[0]
		}
		return or{kids}
	case not:
		return not{dedupe(n.kid)}
	}
	return n
}

// uniqueKids is kids, each deduplicated, without repeats (two operands are
// the same when their tsquery is), in order.
func uniqueKids(kids []node) []node {
	seen := map[string]bool{}
	var out []node
	for _, k := range kids {
		k = dedupe(k)
		var b strings.Builder
		tsq(&b, k)
		if !seen[b.String()] {
			seen[b.String()] = true
			out = append(out, k)
		}
	}
	return out
}

// countWords is how many words n searches for.
func countWords(n node) int {
	switch n := n.(type) {
	case term:
		return len(n.words)
	case and:
		return sumWords(n.kids)
	case or:
		return sumWords(n.kids)
	case not:
		return countWords(n.kid)
	}
	return 0
}

func sumWords(kids []node) int {
	n := 0
	for _, k := range kids {
		n += countWords(k)
	}
	return n
}

// positive checks that the query asks for something: every AND has a word
// that is not negated, and every OR branch does.
func positive(n node) error {
	switch n := n.(type) {
	case not:
		return fmt.Errorf("a query (and each OR branch) needs at least one word that is not negated")
	case and:
		pos := false
		for _, k := range n.kids {
			if nk, ok := k.(not); ok {
				if err := inner(nk.kid); err != nil {
					return err
				}
				continue
			}
			if err := positive(k); err != nil {
				return err
			}
			pos = true
		}
		if !pos {
			return fmt.Errorf("a query (and each OR branch) needs at least one word that is not negated")
		}
	case or:
		for _, k := range n.kids {
			if err := positive(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// inner checks what a NOT applies to.
func inner(n node) error {
	if nk, ok := n.(not); ok {
		return inner(nk.kid)
	}
	return positive(n)
}

// Tokens splits text into index tokens the way both stores' full-text
// indexes see SearchText: runs of letters and digits, lower-cased, Korean
// particles stripped.
func Tokens(text string) []string {
	var out []string
	for _, s := range tokenSpans(text) {
		out = append(out, indexWord(text[s[0]:s[1]]))
	}
	return out
}

// indexWord is the index token of one word: lower case, and a Korean word
// without its particles (계좌를 and 계좌가 are 계좌), so that a search for
// a word finds it whatever particle it carries.
func indexWord(w string) string {
	return hangul.StripParticles(strings.ToLower(w))
}

// SearchText is the text the stores index for a segment's text: the same
// words in the same places, each Korean word without its particles. It is
// text itself when that has no Hangul.
func SearchText(text string) string {
	if !hangul.Has(text) {
		return text
	}
	var b strings.Builder
	last := 0
	for _, s := range tokenSpans(text) {
		w := text[s[0]:s[1]]
		b.WriteString(text[last:s[0]])
		b.WriteString(hangul.StripParticles(w))
		last = s[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

func tokenSpans(text string) [][2]int {
	var out [][2]int
	start := -1
	for i, r := range text {
		w := isWordRune(r)
		if w && start < 0 {
			start = i
		}
		if !w && start >= 0 {
			out = append(out, [2]int{start, i})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, len(text)})
	}
	return out
}

// FTS5 is the query as an SQLite FTS5 MATCH expression.
func (q *Query) FTS5() string {
	var b strings.Builder
	fts5(&b, q.root)
	return b.String()
}

func fts5(b *strings.Builder, n node) {
	switch n := n.(type) {
	case term:
		b.WriteByte('"')
		b.WriteString(strings.Join(n.words, " "))
		b.WriteByte('"')
		if n.prefix {
			b.WriteByte('*')
		}
	case or:
		b.WriteByte('(')
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(" OR ")
			}
			fts5(b, k)
		}
		b.WriteByte(')')
	case and:
		// FTS5's NOT is binary: ((a AND b) NOT c) NOT d.
		var pos, neg []node
		for _, k := range n.kids {
			if k, negated := strip(k); negated {
				neg = append(neg, k)
			} else {
				pos = append(pos, k)
			}
		}
		for range neg {
			b.WriteByte('(')
		}
		b.WriteByte('(')
		for i, k := range pos {
			if i > 0 {
				b.WriteString(" AND ")
			}
			fts5(b, k)
		}
		b.WriteByte(')')
		for _, k := range neg {
			b.WriteString(" NOT ")
			fts5(b, k)
			b.WriteByte(')')
		}
	case not:
		// Only reached as an even number of NOTs (positive() refuses the rest).
		k, _ := strip(n)
		fts5(b, k)
	}
}

// strip removes the NOTs in front of n and says whether an odd number of
// them negates it.
func strip(n node) (node, bool) {
	negated := false
	for {
		nk, ok := n.(not)
		if !ok {
			return n, negated
		}
		n, negated = nk.kid, !negated
	}
}

// TSQuery is the query as a PostgreSQL tsquery (for to_tsquery('simple', ...)).
func (q *Query) TSQuery() string {
	var b strings.Builder
	tsq(&b, q.root)
	return b.String()
}

func tsq(b *strings.Builder, n node) {
	switch n := n.(type) {
	case term:
		b.WriteByte('(')
		for i, w := range n.words {
			if i > 0 {
				b.WriteString(" <-> ")
			}
			b.WriteByte('\'')
			b.WriteString(w)
			b.WriteByte('\'')
			if n.prefix && i == len(n.words)-1 {
				b.WriteString(":*")
			}
		}
		b.WriteByte(')')
	case or:
		b.WriteByte('(')
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(" | ")
			}
			tsq(b, k)
		}
		b.WriteByte(')')
	case and:
		b.WriteByte('(')
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(" & ")
			}
			tsq(b, k)
		}
		b.WriteByte(')')
	case not:
		b.WriteString("!")
		tsq(b, n.kid)
	}
}

// Match reports whether text matches the query, the way the stores' indexes
// decide it, and returns the byte ranges of the matched words (for
// highlighting), in order.
func (q *Query) Match(text string) (bool, [][2]int) {
	spans := tokenSpans(text)
	words := make([]string, len(spans))
	for i, s := range spans {
		words[i] = indexWord(text[s[0]:s[1]])
	}
	hit := make([]bool, len(spans))
	ok := eval(q.root, words, hit)
	if !ok {
		return false, nil
	}
	var hl [][2]int
	for i, h := range hit {
		if h {
			hl = append(hl, spans[i])
		}
	}
	return true, hl
}

func eval(n node, words []string, hit []bool) bool {
	switch n := n.(type) {
	case term:
		found := false
		for i := 0; i+len(n.words) <= len(words); i++ {
			ok := true
			for j, w := range n.words {
				last := j == len(n.words)-1
				if !(words[i+j] == w || last && n.prefix && strings.HasPrefix(words[i+j], w)) {
					ok = false
					break
				}
			}
			if ok {
				found = true
				for j := range n.words {
					hit[i+j] = true
				}
			}
		}
		return found
	case and:
		all := true
		for _, k := range n.kids {
			if !eval(k, words, hit) {
				all = false
			}
		}
		return all
	case or:
		any := false
		for _, k := range n.kids {
			if eval(k, words, hit) {
				any = true
			}
		}
		return any
	case not:
		return !eval(n.kid, words, make([]bool, len(words)))
	}
	return false
}
