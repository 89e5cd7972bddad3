package evaluate

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

func mustParse(t *testing.T, path string) *Form {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(text)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

func TestParseQualityForm(t *testing.T) {
	f := mustParse(t, "testdata/quality.yaml")
	if f.ID != "service-qa" || f.Name != "Customer service QA" || len(f.Sections) != 3 || len(f.Version) != 16 {
		t.Fatalf("form %q %q, %d sections, version %q", f.ID, f.Name, len(f.Sections), f.Version)
	}
	pace := f.Sections[1].Questions[2]
	if pace.Type != Number || pace.Min != 0 || pace.Max != 400 || len(pace.Bands) != 2 || pace.Best() != 2 || pace.Auto.Value != "talk_speed" {
		t.Errorf("pace: %+v", pace)
	}
	d := f.Sections[0].Questions[1].Auto
	if d.First != 30*time.Second || d.By != msg.RoleAgent || len(d.Phrases) != 2 {
		t.Errorf("disclosure: %+v", d)
	}
	if s := f.Sections[2]; s.Weight != 1 || s.Questions[0].Auto != nil || s.Questions[0].Weight != 3 {
		t.Errorf("outcome: %+v", s)
	}
}

// Every problem of the invalid form, each at its line and column.
func TestCheckInvalidForm(t *testing.T) {
	text, err := os.ReadFile("testdata/invalid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range Check(text) {
		got = append(got, fmt.Sprintf("%d:%d %s", p.Line, p.Column, p.Message))
	}
	want := []string{
		`2:7 form: "Bad Form": want lower-case letters`,
		`5:13 section one: weight must be above 0`,
		`9:15 question q1: type "colour": want yes_no, choice or number`,
		`10:13 question id: id "q1" is already used on line 7`,
		`13:15 question : auto: want exactly one of category, alert, phrase, value, attribute, dtmf; got 2`,
		`14:9 question q3: a number question needs range: [min, max] and bands`,
		`14:9 question q3: no answer scores above 0`,
		`17:15 question q3: auto: a number question is answered from value, attribute or dtmf, not phrase`,
		`21:15 question q4: auto: a yes/no question from value needs at_least, at_most`,
		`21:23 question q4: auto: value "speed": want one of:`,
		`21:37 question q4: auto: "first" is only for phrase`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems:\n%s\nwant %d", len(got), strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: %s\nwant %s...", i, got[i], want[i])
		}
	}
	if _, err := Parse(text); !errors.Is(err, ErrInvalid) {
		t.Errorf("Parse: %v, want ErrInvalid", err)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", "the file is empty"},
		{"form: x\nsections: [", "not valid YAML"},
		{"form: x\nsections: []\n---\nform: y\n", "only one YAML document"},
		{"form: &a x\nsections: []\n", "anchors and aliases"},
		{"form: x\nsections: []\n", "the list is empty"},
		{"form: x\ncolour: red\nsections: []\n", `unknown field "colour"`},
		{"form: x\nsections:\n  - id: s\n    questions:\n      - {id: q, text: t, type: choice, choices: [{answer: A, score: 1}, {answer: A, score: 0}]}\n", `answer "A" given twice`},
		{"form: x\nsections:\n  - id: s\n    questions:\n      - {id: q, text: t, type: choice, choices: [{answer: A, score: 1}], auto: {category: C}}\n", "answered by an analyst"},
		{"form: x\nsections:\n  - id: s\n    questions:\n      - {id: q, text: t, type: number, range: [5, 1], bands: [{score: 1}]}\n", "min 5 is above max 1"},
		{"form: x\nsections:\n  - id: s\n    questions:\n      - {id: q, text: t, type: yes_no, yes: \"1\"}\n", "want a number"},
		{"form: x\nsections:\n  - id: s\n    questions:\n      - {id: q, text: t, type: yes_no, auto: {phrase: hi, first: 10s, last: 5s}}\n", "first and last together"},
		{strings.Repeat(" ", MaxFileBytes+1), "at most"},
	} {
		probs := Check([]byte(tc.text))
		var all []string
		for _, p := range probs {
			all = append(all, p.Message)
		}
		if !strings.Contains(strings.Join(all, "\n"), tc.want) {
			t.Errorf("%.60q: problems %q, want one with %q", tc.text, all, tc.want)
		}
	}
}

