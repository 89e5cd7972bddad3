package rules

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

var benchWords = strings.Fields(`account balance bill billing cancel card charge credit debit refund
transfer payment late fee interest rate loan mortgage branch online password reset login locked
fraud dispute statement address phone email update close open savings checking deposit withdraw
limit increase decrease overdraft manager supervisor complaint angry upset terrible awful great
thanks help please wait hold minute second number digit code verify identity security question
answer name birthday month year day week today tomorrow yesterday morning evening agent customer
service support issue problem error mistake wrong right okay sure yes no maybe never always
again still already soon later contract plan upgrade downgrade device phone internet cable bundle
discount offer promotion price cost expensive cheap free trial subscription renewal expire`)

// benchRules writes n rules of two alternative phrases of minWords to 3
// words each, said by the customer. The words come from a 200-word
// contact-center vocabulary, so with minWords 2 a typical segment arms a
// few dozen rules, and with minWords 1 hundreds (a stress case).
func benchRules(n, minWords int) string {
	r := rand.New(rand.NewPCG(1, 2))
	phrase := func() string {
		k := minWords + r.IntN(4-minWords)
		ws := make([]string, k)
		for i := range ws {
			ws[i] = benchWords[r.IntN(len(benchWords))]
		}
		return strings.Join(ws, " ")
	}
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: r%d\n    match:\n      - words: [%q, %q]\n        by: customer\n    actions:\n      alert: {severity: warning}\n", i, phrase(), phrase())
	}
	return b.String()
}

// benchRules20 writes n rules of 20 conditions each: ten groups (AND) of a
// phrase OR a measure, so no rule is gated by words and every rule is
// evaluated on every segment: the worst case.
func benchRules20(n int) string {
	r := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: r%d\n    match:\n", i)
		for g := range 10 {
			w := benchWords[r.IntN(len(benchWords))] + " " + benchWords[r.IntN(len(benchWords))]
			var other string
			switch g % 5 {
			case 0:
				other = "sentiment: {below: -2, over: 60s}\n            by: customer"
			case 1:
				other = "interruptions: {count: 3}\n            by: agent"
			case 2:
				other = "non_talk: {longest: 20s}"
			case 3:
				other = "near: {a: credit, b: card, within: 2}"
			case 4:
				other = "negative_turns: 3\n            by: customer"
			}
			fmt.Fprintf(&b, "      - any:\n          - words: %q\n            first: 5m\n          - %s\n", w, other)
		}
		b.WriteString("    actions:\n      category: c\n")
	}
	return b.String()
}

const benchSegment = "yes hi i am calling because there is a late fee on my credit card statement and i want a refund please"

func benchSeg(i int) *msg.Segment {
	return &msg.Segment{ID: fmt.Sprintf("c/customer/%d/0", i), CallID: "c", Leg: msg.RoleCustomer,
		StartMS: int64(i) * 5000, EndMS: int64(i)*5000 + 4000, Text: benchSegment, Language: "en"}
}

// BenchmarkSegment10kRules: one final segment (21 words) into a call's
// state and every live rule it could affect evaluated, with 10,000 rules
// (20,000 phrases of 2-3 words) in force.
func BenchmarkSegment10kRules(b *testing.B) { benchSegment10k(b, 2) }

// BenchmarkSegment10kRulesStress: the same with one-word phrases among the
// rules, so that hundreds of rules hold on the one segment.
func BenchmarkSegment10kRulesStress(b *testing.B) { benchSegment10k(b, 1) }

func benchSegment10k(b *testing.B, minWords int) {
	rs := mustParse(b, benchRules(10000, minWords))
	sent := &msg.Sentiment{Label: msg.Neutral}
	fired := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		cs := newCallState("c", rs)
		cs.addSegment(benchSeg(i), sent)
		fired += len(cs.evaluate(false))
	}
	b.ReportMetric(float64(fired)/float64(b.N), "rules-held/op")
}

// BenchmarkScan10kRules: only tokenising the segment and running the
// automaton over it (no rule evaluation).
func BenchmarkScan10kRules(b *testing.B) {
	rs := mustParse(b, benchRules(10000, 2))
	sent := &msg.Sentiment{Label: msg.Neutral}
	for i := 0; b.Loop(); i++ {
		cs := newCallState("c", rs)
		cs.addSegment(benchSeg(i), sent)
	}
}

// BenchmarkSegment10kRulesLongCall: the same, as the 100th segment of a
// call (the state holds 99 earlier segments and their hits, and the rules
// they made fire have fired, as in the engine).
func BenchmarkSegment10kRulesLongCall(b *testing.B) {
	rs := mustParse(b, benchRules(10000, 2))
	sent := &msg.Sentiment{Label: msg.Neutral}
	cs := newCallState("c", rs)
	for i := range 99 {
		cs.addSegment(benchSeg(i), sent)
		for _, f := range cs.evaluate(false) {
			cs.markFired(f)
		}
	}
	base := cs.segs
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		cs.segs = base[:99:99]
		delete(cs.segIDs, benchSeg(100).ID)
		cs.addSegment(benchSeg(100), sent)
		cs.evaluate(false)
	}
}

// BenchmarkRules500x20: one segment, 500 rules of 20 conditions each, all
// evaluated.
func BenchmarkRules500x20(b *testing.B) {
	rs := mustParse(b, benchRules20(500))
	sent := &msg.Sentiment{Label: msg.Negative, Compound: -0.6}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		cs := newCallState("c", rs)
		cs.setCharacteristics(&msg.Characteristics{NonTalk: []msg.Span{{StartMS: 0, EndMS: 1000}}})
		cs.addSegment(benchSeg(i), sent)
		cs.evaluate(false)
	}
}

// BenchmarkParse10kRules: checking and building a 10,000-rule file
// (what a reload costs).
func BenchmarkParse10kRules(b *testing.B) {
	text := []byte(benchRules(10000, 2))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}
