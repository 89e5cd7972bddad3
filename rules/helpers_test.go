package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

// ruleFile wraps one rule's match groups (YAML, indented by the caller as
// a list under match:) into a file with an alert action.
func ruleFile(match string, extra ...string) string {
	var b strings.Builder
	b.WriteString("rules:\n  - id: r1\n    name: Test rule\n")
	for _, e := range extra {
		b.WriteString("    " + e + "\n")
	}
	b.WriteString("    match:\n")
	for _, l := range strings.Split(strings.Trim(match, "\n"), "\n") {
		b.WriteString("      " + l + "\n")
	}
	b.WriteString("    actions:\n      alert: {severity: warning, message: \"{rule}: {matched}\"}\n")
	return b.String()
}

func mustParse(t testing.TB, text string) *RuleSet {
	t.Helper()
	rs, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", text, err)
	}
	return rs
}

var segN int

// seg is a final segment from s to e seconds on the call clock.
func seg(leg msg.Role, s, e float64, text string) msg.StoredSegment {
	segN++
	return msg.StoredSegment{
		Segment: msg.Segment{
			ID: fmt.Sprintf("c/%s/%d/0", leg, segN), CallID: "c", Leg: leg, Turn: segN,
			StartMS: int64(s * 1000), EndMS: int64(e * 1000), Text: text,
		},
		Sentiment: &msg.Sentiment{Label: msg.Neutral},
	}
}

func withSentiment(s msg.StoredSegment, label string, compound float64) msg.StoredSegment {
	s.Sentiment = &msg.Sentiment{Label: label, Compound: compound}
	return s
}

func lang(s msg.StoredSegment, l string) msg.StoredSegment {
	s.Language = l
	return s
}

func record(segs ...msg.StoredSegment) msg.CallRecord {
	var end int64
	for _, s := range segs {
		end = max(end, s.EndMS)
	}
	return msg.CallRecord{
		Call:     msg.CallSummary{CallID: "c", Agent: "alice", Queue: "billing", DurationMS: end + 1000, Attributes: map[string]string{"tier": "gold"}},
		Segments: segs,
	}
}

func matchTexts(ms []msg.DryRunMatch) []string {
	var out []string
	for _, m := range ms {
		for _, x := range m.Matches {
			out = append(out, x.Text)
		}
	}
	return out
}
