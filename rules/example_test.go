package rules_test

import (
	"fmt"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/rules"
)

func ExampleCheck() {
	probs := rules.Check([]byte(`
rules:
  - id: card
    match:
      - words: "card number [digits]"
    actions: {alert: {severity: critical}}
`))
	for _, p := range probs {
		fmt.Printf("%d:%d: %s\n", p.Line, p.Column, p.Message)
	}
	// Output:
	// 5:16: words: "card number [digits]": unknown placeholder "[digits]" (want [num])
}

func ExampleEvaluateRecord() {
	rs, err := rules.Parse([]byte(`
rules:
  - id: card
    match:
      - words: "card number [num]"
        by: customer
    actions: {alert: {severity: critical}}
`))
	if err != nil {
		panic(err)
	}
	rec := msg.CallRecord{
		Call: msg.CallSummary{CallID: "call-1", DurationMS: 30000},
		Segments: []msg.StoredSegment{{Segment: msg.Segment{
			ID: "call-1/customer/3/0", Leg: msg.RoleCustomer, StartMS: 12000, EndMS: 16000,
			Text: "yes my Card Number four one one one 1111",
		}}},
	}
	for _, m := range rules.EvaluateRecord(rs, &rec) {
		fmt.Printf("%s matched %q at %d ms\n", m.RuleID, m.Matches[0].Text, m.Matches[0].StartMS)
	}
	// Output:
	// card matched "Card Number four one one one 1111" at 12888 ms
}
