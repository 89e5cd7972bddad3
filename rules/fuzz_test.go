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
	f.Fuzz(func(t *testing.T, text []byte) {
		rs, err := Parse(text)
		probs := Check(text)
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
