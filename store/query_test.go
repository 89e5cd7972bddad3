package store

import (
	"errors"
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

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{`refund`, `"cancel my subscription" -fee`, `(a OR b*) AND NOT c`, `"`, `((`, `--x`, `NOT NOT x y`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
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
		if strings.HasPrefix(strings.TrimLeft(fts, "("), "NOT") {
			t.Fatalf("FTS5 %q starts with NOT", fts)
		}
		q.Match(s)
	})
}
