package msg

import (
	"fmt"
	"strconv"
	"strings"
)

// Survey answer scales (SurveyAnswer.Scale).
const (
	ScaleCSAT = "1-5"  // CSAT: the share of 4 and 5
	ScaleNPS  = "0-10" // NPS: % promoters (9-10) minus % detractors (0-6)
)

// SurveyResult is a call's post-call survey: the answers the customer gave
// (by DTMF, after the agent left), one per question, in the order asked.
// It is published when the survey ends (the call ends or every question
// is answered); a later one for the same call and survey replaces it.
type SurveyResult struct {
	CallID  string         `json:"call_id"`
	Survey  string         `json:"survey"` // the survey's name
	Answers []SurveyAnswer `json:"answers"`
}

// Schema implements Message.
func (SurveyResult) Schema() (string, int) { return "survey", 1 }

// SurveyAnswer is the answer to one question: Value on Scale, given at AtMS
// on the call clock.
type SurveyAnswer struct {
	Question string `json:"question"` // the question's id
	Prompt   string `json:"prompt"`   // what the prompt asks
	Scale    string `json:"scale"`    // ScaleCSAT or ScaleNPS
	Value    int    `json:"value"`
	AtMS     int64  `json:"at_ms"`
}

// ScaleRange returns the lowest and highest answer of a scale, or an error
// naming it when it is not one of ScaleCSAT and ScaleNPS.
func ScaleRange(scale string) (lo, hi int, err error) {
	switch scale {
	case ScaleCSAT:
		return 1, 5, nil
	case ScaleNPS:
		return 0, 10, nil
	}
	return 0, 0, fmt.Errorf("%w: scale %q (want %q or %q)", ErrInvalidField, scale, ScaleCSAT, ScaleNPS)
}

// Validate checks the result's call id and that every answer is on its
// scale, naming what is wrong.
func (r *SurveyResult) Validate() error {
	if err := ValidateCallID(r.CallID); err != nil {
		return fmt.Errorf("survey: %w", err)
	}
	if strings.TrimSpace(r.Survey) == "" {
		return fmt.Errorf("survey %s: %w: no survey name", r.CallID, ErrInvalidField)
	}
	for i, a := range r.Answers {
		lo, hi, err := ScaleRange(a.Scale)
		if err != nil {
			return fmt.Errorf("survey %s: answers[%d]: %w", r.CallID, i, err)
		}
		if a.Question == "" {
			return fmt.Errorf("survey %s: answers[%d]: %w: no question", r.CallID, i, ErrInvalidField)
		}
		if a.Value < lo || a.Value > hi {
			return fmt.Errorf("survey %s: answers[%d] (%s): %w: value %s is not on %s", r.CallID, i, a.Question, ErrInvalidField, strconv.Itoa(a.Value), a.Scale)
		}
	}
	return nil
}
