package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

func TestParseQueryCompiles(t *testing.T) {
	cases := []struct{ in, fts, tsq string }{
		{"refund", `"refund"`, `('refund')`},
		{`"Cancel my  subscription"`, `"cancel my subscription"`, `('cancel' <-> 'my' <-> 'subscription')`},
		{"refun*", `"refun"*`, `('refun':*)`},
		{"refund manager", `("refund" AND "manager")`, `(('refund') & ('manager'))`},
		{"refund AND manager OR credit", `(("refund" AND "manager") OR "credit")`, `((('refund') & ('manager')) | ('credit'))`},
		{"refund -fee NOT charge", `((("refund") NOT "fee") NOT "charge")`, `(('refund') & !('fee') & !('charge'))`},
		{"(refund OR credit) -(late fee)", `((("refund" OR "credit")) NOT ("late" AND "fee"))`, `((('refund') | ('credit')) & !(('late') & ('fee')))`},
		{"can't", `"can t"`, `('can' <-> 't')`},
		{"e-mail", `"e mail"`, `('e' <-> 'mail')`},
		{"계좌", `"계좌"`, `('계좌')`},
		// A Korean word is searched without its particles, as it is indexed.
		{"계좌를", `"계좌"`, `('계좌')`},
		{`"고객님이 계좌에서"`, `"고객님 계좌"`, `('고객님' <-> '계좌')`},
		{"계좌번호", `"계좌번호"`, `('계좌번호')`},
		{"계좌*", `"계좌"*`, `('계좌':*)`},
	}
	for _, c := range cases {
		q, err := ParseQuery(c.in)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", c.in, err)
			continue
		}
		if got := q.FTS5(); got != c.fts {
			t.Errorf("FTS5(%q) = %s, want %s", c.in, got, c.fts)
		}
		if got := q.TSQuery(); got != c.tsq {
			t.Errorf("TSQuery(%q) = %s, want %s", c.in, got, c.tsq)
		}
	}
}

func TestParseQueryErrorsSayWhere(t *testing.T) {
	cases := []struct{ in, want string }{
		{``, "column 1: empty query"},
		{`refund AND`, "column 11: AND needs a word"},
		{`"cancel my`, "column 1: quote opened here is never closed"},
		{`(refund OR credit`, "column 1: \"(\" opened here is never closed"},
		{`refund)`, "column 7: unexpected \")\""},
		{`OR refund`, "column 1: expected a word"},
		{`refund OR OR x`, "column 11: expected a word"},
		{`NOT refund`, "at least one word that is not negated"},
		{`a OR -b`, "at least one word that is not negated"},
		{`a*`, "column 1: a prefix needs at least 2 letters"},
		{`refund & fee`, "column 8: \"&\" has no letters or digits"},
		{`refund -`, "column 8: \"-\" needs a word"},
		{strings.Repeat("(", 40) + "x" + strings.Repeat(")", 40), "nested more than"},
		{strings.Repeat("x ", 600), "at most 1024"},
	}
	for _, c := range cases {
		_, err := ParseQuery(c.in)
		if !errors.Is(err, msg.ErrBadQuery) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseQuery(%.40q) = %v, want ErrBadQuery with %q", c.in, err, c.want)
		}
	}
}

func TestMatchHighlights(t *testing.T) {
	q, err := ParseQuery(`"cancel my subscription" OR refun* -never`)
	if err != nil {
		t.Fatal(err)
	}
	text := "I want to Cancel my subscription, and a refund."
	ok, hl := q.Match(text)
	if !ok {
		t.Fatal("no match")
	}
	var got []string
	for _, h := range hl {
		got = append(got, text[h[0]:h[1]])
	}
	if strings.Join(got, "|") != "Cancel|my|subscription|refund" {
		t.Errorf("highlights %v", got)
	}
	if ok, _ := q.Match("never a refund"); ok {
		t.Error("NOT ignored")
	}
}

func TestMatchKoreanThroughParticles(t *testing.T) {
	text := "네, 고객님 계좌가 확인되었습니다. 계좌번호를 불러 주세요"
	for in, want := range map[string]string{
		"계좌":           "계좌가",
		"계좌를":          "계좌가",
		`"고객님 계좌"`:     "고객님|계좌가",
		"계좌번호":         "계좌번호를",
		"고객님 -계좌번호":    "",
		"계좌 OR 해지":     "계좌가",
		"confirmed 계좌": "",
	} {
		q, err := ParseQuery(in)
		if err != nil {
			t.Fatal(err)
		}
		ok, hl := q.Match(text)
		var got []string
		for _, h := range hl {
			got = append(got, text[h[0]:h[1]])
		}
		if ok != (want != "") || strings.Join(got, "|") != want {
			t.Errorf("%s: match %v, highlights %q, want %q", in, ok, got, want)
		}
	}
}

