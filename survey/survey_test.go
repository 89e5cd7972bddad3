package survey_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/survey"
)

func TestParseExample(t *testing.T) {
	text, err := os.ReadFile("testdata/surveys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := survey.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	s := c.OnAgentLeft()
	if s == nil || s.Name != "post-call" || len(s.Questions) != 2 || s.Questions[1].Scale != msg.ScaleNPS {
		t.Fatalf("on agent left: %+v", s)
	}
	if a := c.Named("ivr-survey"); a == nil || a.Start != survey.StartAnnounce || c.Named("nope") != nil {
		t.Errorf("named: %+v", a)
	}
}

func TestParseProblems(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", "1:0: the file is empty"},
		{"surveys: []", `1:10: surveys: want a list of at least one`},
		{"survey: []", `1:1: the file: unknown field "survey"`},
		{"surveys:\n  - name: a\n    start: later\n    questions:\n      - {id: q, prompt: p, scale: 1-5}\n", `3:12: surveys[0].start: "later"`},
		{"surveys:\n  - name: a\n    start: announce\n    questions:\n      - {id: q, prompt: p, scale: 1-10}\n", `5:35: surveys[0].questions[0].scale: "1-10"`},
		{"surveys:\n  - name: a\n    start: announce\n    questions:\n      - {id: q, prompt: p}\n", `5:9: surveys[0].questions[0]: "scale" is missing`},
		{"surveys:\n  - {name: a, start: agent_leg_ends, questions: [{id: q, prompt: p, scale: 1-5}]}\n  - {name: b, start: agent_leg_ends, questions: [{id: q, prompt: p, scale: 1-5}]}\n",
			`3:22: surveys[1].start: only one survey can start when the agent leg ends`},
		{"surveys:\n  - {name: a, start: announce, questions: [{id: q, prompt: p, scale: 1-5}, {id: q, prompt: p, scale: 0-10}]}\n", `2:81: surveys[0].questions[1].id: "q" is given twice`},
	} {
		_, err := survey.Parse([]byte(tc.text))
		var pe *survey.ProblemsError
		if !errors.As(err, &pe) || !errors.Is(err, survey.ErrInvalid) {
			t.Errorf("%q: %v, want problems", tc.text, err)
			continue
		}
		p := pe.Problems[0]
		if got := fmt.Sprintf("%d:%d: %s", p.Line, p.Column, p.Message); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: %s, want %s...", tc.text, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	if text, err := os.ReadFile("testdata/surveys.yaml"); err == nil {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := survey.Parse(text)
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v and error %v", c, err)
		}
		if err != nil && !errors.Is(err, survey.ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
		if c == nil {
			return
		}
		for _, s := range c.Surveys {
			for _, q := range s.Questions {
				if _, _, err := msg.ScaleRange(q.Scale); err != nil {
					t.Fatalf("accepted %+v: %v", q, err)
				}
			}
		}
	})
}

func TestRecorder(t *testing.T) {
	s := &survey.Survey{Name: "post-call", Questions: []survey.Question{
		{ID: "satisfied", Scale: msg.ScaleCSAT}, {ID: "recommend", Scale: msg.ScaleNPS}, {ID: "again", Scale: msg.ScaleNPS}}}
	for _, tc := range []struct{ keys, want string }{
		{"5 9 3", "satisfied=5 recommend=9 again=3"},
		{"7 0 4 1 0 1 #", "satisfied=4 recommend=10 again=1"}, // 7 and the first 0 are off the 1-5 scale
		{"2 1 8", "satisfied=2 recommend=1 again=8"},          // 1 then another digit: 1, and the digit answers the next
		{"3 1", "satisfied=3 recommend=1"},                    // the call ended on a pending 1
		{"3 1 * 6", "satisfied=3 recommend=6"},                // * takes the 1 back
		{"# *", ""},
	} {
		r := survey.NewRecorder(s, "c1")
		for i, k := range strings.Fields(tc.keys) {
			r.Press(k, int64(i)*1000)
		}
		res, ok := r.Result()
		var got []string
		for _, a := range res.Answers {
			got = append(got, fmt.Sprintf("%s=%d", a.Question, a.Value))
		}
		if strings.Join(got, " ") != tc.want || ok != (tc.want != "") {
			t.Errorf("%q: %v (ok %v), want %s", tc.keys, got, ok, tc.want)
		}
		if ok {
			if err := res.Validate(); err != nil {
				t.Errorf("%q: %v", tc.keys, err)
			}
		}
	}
}
