package rules

import (
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

// FuzzParse: no rule file, however broken, panics the parser; an invalid
// one returns problems and no rule set; a valid one can be evaluated.
func FuzzParse(f *testing.F) {
	f.Add([]byte(ruleFile("- words: [\"credit card\", \"[num] dollars\", \"cancel*\"]\n  by: customer\n  first: 30s")))
	f.Add([]byte(ruleFile("- any:\n    - near: {a: credit, b: card, within: 1}\n    - sentiment: {below: -2, over: 60s}\n      by: customer")))
	f.Add([]byte("rules:\n  - id: a\n    match: x: y\n"))
	f.Add([]byte(" \n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		rs, err := Parse(text)
		probs := Check(text)
		if emptyFile(text) {
			if err != nil || len(probs) != 1 {
				t.Fatalf("empty file: Parse err %v, Check %+v; want no error and one problem", err, probs)
			}
			return
		}
		if (err == nil) != (len(probs) == 0) {
			t.Fatalf("Parse err %v but Check %+v", err, probs)
		}
		if err != nil {
			if rs != nil {
				t.Fatal("an invalid file returned a rule set")
			}
			for _, p := range probs {
				if p.Line < 0 || p.Column < 0 || p.Message == "" {
					t.Fatalf("bad problem %+v", p)
				}
			}
			return
		}
		rec := msg.CallRecord{Call: msg.CallSummary{CallID: "c", DurationMS: 10000}, Segments: []msg.StoredSegment{
			{Segment: msg.Segment{ID: "s1", Leg: msg.RoleCustomer, EndMS: 3000, Text: "my credit card number is four one one one twenty dollars"}},
			{Segment: msg.Segment{ID: "s2", Leg: msg.RoleAgent, StartMS: 3000, EndMS: 5000, Text: "안녕하세요 계좌를 cancel"}},
		}}
		EvaluateRecord(rs, &rec)
	})
}

// FuzzMatch: no transcript text panics tokenising or matching.
func FuzzMatch(f *testing.F) {
	rs := mustParse(f, ruleFile("- any:\n    - words: [\"card number [num]\", \"cancel * account\", \"refund*\", 계좌]\n    - near: {a: credit, b: card, within: 1}\n    - not_near: {a: cancel, b: not, within: 2}"))
	f.Add("my card number is four one one one", "en")
	f.Add("제 계좌를 확인해 주세요", "ko")
	f.Fuzz(func(t *testing.T, text, lang string) {
		rec := msg.CallRecord{Call: msg.CallSummary{CallID: "c"}, Segments: []msg.StoredSegment{
			{Segment: msg.Segment{ID: "s1", Leg: msg.RoleCustomer, StartMS: 0, EndMS: 1000, Text: text, Language: lang}},
		}}
		for _, m := range EvaluateRecord(rs, &rec) {
			for _, x := range m.Matches {
				if x.StartMS > x.EndMS {
					t.Fatalf("span %+v runs backwards", x)
				}
			}
		}
	})
}

// FuzzIngest: no NATS message, however malformed, panics the engine's
// ingestion or the evaluation that follows.
func FuzzIngest(f *testing.F) {
	rs := mustParse(f, ruleFile("- any:\n    - words: [\"card number [num]\", \"cancel*\"]\n      first: 30s\n    - dtmf: \"12\"\n    - negative_turns: 2\n      by: customer\n    - interruptions: {count: 1}\n    - non_talk: {longest: 5s}\n    - sentiment: {below: -1, over: 10s}"))
	add := func(subject string, m msg.Message) {
		b, err := msg.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(subject, b)
	}
	add(msg.SubjectScoredSegment("c"), msg.ScoredSegment{Segment: msg.Segment{ID: "c/a/1/0", Leg: msg.RoleCustomer, EndMS: 900, Text: "card number 4111",
		Words: []msg.Word{{Text: "card", StartMS: 0, EndMS: 200}, {Text: "number", StartMS: 200, EndMS: 500}, {Text: "4111", StartMS: 500, EndMS: 900}}}})
	add(msg.SubjectDTMF("c"), msg.DTMFEvent{Leg: msg.RoleCustomer, Digit: "1"})
	add(msg.SubjectCharacteristics("c"), msg.Characteristics{NonTalk: []msg.Span{{StartMS: 5, EndMS: 1}}, Interruptions: []msg.Interruption{{By: msg.RoleAgent}}})
	add(msg.SubjectCallSentiment("c"), msg.CallSentiment{Final: true})
	add(msg.SubjectCall("c"), msg.CallEvent{Kind: msg.CallEnded, DurationMS: -5})
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		cs := newCallState("c", rs)
		for range 2 {
			if _, err := ingest(cs, subject, data); err != nil {
				return
			}
			for _, fr := range cs.evaluate(false) {
				cs.markFired(fr)
			}
		}
		cs.evaluate(true)
	})
}
