package msg

import "time"

// The types below are the vocabulary of the store's read side: what the
// HTTP API returns, what the web view shows and what a rule dry run reads.
// They travel over HTTP as plain JSON (no envelope).

// CallSummary is one call as lists and search results show it.
type CallSummary struct {
	CallID     string            `json:"call_id"`
	Agent      string            `json:"agent,omitempty"`
	Queue      string            `json:"queue,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Legs       []LegInfo         `json:"legs,omitempty"`
	StartedAt  time.Time         `json:"started_at"`
	EndedAt    *time.Time        `json:"ended_at,omitempty"` // nil while the call goes on
	DurationMS int64             `json:"duration_ms"`
	EndReason  string            `json:"end_reason,omitempty"`
	// Sentiment is each participant's overall score (-5..+5) and Shift its
	// end-minus-start change.
	Sentiment  map[Role]float64 `json:"sentiment,omitempty"`
	Shift      map[Role]float64 `json:"shift,omitempty"`
	NonTalkMS  int64            `json:"non_talk_ms"`
	Categories []string         `json:"categories,omitempty"`
	AlertCount int              `json:"alert_count"`
}

// StoredSegment is a final segment as kept: its text redacted, its
// sentiment, and the original text only for a reader allowed to see it.
type StoredSegment struct {
	Segment
	Sentiment *Sentiment `json:"sentiment,omitempty"`
	// Original is the unredacted text, set only when the redaction policy
	// keeps it and the reader may see it.
	Original string `json:"original,omitempty"`
}

// CallRecord is everything kept about one call.
type CallRecord struct {
	Call            CallSummary      `json:"call"`
	Segments        []StoredSegment  `json:"segments"`
	Alerts          []Alert          `json:"alerts,omitempty"`
	Categories      []Category       `json:"categories,omitempty"`
	Sentiment       *CallSentiment   `json:"sentiment,omitempty"`
	Characteristics *Characteristics `json:"characteristics,omitempty"`
	DTMF            []DTMFEvent      `json:"dtmf,omitempty"`
	// Evaluations are the call's scored forms, one per form.
	Evaluations []Evaluation `json:"evaluations,omitempty"`
	// Surveys are the call's post-call survey answers, one result per survey.
	Surveys []SurveyResult `json:"surveys,omitempty"`
}

// SearchQuery is a search over past (and live) calls. Text is in the query
// syntax (words, "quoted phrases", AND/OR/NOT, prefix*); every filter is
// optional and they all must hold.
type SearchQuery struct {
	Text         string            `json:"q,omitempty"`
	Agent        string            `json:"agent,omitempty"`
	Queue        string            `json:"queue,omitempty"`
	From         *time.Time        `json:"from,omitempty"`
	To           *time.Time        `json:"to,omitempty"`
	Leg          Role              `json:"leg,omitempty"` // who said the words
	MinSentiment *float64          `json:"min_sentiment,omitempty"`
	MaxSentiment *float64          `json:"max_sentiment,omitempty"`
	MinShift     *float64          `json:"min_shift,omitempty"`
	MaxShift     *float64          `json:"max_shift,omitempty"`
	Category     string            `json:"category,omitempty"`
	HasAlert     *bool             `json:"has_alert,omitempty"`
	MinNonTalkMS int64             `json:"min_non_talk_ms,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
	// MinScore and MaxScore keep the calls with an evaluation whose
	// total (0..100) is in range; Answers those with an evaluation that
	// answered each question (by id) with the value.
	MinScore *float64          `json:"min_score,omitempty"`
	MaxScore *float64          `json:"max_score,omitempty"`
	Answers  map[string]string `json:"answers,omitempty"`
	// CSAT keeps the calls whose customer answered a 1-5 survey question
	// with this value.
	CSAT   *int `json:"csat,omitempty"`
	Limit  int  `json:"limit,omitempty"`  // default 20, at most 100
	Offset int  `json:"offset,omitempty"` // for pagination
}

// SearchResults is one page of results, best first.
type SearchResults struct {
	Total int         `json:"total"`
	Hits  []SearchHit `json:"hits"`
}

// SearchHit is one call that matched, with where.
type SearchHit struct {
	Call     CallSummary `json:"call"`
	Score    float64     `json:"score"`
	Snippets []Snippet   `json:"snippets,omitempty"`
}

// Snippet is a piece of a matching segment. Highlights are byte offsets
// [start, end) into Text of the matched words; Text is plain (redacted)
// text, never markup, so a viewer escapes it and marks the ranges itself.
type Snippet struct {
	SegmentID  string   `json:"segment_id"`
	Leg        Role     `json:"leg"`
	StartMS    int64    `json:"start_ms"`
	Text       string   `json:"text"`
	Highlights [][2]int `json:"highlights,omitempty"`
}

// Problem is one error in a user's input (a rule file, a search query),
// with where it is: 1-based line and column (column 0 when unknown).
type Problem struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// DryRunMatch is a call a rule would have matched, with the spans.
type DryRunMatch struct {
	CallID   string  `json:"call_id"`
	RuleID   string  `json:"rule_id"`
	RuleName string  `json:"rule_name"`
	Matches  []Match `json:"matches,omitempty"`
}

// RuleChange is one activation of a rule set: who, when, and what.
type RuleChange struct {
	Version string    `json:"version"` // content hash of Text
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Rules   int       `json:"rules"`
	Text    string    `json:"text"`
}

// Schema implements Message: a RuleChange is the value of the rules in
// force in the BucketRules bucket.
func (RuleChange) Schema() (string, int) { return "rule-change", 1 }
