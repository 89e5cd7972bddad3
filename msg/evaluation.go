package msg

import "time"

// Evaluation is a call scored against an evaluation form: each question's
// answer (automatic where the form says how, else left for an analyst) and
// the totals in percent. A total is nil while none of its questions is
// answered.
type Evaluation struct {
	CallID      string `json:"call_id"`
	Form        string `json:"form"`         // the form's id
	FormVersion string `json:"form_version"` // a hash of its text
	// FormRevision is the saved version of the form (1, 2, ...) it was
	// scored with; 0 for a form scored from a file (earshot forms score).
	FormRevision int               `json:"form_revision,omitempty"`
	ScoredAt     time.Time         `json:"scored_at"`
	Score        *float64          `json:"score"` // 0..100
	Sections     []SectionScore    `json:"sections"`
	Answers      []EvaluatedAnswer `json:"answers"`
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

// SavedForm is one saved version of an evaluation form: each save of a
// form's text gets the next version (1, 2, ...). A call is scored with the
// version of each form in force when it ended: the newest saved by then.
type SavedForm struct {
	Form    string    `json:"form"` // the form's id
	Version int       `json:"version"`
	Name    string    `json:"name"`
	Hash    string    `json:"hash"` // a hash of Text (Evaluation.FormVersion)
	Text    string    `json:"text"`
	SavedBy string    `json:"saved_by"`
	SavedAt time.Time `json:"saved_at"`
}

// FormSpec is a saved form as a page shows it beside an evaluation: its
// questions, their text and the answers each allows.
type FormSpec struct {
	Form     string        `json:"form"`
	Version  int           `json:"version"`
	Name     string        `json:"name"`
	Sections []SectionSpec `json:"sections"`
}

// SectionSpec is one section of a FormSpec.
type SectionSpec struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Questions []QuestionSpec `json:"questions"`
}

// QuestionSpec is one question of a FormSpec. Answers lists the values a
// yes/no or choice question allows; a number question allows a number in
// [Min, Max]. Auto says the question is answered automatically.
type QuestionSpec struct {
	ID      string   `json:"id"`
	Text    string   `json:"text"`
	Type    string   `json:"type"` // yes_no, choice, number
	Answers []string `json:"answers,omitempty"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Auto    bool     `json:"auto"`
}

// AnswerChange is an analyst's change to one answer of an evaluation: the
// new value ("" takes the answer back to the automatic one) and why.
type AnswerChange struct {
	Question string `json:"question"`
	Value    string `json:"value"`
	Comment  string `json:"comment"`
}

// RescoreRequest asks to score the ended calls that started in [From, To)
// again with a version of a form (0: the newest). A dry run changes
// nothing and says what would change.
type RescoreRequest struct {
	Form    string    `json:"form"`
	Version int       `json:"version,omitempty"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	DryRun  bool      `json:"dry_run"`
}

// RescoreResult is what a re-scoring did, or would do on a dry run. Calls
// counts the ended calls in range; Changed those whose total would move
// (Scored of them had no total before), Unchanged the rest. Up, Down and
// the deltas (new total minus old, in points) are over the changed calls
// that had a total before and have one after.
type RescoreResult struct {
	Form      string   `json:"form"`
	Version   int      `json:"version"`
	DryRun    bool     `json:"dry_run"`
	Calls     int      `json:"calls"`
	Changed   int      `json:"changed"`
	Scored    int      `json:"scored"`
	Unchanged int      `json:"unchanged"`
	Up        int      `json:"up"`
	Down      int      `json:"down"`
	MeanDelta *float64 `json:"mean_delta"`
	MinDelta  *float64 `json:"min_delta"`
	MaxDelta  *float64 `json:"max_delta"`
	// Examples are some of the changed calls (at most MaxRescoreExamples).
	Examples []RescoreChange `json:"examples"`
}

// MaxRescoreExamples bounds RescoreResult.Examples.
const MaxRescoreExamples = 20

// RescoreChange is one call whose total a re-scoring moves.
type RescoreChange struct {
	CallID string   `json:"call_id"`
	Before *float64 `json:"before"`
	After  *float64 `json:"after"`
}

// CallStored says the store keeps everything of a call's analysis: its
// final categories, and before them every message the analysis published
// for the call. The evaluate stage scores the call on it.
type CallStored struct {
	CallID string `json:"call_id"`
}

// Schema implements Message.
func (CallStored) Schema() (string, int) { return "call-stored", 1 }