func TestSearchText(t *testing.T) {
	for in, want := range map[string]string{
		"Cancel my subscriptions.": "Cancel my subscriptions.",
		"계좌를 해지하고 싶어요":             "계좌 해지하고 싶어요",
		"네, 고객님 계좌가 확인되었습니다":       "네, 고객님 계좌 확인되었습니다",
		"my 계좌에서는 card가 (계좌번호)":    "my 계좌 card (계좌번호)",
	} {
		if got := SearchText(in); got != want {
			t.Errorf("SearchText(%q) = %q, want %q", in, got, want)
		}
		if got, want := indexed(SearchText(in)), Tokens(in); !slices.Equal(got, want) {
			t.Errorf("the index sees %q in SearchText(%q), want the query's %q", got, in, want)
		}
	}
}

// indexed is what a full-text index sees in text: its words, lower-cased.
func indexed(text string) []string {
	var out []string
	for _, s := range tokenSpans(text) {
		out = append(out, strings.ToLower(text[s[0]:s[1]]))
	}
	return out
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{`refund`, `"cancel my subscription" -fee`, `(a OR b*) AND NOT c`, `"`, `((`, `--x`, `NOT NOT x y`, `a a a (a) a`, `-x -x y y`, `계좌를 "고객님이 계좌에서"`, `는는는는 CARD가`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// A word of a text, searched for, finds itself in the index.
		if got, want := indexed(SearchText(s)), Tokens(s); !slices.Equal(got, want) {
			t.Fatalf("the index sees %q in SearchText(%q), a search for it %q", got, s, want)
		}
		q, err := ParseQuery(s)
		if err != nil {
			if !errors.Is(err, msg.ErrBadQuery) {
				t.Fatalf("ParseQuery(%q): error %v does not wrap ErrBadQuery", s, err)
			}
			return
		}
		fts, tsq := q.FTS5(), q.TSQuery()
		if fts == "" || tsq == "" || strings.Count(fts, "(") != strings.Count(fts, ")") || strings.Count(tsq, "(") != strings.Count(tsq, ")") {
			t.Fatalf("ParseQuery(%q): FTS5 %q, tsquery %q", s, fts, tsq)
		}
		if n := countWords(q.root); n > MaxQueryWords {
			t.Fatalf("ParseQuery(%q) searches for %d words", s, n)
		}
		if strings.HasPrefix(strings.TrimLeft(fts, "("), "NOT") {
			t.Fatalf("FTS5 %q starts with NOT", fts)
		}
		q.Match(s)
	})
}

// TestParseQueryBounded: repeats cost nothing, and a query searches for at
// most MaxQueryWords words.
func TestParseQueryBounded(t *testing.T) {
	for in, want := range map[string]string{
		strings.TrimSpace(strings.Repeat("a ", 512)):                     `('a')`,
		`refund refund AND refund`:                                       `('refund')`,
		`refund OR refund OR "late fee" OR "late  fee"`:                  `(('refund') | ('late' <-> 'fee'))`,
		`(cancel refund) (cancel refund) -fee -fee`:                      `((('cancel') & ('refund')) & !('fee'))`,
		`refun* refun* refund`:                                           `(('refun':*) & ('refund'))`,
		strings.TrimSpace(strings.Repeat("(a OR b) ", 100)):              `(('a') | ('b'))`,
		strings.TrimSpace(strings.Repeat("w1 w2 w3 w4 w5 w6 w7 w8 ", 4)): `(('w1') & ('w2') & ('w3') & ('w4') & ('w5') & ('w6') & ('w7') & ('w8'))`,
	} {
		q, err := ParseQuery(in)
		if err != nil {
			t.Errorf("ParseQuery(%.40q): %v", in, err)
			continue
		}
		if got := q.TSQuery(); got != want {
			t.Errorf("ParseQuery(%.40q) = %s, want %s", in, got, want)
		}
	}
	words := func(n int, format string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	if _, err := ParseQuery(words(MaxQueryWords, "w%d ")); err != nil {
		t.Errorf("%d words: %v", MaxQueryWords, err)
	}
	for _, in := range []string{
		words(MaxQueryWords+1, "w%d "),
		`"` + words(MaxQueryWords+1, "w%d ") + `"`,
		words(MaxQueryWords/2, "(a b%d) OR ") + "c",
	} {
		_, err := ParseQuery(in)
		if !errors.Is(err, msg.ErrBadQuery) || !strings.Contains(err.Error(), "at most 32") {
			t.Errorf("ParseQuery(%.40q) = %v, want ErrBadQuery saying at most 32 words", in, err)
		}
	}
}