// The quality form on a call, its figures computed by hand.
func TestScore(t *testing.T) {
	f := mustParse(t, "testdata/quality.yaml")
	ended := time.Date(2026, 11, 2, 9, 5, 0, 0, time.UTC)
	rec := msg.CallRecord{
		Call: msg.CallSummary{CallID: "c1", DurationMS: 300000, EndedAt: &ended},
		Segments: []msg.StoredSegment{
			{Segment: msg.Segment{Leg: msg.RoleAgent, StartMS: 2000, EndMS: 6000, Text: "Hello! This call is recorded, for quality."}},
			{Segment: msg.Segment{Leg: msg.RoleCustomer, StartMS: 7000, EndMS: 9000, Text: "fine"}},
		},
		Categories: []msg.Category{{Name: "Greeted"}},
		Alerts:     []msg.Alert{{RuleID: "angry", RuleName: "Angry customer"}},
		Sentiment: &msg.CallSentiment{Participants: map[msg.Role]msg.ParticipantSentiment{
			msg.RoleCustomer: {Overall: -1, Shift: 1.5}}},
		Characteristics: &msg.Characteristics{NonTalkMS: 90000, TalkSpeedWPM: map[msg.Role]float64{msg.RoleAgent: 200},
			Interruptions: []msg.Interruption{{By: msg.RoleAgent}, {By: msg.RoleCustomer}, {By: msg.RoleCustomer}}},
	}
	ev := Score(f, rec, ended)
	answers := map[string]string{}
	for _, a := range ev.Answers {
		answers[a.Question] = a.Value
		if a.Value != a.Auto {
			t.Errorf("%s: value %q, auto %q", a.Question, a.Value, a.Auto)
		}
	}
	want := map[string]string{"greeting": "yes", "disclosure": "yes", "no-talkover": "yes", "silence": "no",
		"pace": "200", "no-anger": "no", "resolved": "", "mood": "yes"}
	for q, v := range want {
		if answers[q] != v {
			t.Errorf("%s: %q, want %q", q, answers[q], v)
		}
	}
	// opening: 100. conduct: talkover 1, silence 0, pace 1/2, anger 0 -> 1.5/4 = 37.5.
	// outcome: resolved unanswered, mood 1 -> 100. Form: (100*1 + 37.5*2 + 100*1) / 4 = 68.75.
	sections := fmt.Sprint(*ev.Sections[0].Score, *ev.Sections[1].Score, *ev.Sections[2].Score)
	if sections != "100 37.5 100" || ev.Score == nil || *ev.Score != 68.75 {
		t.Fatalf("sections %s, form %v; want 100 37.5 100, 68.75", sections, ev.Score)
	}
	// An analyst answers "Partly" (1 of 2, weight 3): outcome (0.5*3 + 1) / 4 = 62.5;
	// form (100 + 75 + 62.5) / 4 = 59.375 -> 59.38.
	for i := range ev.Answers {
		if ev.Answers[i].Question == "resolved" {
			ev.Answers[i].Value = "Partly"
		}
	}
	Total(f, &ev)
	if *ev.Sections[2].Score != 62.5 || *ev.Score != 59.38 {
		t.Errorf("after the analyst: outcome %v, form %v; want 62.5, 59.38", *ev.Sections[2].Score, *ev.Score)
	}
	// The disclosure said after 30 s does not count; without sentiment
	// or characteristics their questions wait for an analyst.
	rec.Segments[0].StartMS = 31000
	rec.Sentiment, rec.Characteristics = nil, nil
	ev = Score(f, rec, ended)
	for _, a := range ev.Answers {
		switch a.Question {
		case "disclosure":
			if a.Value != "no" {
				t.Errorf("disclosure at 31 s: %q", a.Value)
			}
		case "no-talkover", "silence", "pace", "mood":
			if a.Value != "" || a.Score != nil {
				t.Errorf("%s without the data: %q %v", a.Question, a.Value, a.Score)
			}
		}
	}
}

func TestAllowed(t *testing.T) {
	f := mustParse(t, "testdata/quality.yaml")
	q := map[string]*Question{}
	for _, s := range f.Sections {
		for _, x := range s.Questions {
			q[x.ID] = x
		}
	}
	for _, tc := range []struct {
		q, v string
		ok   bool
	}{
		{"greeting", "yes", true}, {"greeting", "maybe", false}, {"resolved", "Partly", true}, {"resolved", "partly", false},
		{"pace", "150", true}, {"pace", "401", false}, {"pace", "NaN", false}, {"pace", "", false},
	} {
		if got := q[tc.q].Allowed(tc.v); got != tc.ok {
			t.Errorf("%s %q: %v, want %v", tc.q, tc.v, got, tc.ok)
		}
	}
}

// FuzzParse: any text is a form or a list of problems, never a panic, and
// every problem has a line.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/quality.yaml", "testdata/invalid.yaml"} {
		text, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		form, err := Parse(text)
		if err != nil {
			var pe *ProblemsError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("error %v is not a list of problems", err)
			}
			return
		}
		Score(form, msg.CallRecord{}, time.Time{})
	})
}
