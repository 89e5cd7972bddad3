package evaluate

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/earshot-dev/earshot/msg"
)

// Score answers f's automatic questions from what the store keeps of a
// call and totals the form; questions without automation, or whose
// source the call lacks (no sentiment yet, no such attribute), stay
// unanswered for an analyst.
func Score(f *Form, rec msg.CallRecord, at time.Time) msg.Evaluation {
	ev := msg.Evaluation{CallID: rec.Call.CallID, Form: f.ID, FormVersion: f.Version, ScoredAt: at.UTC()}
	for _, s := range f.Sections {
		for _, q := range s.Questions {
			a := msg.EvaluatedAnswer{Question: q.ID, Section: s.ID}
			if q.Auto != nil {
				a.Auto = q.Auto.answer(q, rec)
				a.Value = a.Auto
			}
			ev.Answers = append(ev.Answers, a)
		}
	}
	Total(f, &ev)
	return ev
}

// Total computes each answer's score and the section and form totals of
// ev from its answers' values (as an analyst left them). A value the form
// does not allow (a form changed since) counts as unanswered.
func Total(f *Form, ev *msg.Evaluation) {
	byQ := map[string]*msg.EvaluatedAnswer{}
	for i := range ev.Answers {
		byQ[ev.Answers[i].Question] = &ev.Answers[i]
	}
	ev.Sections = ev.Sections[:0]
	var formSum, formWeight float64
	for _, s := range f.Sections {
		var sum, weight float64
		for _, q := range s.Questions {
			a := byQ[q.ID]
			if a == nil {
				continue
			}
			a.Score = nil
			if pts, ok := q.points(a.Value); ok {
				share := pts / q.Best()
				a.Score = &share
				sum += share * q.Weight
				weight += q.Weight
			}
		}
		sc := msg.SectionScore{ID: s.ID}
		if weight > 0 {
			pct := round2(100 * sum / weight)
			sc.Score = &pct
			formSum += pct * s.Weight
			formWeight += s.Weight
		}
		ev.Sections = append(ev.Sections, sc)
	}
	ev.Score = nil
	if formWeight > 0 {
		pct := round2(formSum / formWeight)
		ev.Score = &pct
	}
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// points is the score of answer value to q; false when value is no answer
// q allows.
func (q *Question) points(value string) (float64, bool) {
	if value == "" {
		return 0, false
	}
	switch q.Type {
	case YesNo:
		switch value {
		case "yes":
			return q.Yes, true
		case "no":
			return q.No, true
		}
	case Choice:
		for _, c := range q.Choices {
			if c.Answer == value {
				return c.Score, true
			}
		}
	case Number:
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || v < q.Min || v > q.Max || math.IsNaN(v) {
			return 0, false
		}
		for _, b := range q.Bands {
			if v >= b.Min && v <= b.Max {
				return b.Score, true
			}
		}
		return 0, true
	}
	return 0, false
}

// Allowed says whether value is an answer q accepts (for an analyst's).
func (q *Question) Allowed(value string) bool {
	_, ok := q.points(value)
	return ok
}

// answer is the automatic answer to q from rec; "" when rec lacks what
// it needs.
func (a *Auto) answer(q *Question, rec msg.CallRecord) string {
	var yes bool
	switch {
	case a.Category != "":
		for _, c := range rec.Categories {
			yes = yes || c.Name == a.Category
		}
		for _, c := range rec.Call.Categories {
			yes = yes || c == a.Category
		}
	case a.Alert != "":
		for _, al := range rec.Alerts {
			yes = yes || al.RuleID == a.Alert || al.RuleName == a.Alert
		}
	case len(a.Phrases) > 0:
		yes = a.said(rec)
	default:
		v, s, ok := a.number(rec)
		if !ok {
			return ""
		}
		if q.Type == Number {
			if v < q.Min || v > q.Max {
				return ""
			}
			return strconv.FormatFloat(round2(v), 'f', -1, 64)
		}
		switch {
		case a.Equals != nil:
			yes = s == *a.Equals
		default:
			yes = (a.AtLeast == nil || v >= *a.AtLeast) && (a.AtMost == nil || v <= *a.AtMost)
		}
	}
	if yes != a.Not {
		return "yes"
	}
	return "no"
}

// said reports whether By (either leg when empty) said one of the phrases
// within the first or last stretch of the call.
func (a *Auto) said(rec msg.CallRecord) bool {
	end := rec.Call.DurationMS
	for _, seg := range rec.Segments {
		if a.By != "" && seg.Leg != a.By {
			continue
		}
		if a.First > 0 && seg.StartMS >= a.First.Milliseconds() {
			continue
		}
		if a.Last > 0 && seg.EndMS < end-a.Last.Milliseconds() {
			continue
		}
		text := " " + words(seg.Text) + " "
		for _, p := range a.Phrases {
			if w := words(p); w != "" && strings.Contains(text, " "+w+" ") {
				return true
			}
		}
	}
	return false
}

// words is text in lower case with every run of other than letters and
// digits one space.
func words(text string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}

// number is the measure, attribute or digits the question reads, as a
// number (and as text, for an attribute); false when the call lacks it.
func (a *Auto) number(rec msg.CallRecord) (float64, string, bool) {
	switch {
	case a.Attribute != "":
		s, ok := rec.Call.Attributes[a.Attribute]
		if !ok {
			return 0, "", false
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil && a.Equals == nil {
			return 0, s, false
		}
		return v, s, true
	case a.DTMF:
		var digits strings.Builder
		for _, d := range rec.DTMF {
			if a.By == "" || d.Leg == a.By {
				digits.WriteString(d.Digit)
			}
		}
		v, err := strconv.ParseFloat(digits.String(), 64)
		return v, digits.String(), err == nil
	}
	by := a.By
	if by == "" {
		by = values[a.Value]
	}
	ch, sent := rec.Characteristics, rec.Sentiment
	switch a.Value {
	case "sentiment", "sentiment_shift", "sentiment_end":
		if sent == nil {
			return 0, "", false
		}
		p, ok := sent.Participants[by]
		if !ok {
			return 0, "", false
		}
		switch a.Value {
		case "sentiment":
			return p.Overall, "", true
		case "sentiment_shift":
			return p.Shift, "", true
		}
		if len(p.Periods) > 0 {
			return p.Periods[len(p.Periods)-1], "", true
		}
		return p.Current, "", true
	case "duration_s":
		return float64(rec.Call.DurationMS) / 1000, "", rec.Call.EndedAt != nil
	}
	if ch == nil {
		return 0, "", false
	}
	switch a.Value {
	case "non_talk_ms":
		return float64(ch.NonTalkMS), "", true
	case "non_talk_share":
		if rec.Call.DurationMS <= 0 {
			return 0, "", false
		}
		return float64(ch.NonTalkMS) / float64(rec.Call.DurationMS), "", true
	case "talk_share":
		total := ch.TalkMS[msg.RoleAgent] + ch.TalkMS[msg.RoleCustomer]
		if total <= 0 {
			return 0, "", false
		}
		return float64(ch.TalkMS[by]) / float64(total), "", true
	case "talk_speed":
		v, ok := ch.TalkSpeedWPM[by]
		return v, "", ok
	case "interruptions":
		n := 0
		for _, in := range ch.Interruptions {
			if in.By == by {
				n++
			}
		}
		return float64(n), "", true
	}
	return 0, "", false
}
