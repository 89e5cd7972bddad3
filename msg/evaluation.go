package msg

import "time"

// Evaluation is a call scored against an evaluation form: each question's
// answer (automatic where the form says how, else left for an analyst) and
// the totals in percent. A total is nil while none of its questions is
// answered.
type Evaluation struct {
	CallID      string            `json:"call_id"`
	Form        string            `json:"form"`         // the form's id
	FormVersion string            `json:"form_version"` // a hash of its text
	ScoredAt    time.Time         `json:"scored_at"`
	Score       *float64          `json:"score"` // 0..100
	Sections    []SectionScore    `json:"sections"`
	Answers     []EvaluatedAnswer `json:"answers"`
}

// Schema implements Message.
func (Evaluation) Schema() (string, int) { return "evaluation", 1 }

// SectionScore is one section's total.
type SectionScore struct {
	ID    string   `json:"id"`
	Score *float64 `json:"score"` // 0..100
}

// EvaluatedAnswer is one question's answer. Value is "yes" or "no", a
// choice's text, or a number written in decimal; empty when unanswered.
// Auto is the automatic answer, kept when an analyst changes Value (By,
// At and Comment then say who, when and why).
type EvaluatedAnswer struct {
	Question string `json:"question"`
	Section  string `json:"section"`
	Value    string `json:"value,omitempty"`
	Auto     string `json:"auto,omitempty"`
	// Score is the answer's share of the question's best score, 0..1;
	// nil when unanswered.
	Score   *float64   `json:"score"`
	By      string     `json:"by,omitempty"`
	At      *time.Time `json:"at,omitempty"`
	Comment string     `json:"comment,omitempty"`
}
