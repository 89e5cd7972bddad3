package msg

import "time"

// Dashboard steps and groupings (DashboardQuery.Step and GroupBy).
const (
	StepDay  = "day"
	StepWeek = "week"

	GroupAgent   = "agent"
	GroupQueue   = "queue"
	GroupOverall = "overall"
)

// DashboardQuery asks the store for a dashboard's figures: the ended calls
// that started in [From, To), counted in buckets of Step (a day, or a week
// from Monday) on the clock TZOffsetMinutes east of UTC, one row per bucket
// and group (each agent, each queue, or all calls). Agent and Queue, when
// set, keep only that agent's or queue's calls.
type DashboardQuery struct {
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	Step            string    `json:"step"`     // StepDay (default) or StepWeek
	GroupBy         string    `json:"group_by"` // GroupOverall (default), GroupAgent or GroupQueue
	TZOffsetMinutes int       `json:"tz_offset_minutes,omitempty"`
	Agent           string    `json:"agent,omitempty"`
	Queue           string    `json:"queue,omitempty"`
}

// Dashboard is the answer to a DashboardQuery: rows ordered by bucket, then
// group, only where there were calls, and the names of every category and
// alert rule that appears in a row.
type Dashboard struct {
	Query      DashboardQuery `json:"query"`
	Rows       []DashboardRow `json:"rows"`
	Categories []string       `json:"categories"`
	Alerts     []string       `json:"alerts"`
}

// DashboardRow is one bucket of one group. A figure is nil when none of
// the row's calls has what it is computed from (no sentiment, no
// characteristics). Shares are fractions in [0, 1].
type DashboardRow struct {
	Bucket time.Time `json:"bucket"` // the bucket's start
	Group  string    `json:"group"`  // the agent or queue; "" overall
	Calls  int       `json:"calls"`
	// AvgHandleMS is the calls' mean duration.
	AvgHandleMS float64 `json:"avg_handle_ms"`
	// CustomerSentiment and CustomerShift are the mean of the customer's
	// overall score (-5..+5) and of its end-minus-start shift.
	CustomerSentiment *float64 `json:"customer_sentiment"`
	CustomerShift     *float64 `json:"customer_shift"`
	// NonTalkShare is non-talk time over call time, and AgentTalkShare the
	// agent's talk time over both legs' talk time, summed over the calls
	// with characteristics.
	NonTalkShare   *float64 `json:"non_talk_share"`
	AgentTalkShare *float64 `json:"agent_talk_share"`
	// InterruptionsPerCall counts both legs' interruptions,
	// AgentInterruptionsPerCall the agent's, over the calls with
	// characteristics.
	InterruptionsPerCall      *float64 `json:"interruptions_per_call"`
	AgentInterruptionsPerCall *float64 `json:"agent_interruptions_per_call"`
	// AgentTalkSpeedWPM is the mean of the agent's words per minute over
	// the calls that measured it.
	AgentTalkSpeedWPM *float64 `json:"agent_talk_speed_wpm"`
	// Categories and Alerts are the share of the row's calls with each
	// category, and with at least one alert of each rule (by rule name);
	// names with no call in the row are left out.
	Categories map[string]float64 `json:"categories,omitempty"`
	Alerts     map[string]float64 `json:"alerts,omitempty"`
	// CSAT is the share of the answers to 1–5 survey questions that are 4
	// or 5, over CSATAnswers answers; NPS is the percentage of promoters
	// (9–10) minus that of detractors (0–6) among the NPSAnswers answers
	// to 0–10 questions (-100..100). Nil without answers.
	CSAT        *float64 `json:"csat"`
	CSATAnswers int      `json:"csat_answers"`
	NPS         *float64 `json:"nps"`
	NPSAnswers  int      `json:"nps_answers"`
}
