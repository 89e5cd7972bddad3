package rules

import (
	"os"
	"slices"
	"testing"

	"github.com/earshot-dev/earshot/hangul"
	"github.com/earshot-dev/earshot/msg"
)

const (
	agent    = msg.RoleAgent
	customer = msg.RoleCustomer
)

// TestMatchTypes: every match type, with ASR-style text (no punctuation,
// numbers spelled out or as digits), evaluated post-call through the same
// code as a dry run.
func TestMatchTypes(t *testing.T) {
	cases := []struct {
		name  string
		match string
		call  msg.CallRecord
		want  bool
		texts []string // matched spans, in time order
	}{
		{"exact word", `- words: cancel`,
			record(seg(customer, 1, 3, "i want to cancel my account")), true, []string{"cancel"}},
		{"case and punctuation", `- words: "Speak to your MANAGER!"`,
			record(seg(customer, 1, 3, "can i speak to your manager please")), true, []string{"speak to your manager"}},
		{"whole words only", `- words: card`,
			record(seg(customer, 1, 3, "the cardigan was discarded")), false, nil},
		{"plural matches singular", `- words: [credit card]`,
			record(seg(customer, 1, 3, "i have two credit cards")), true, []string{"credit cards"}},
		{"singular matches plural rule", `- words: [policies]`,
			record(seg(agent, 1, 3, "our policy says no")), true, []string{"policy"}},
		{"alternatives", `- words: [supervisor, manager, "someone in charge"]`,
			record(seg(customer, 1, 3, "get me someone in charge now")), true, []string{"someone in charge"}},
		{"wildcard word", `- words: "cancel * account"`,
			record(seg(customer, 1, 3, "please cancel this account today")), true, []string{"cancel this account"}},
		{"wildcard prefix", `- words: "refund*"`,
			record(seg(customer, 1, 3, "i was promised a refunded amount")), true, []string{"refunded"}},
		{"wildcard needs a word there", `- words: "cancel * account"`,
			record(seg(customer, 1, 3, "cancel account")), false, nil},
		{"num spelled digits", `- words: "card number is [num]"`,
			record(seg(customer, 1, 5, "my card number is four one one one two two two two")), true,
			[]string{"card number is four one one one two two two two"}},
		{"num written", `- words: "card number is [num]"`,
			record(seg(customer, 1, 5, "card number is 4111 1111 1111 1111")), true, []string{"card number is 4111 1111 1111 1111"}},
		{"num tens word", `- words: "[num] dollars"`,
			record(seg(customer, 1, 5, "it was twenty dollars")), true, []string{"twenty dollars"}},
		{"num needs a number", `- words: "[num] dollars"`,
			record(seg(customer, 1, 5, "a few dollars")), false, nil},
		{"number word equals digit", `- words: "press one"`,
			record(seg(agent, 1, 5, "please press 1 now")), true, []string{"press 1"}},
		{"apostrophes", `- words: "don't"`,
			record(seg(customer, 1, 5, "i dont think so")), true, []string{"dont"}},
		{"near within", `- near: {a: credit, b: card, within: 1}`,
			record(seg(customer, 1, 5, "my credit union card")), true, []string{"credit union card"}},
		{"near either order", `- near: {a: credit, b: card, within: 0}`,
			record(seg(customer, 1, 5, "the card credit")), true, []string{"card credit"}},
		{"near too far", `- near: {a: credit, b: card, within: 1}`,
			record(seg(customer, 1, 5, "credit is not a card")), false, nil},
		{"near not across segments", `- near: {a: credit, b: card, within: 3}`,
			record(seg(customer, 1, 2, "credit"), seg(customer, 2, 3, "card")), false, nil},
		{"not near", `- not_near: {a: cancel, b: [dont, not], within: 2}`,
			record(seg(customer, 1, 5, "i want to cancel")), true, []string{"cancel"}},
		{"not near blocked", `- not_near: {a: cancel, b: [dont, not], within: 2}`,
			record(seg(customer, 1, 5, "i do not cancel")), false, nil},
		{"korean particle", `- words: 계좌`,
			record(lang(seg(customer, 1, 5, "제 계좌를 확인해 주세요"), "ko")), true, []string{"계좌를"}},
		{"korean particle ga", `- words: 계좌`,
			record(lang(seg(customer, 1, 5, "계좌가 막혔어요"), "ko")), true, []string{"계좌가"}},
		{"korean greeting", `- words: 안녕하세요`,
			record(lang(seg(agent, 0, 2, "안녕하세요 고객님"), "ko")), true, []string{"안녕하세요"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := mustParse(t, ruleFile(c.match))
			got := EvaluateRecord(rs, &c.call)
			if (len(got) > 0) != c.want {
				t.Fatalf("matched %v, want %v (tokens %q)", len(got) > 0, c.want, Tokenize(c.call.Segments[0].Text, c.call.Segments[0].Language))
			}
			if texts := matchTexts(got); c.want && !slices.Equal(texts, c.texts) {
				t.Fatalf("spans %q, want %q", texts, c.texts)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	withChars := func(r msg.CallRecord, c msg.Characteristics) msg.CallRecord {
		r.Characteristics = &c
		return r
	}
	withDTMF := func(r msg.CallRecord, digits ...string) msg.CallRecord {
		for i, d := range digits {
			r.DTMF = append(r.DTMF, msg.DTMFEvent{CallID: "c", Leg: customer, Digit: d, StartMS: int64(i * 500)})
		}
		return r
	}
	base := record(
		seg(agent, 0, 3, "thank you for calling how can i help"),
		withSentiment(seg(customer, 4, 8, "this is terrible i am so angry"), msg.Negative, -0.8),
		withSentiment(seg(customer, 9, 12, "nothing works"), msg.Negative, -0.6),
		withSentiment(seg(customer, 13, 15, "worst service ever"), msg.Negative, -0.9),
		seg(agent, 16, 20, "i understand let me help"),
		withSentiment(seg(customer, 58, 60, "ok thanks bye"), msg.Positive, 0.5),
	)
	cases := []struct {
		name  string
		match string
		call  msg.CallRecord
		want  bool
	}{
		{"by agent", "- words: help\n  by: agent", base, true},
		{"by customer", "- words: help\n  by: customer", base, false},
		{"first window", "- words: \"thank you\"\n  first: 5s", base, true},
		{"first window missed", "- words: angry\n  first: 3s", base, false},
		{"last window", "- words: bye\n  last: 10s", base, true},
		{"last window missed", "- words: terrible\n  last: 10s", base, false},
		{"after within", "- words: help\n  by: agent\n  after: {words: angry, by: customer, within: 15s}", base, true},
		{"after too late", "- words: bye\n  after: {words: angry, within: 10s}", base, false},
		{"negated words", "- words: sorry\n  by: agent\n  not: true", base, true},
		{"negated words present", "- words: \"thank you\"\n  not: true", base, false},
		{"queue", "- queue: [sales, billing]", base, true},
		{"queue other", "- queue: sales", base, false},
		{"agent", "- agent: alice", base, true},
		{"attribute is", "- attribute: {name: tier, is: [gold, platinum]}", base, true},
		{"attribute present", "- attribute: {name: vip, present: true}", base, false},
		{"dtmf answer", "- dtmf: \"2\"", withDTMF(base, "1", "2"), true},
		{"dtmf sequence", "- dtmf: \"12\"\n  by: customer", withDTMF(base, "1", "2"), true},
		{"dtmf not pressed", "- dtmf: \"9\"", withDTMF(base, "1", "2"), false},
		{"sentiment whole call", "- sentiment: {below: -1}\n  by: customer", base, true},
		{"sentiment above", "- sentiment: {above: 1}\n  by: customer", base, false},
		{"sentiment trailing window", "- sentiment: {above: 1, over: 5s}\n  by: customer", base, true},
		{"sentiment stage score wins", "- sentiment: {above: 2}\n  by: customer",
			func() msg.CallRecord {
				r := base
				r.Sentiment = &msg.CallSentiment{CallID: "c", Final: true, Participants: map[msg.Role]msg.ParticipantSentiment{customer: {Overall: 3, Turns: 4}}}
				return r
			}(), true},
		{"consecutive negative turns", "- negative_turns: 3\n  by: customer", base, true},
		{"consecutive negative turns not reached", "- negative_turns: 4\n  by: customer", base, false},
		{"interruptions count", "- interruptions: {count: 2}\n  by: agent",
			withChars(base, msg.Characteristics{Interruptions: []msg.Interruption{{By: agent, Of: customer, StartMS: 1000, EndMS: 1500}, {By: agent, Of: customer, StartMS: 5000, EndMS: 7000}}}), true},
		{"interruptions by other side", "- interruptions: {count: 1}\n  by: customer",
			withChars(base, msg.Characteristics{Interruptions: []msg.Interruption{{By: agent, Of: customer, StartMS: 1000, EndMS: 1500}}}), false},
		{"interruptions time", "- interruptions: {time: 2s}",
			withChars(base, msg.Characteristics{Interruptions: []msg.Interruption{{By: agent, StartMS: 1000, EndMS: 1500}, {By: customer, StartMS: 5000, EndMS: 7000}}}), true},
		{"non-talk longest", "- non_talk: {longest: 30s}",
			withChars(base, msg.Characteristics{NonTalkMS: 38000, NonTalk: []msg.Span{{StartMS: 20000, EndMS: 58000}}}), true},
		{"non-talk longest short", "- non_talk: {longest: 40s}",
			withChars(base, msg.Characteristics{NonTalkMS: 38000, NonTalk: []msg.Span{{StartMS: 20000, EndMS: 58000}}}), false},
		{"non-talk total", "- non_talk: {total: 30s}",
			withChars(base, msg.Characteristics{NonTalkMS: 38000}), true},
		{"groups AND", "- words: angry\n- words: manager", base, false},
		{"group OR", "- any:\n    - words: manager\n    - words: angry", base, true},
		{"OR with negation", "- any:\n    - words: manager\n    - words: angry\n      not: true", base, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := mustParse(t, ruleFile(c.match))
			got := EvaluateRecord(rs, &c.call)
			if (len(got) > 0) != c.want {
				t.Fatalf("matched %v, want %v", len(got) > 0, c.want)
			}
		})
	}
}

// TestLiveUndecided: while the call goes on, a negated phrase or a count
// not reached yet must not fire; a first-N-seconds window decides once the
// call clock passes it.
func TestLiveUndecided(t *testing.T) {
	rs := mustParse(t, ruleFile("- words: hello\n  by: agent\n  first: 10s\n  not: true"))
	cs := newCallState("c", rs)
	s := seg(customer, 1, 3, "hi is anyone there")
	cs.addSegment(&s.Segment, s.Sentiment)
	if f := cs.evaluate(false); len(f) != 0 {
		t.Fatalf("fired before the window closed: %+v", f)
	}
	s = seg(customer, 9, 12, "hello hello")
	cs.addSegment(&s.Segment, s.Sentiment)
	if f := cs.evaluate(false); len(f) != 1 {
		t.Fatalf("did not fire once the first 10 s passed without the agent's hello")
	}

	rs = mustParse(t, ruleFile("- words: thanks\n  not: true"))
	cs = newCallState("c", rs)
	cs.addSegment(&s.Segment, s.Sentiment)
	if f := cs.evaluate(false); len(f) != 0 {
		t.Fatal("a negated phrase fired while the call goes on")
	}
	cs.callEvent(&msg.CallEvent{Kind: msg.CallEnded, DurationMS: 20000})
	if f := cs.evaluate(false); len(f) != 0 {
		t.Fatal("a negated phrase fired at the ended event, before the last segments could arrive")
	}
	if f := cs.evaluate(true); len(f) != 1 {
		t.Fatal("a negated phrase never said did not hold post-call")
	}
}

func TestLanguageLimitsRule(t *testing.T) {
	rs := mustParse(t, ruleFile("- words: 계좌", "language: ko"))
	en := record(lang(seg(customer, 1, 2, "계좌"), "en"))
	if got := EvaluateRecord(rs, &en); len(got) != 0 {
		t.Fatal("a Korean rule matched an English segment")
	}
	ko := record(lang(seg(customer, 1, 2, "계좌에서"), "ko"))
	if got := EvaluateRecord(rs, &ko); len(got) != 1 {
		t.Fatal("a Korean rule missed a Korean segment")
	}
}

func TestTokenize(t *testing.T) {
	cases := map[string][]string{
		"Speak to your MANAGER!": {"speak", "to", "your", "manager"},
		"I've two credit-cards.": {"ive", "2", "credit", "card"},
		"boxes policies charges": {"box", "policy", "charge"},
		"this is his bus":        {"this", "is", "his", "bus"},
		"4111 1111":              {"4111", "1111"},
		"계좌를 계좌가 계좌에서":           {"계좌", "계좌", "계좌"},
		"안녕하세요":                  {"안녕하세요"},
	}
	for in, want := range cases {
		lang := "en"
		if hangul.Has(in) {
			lang = "ko"
		}
		if got := Tokenize(in, lang); !slices.Equal(got, want) {
			t.Errorf("Tokenize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestQualityFileOnACall runs testdata/quality.yaml over one realistic,
// ASR-style call and checks which rules hold.
func TestQualityFileOnACall(t *testing.T) {
	t.Setenv("EARSHOT_WEBHOOK_SECRET", "x")
	text, err := os.ReadFile("testdata/quality.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs := mustParse(t, string(text))
	rec := record(
		seg(agent, 0.5, 3, "good morning thanks for calling acme how can i help"),
		seg(customer, 3.5, 9, "yeah hi i want to cancel my account i got charged twice on my visa credit card"),
		seg(agent, 9.5, 14, "im sorry to hear that let me check"),
		seg(customer, 15, 20, "this is the third time i want a supervisor"),
		seg(agent, 21, 25, "i understand ill put you through"),
	)
	rec.Call.Queue = "billing"
	rec.DTMF = []msg.DTMFEvent{{Leg: customer, Digit: "1", StartMS: 100}}
	rec.Characteristics = &msg.Characteristics{Interruptions: []msg.Interruption{{By: agent, Of: customer, StartMS: 4000, EndMS: 6000}}}
	var got []string
	for _, m := range EvaluateRecord(rs, &rec) {
		got = append(got, m.RuleID)
	}
	want := []string{"greeting", "credit-card-near", "cancel-without-retention", "billing-queue-escalation"}
	if !slices.Equal(got, want) {
		t.Fatalf("rules held: %v, want %v", got, want)
	}
}

func TestRepeat(t *testing.T) {
	for _, c := range []struct {
		extra string
		want  int
	}{{"repeat: false", 1}, {"repeat: true", 3}} {
		rs := mustParse(t, ruleFile("- words: supervisor", c.extra))
		cs := newCallState("c", rs)
		fired := 0
		for i, text := range []string{"supervisor", "hello", "supervisor now", "get me a supervisor"} {
			s := seg(customer, float64(i), float64(i)+1, text)
			cs.addSegment(&s.Segment, s.Sentiment)
			for _, f := range cs.evaluate(false) {
				cs.markFired(f)
				fired++
			}
		}
		if fired != c.want {
			t.Errorf("%s: fired %d times, want %d", c.extra, fired, c.want)
		}
	}
}
