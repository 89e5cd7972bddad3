package msg

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role says who is speaking on a leg. Declared calls have agent and customer
// legs; undeclared calls have legs a and b unless an agent network says which
// side is the agent.
type Role string

// The leg roles.
const (
	RoleAgent    Role = "agent"
	RoleCustomer Role = "customer"
	RoleA        Role = "a"
	RoleB        Role = "b"
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAgent, RoleCustomer, RoleA, RoleB:
		return true
	}
	return false
}

// MaxJobDuration caps one utterance job: whisper's window.
const MaxJobDuration = 30 * time.Second

// SampleRate is the sample rate of utterance audio (G.711 narrowband).
const SampleRate = 8000

// LegSpec declares one leg of an announced call. An RTP leg is recognised
// by its SSRC, or by its source address (ip:port) when SSRC is zero; a leg
// that comes by another intake by the id it gives itself there: an
// AudioSocket connection's UUID (its text form, any case).
type LegSpec struct {
	Role   Role   `json:"role"`
	SSRC   uint32 `json:"ssrc,omitempty"`
	Source string `json:"source,omitempty"`
	ID     string `json:"id,omitempty"`
}

// MaxLegIDLen bounds LegSpec.ID.
const MaxLegIDLen = 64

// CallAnnounce declares a call before (or while) its RTP arrives, or ends it.
// It is accepted as a NATS request on SubjectAnnounce and over HTTP.
type CallAnnounce struct {
	CallID     string            `json:"call_id"`
	Agent      string            `json:"agent,omitempty"`
	Queue      string            `json:"queue,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Legs       []LegSpec         `json:"legs,omitempty"`
	// End ends the call instead of declaring it.
	End bool `json:"end,omitempty"`
	// Hold, when set, puts a call that is going on on hold (true) or takes
	// it off hold (false), as the PBX knows it; such an announce needs no
	// legs and changes nothing else.
	Hold *bool `json:"hold,omitempty"`
	// Survey, when set, says the post-call survey of that name (configured
	// in capture) started on a call that is going on: the customer's DTMF
	// digits from now on are its answers. Such an announce needs no legs.
	Survey string `json:"survey,omitempty"`
}

// Schema implements Message.
func (CallAnnounce) Schema() (string, int) { return "announce", 1 }

// Validate reports the first missing or wrong field.
func (a *CallAnnounce) Validate() error {
	if err := ValidateCallID(a.CallID); err != nil {
		return fmt.Errorf("announce: call_id: %w", err)
	}
	if a.End || (a.Hold != nil || a.Survey != "") && len(a.Legs) == 0 {
		return nil
	}
	if len(a.Legs) == 0 {
		return fmt.Errorf("announce %s: %w: legs: at least one leg is required", a.CallID, ErrInvalidField)
	}
	seen := map[Role]bool{}
	for i, l := range a.Legs {
		if !l.Role.Valid() {
			return fmt.Errorf("announce %s: %w: legs[%d].role %q (want agent, customer, a or b)", a.CallID, ErrInvalidField, i, l.Role)
		}
		if seen[l.Role] {
			return fmt.Errorf("announce %s: %w: legs[%d].role %q given twice", a.CallID, ErrInvalidField, i, l.Role)
		}
		seen[l.Role] = true
		if l.SSRC == 0 && l.Source == "" && l.ID == "" {
			return fmt.Errorf("announce %s: %w: legs[%d] needs ssrc, source or id", a.CallID, ErrInvalidField, i)
		}
		if len(l.ID) > MaxLegIDLen || strings.ContainsFunc(l.ID, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return fmt.Errorf("announce %s: %w: legs[%d].id: up to %d printable ASCII characters, no spaces", a.CallID, ErrInvalidField, i, MaxLegIDLen)
		}
	}
	return nil
}

// AnnounceReply answers a CallAnnounce request.
type AnnounceReply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Schema implements Message.
func (AnnounceReply) Schema() (string, int) { return "announce-reply", 1 }

// CallEventKind is a step in a call's life.
type CallEventKind string

// The call event kinds.
const (
	CallStarted CallEventKind = "started"
	CallUpdated CallEventKind = "updated"
	CallEnded   CallEventKind = "ended"
)

// Why a call ended.
const (
	EndAnnounce = "announce"
	EndBye      = "rtcp-bye"
	EndTimeout  = "timeout"
	EndShutdown = "shutdown"
	// EndHangup: the intake that brought the call said it is over (a
	// WebSocket stop, an AudioSocket hangup, a SIP BYE) or its connection
	// closed.
	EndHangup = "hangup"
)

// The intakes a call can come by (CallEvent.Intake).
const (
	IntakeRTP         = "rtp"         // an RTP fork to capture's UDP ports
	IntakeMediaStream = "mediastream" // a WebSocket media stream (Twilio's message set)
	IntakeAudioSocket = "audiosocket" // Asterisk AudioSocket over TCP
	IntakeSIPREC      = "siprec"      // a SIPREC session (RFC 7866)
)

// LegInfo describes a leg as capture sees it.
type LegInfo struct {
	Role   Role   `json:"role"`
	SSRC   uint32 `json:"ssrc,omitempty"`
	Source string `json:"source,omitempty"`
	Codec  string `json:"codec,omitempty"` // PCMU or PCMA
}

// StreamStats counts one RTP stream's packets.
type StreamStats struct {
	Leg       Role   `json:"leg"`
	SSRC      uint32 `json:"ssrc"`
	Received  uint64 `json:"received"`
	Lost      uint64 `json:"lost"`
	Late      uint64 `json:"late"`
	Duplicate uint64 `json:"duplicate"`
	Reordered uint64 `json:"reordered"`
	Refused   uint64 `json:"refused"` // malformed or of a payload type not taken
	// JitterMS is the stream's RFC 3550 interarrival jitter and BufferMS
	// its jitter buffer's delay (the longest it held packets behind a
	// missing one before giving that one up), as they stood at the end.
	JitterMS int64 `json:"jitter_ms,omitempty"`
	BufferMS int64 `json:"buffer_ms,omitempty"`
}

// CallEvent is a call's start, a change to what is known of it, or its end.
type CallEvent struct {
	CallID     string            `json:"call_id"`
	Kind       CallEventKind     `json:"kind"`
	Time       time.Time         `json:"time"`       // wall clock of the event
	StartedAt  time.Time         `json:"started_at"` // wall clock of the call clock's zero
	Agent      string            `json:"agent,omitempty"`
	Queue      string            `json:"queue,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Legs       []LegInfo         `json:"legs,omitempty"`
	// Intake is how the call's audio comes in (IntakeRTP, ...).
	Intake string `json:"intake,omitempty"`
	// On ended events:
	DurationMS int64         `json:"duration_ms,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	FinalJobs  map[Role]int  `json:"final_jobs,omitempty"` // final utterance jobs published per leg
	Streams    []StreamStats `json:"streams,omitempty"`
}

// Schema implements Message.
func (CallEvent) Schema() (string, int) { return "call", 1 }

// UtteranceJob is one leg's speech to transcribe: a finished turn (or a part
// of one, at most MaxJobDuration), or, when Interim, the audio so far of a
// turn still going on. It is self-contained: a worker needs nothing else.
type UtteranceJob struct {
	CallID     string  `json:"call_id"`
	Leg        Role    `json:"leg"`
	Turn       int     `json:"turn"`    // per leg, from 1
	Part       int     `json:"part"`    // within a turn longer than MaxJobDuration, from 0
	Interim    bool    `json:"interim"` // audio so far of an unfinished turn part
	Rev        int     `json:"rev"`     // interim revision within the part, from 1; 0 on finals
	StartMS    int64   `json:"start_ms"`
	EndMS      int64   `json:"end_ms"`
	SampleRate int     `json:"sample_rate"`
	Language   string  `json:"language,omitempty"` // hint, e.g. "en", "ko"; empty: detect
	PCM        []int16 `json:"-"`
}

// ID names the job's turn part, the same for its interims and its final:
// "<call>/<leg>/<turn>/<part>".
func (j *UtteranceJob) ID() string {
	return fmt.Sprintf("%s/%s/%d/%d", j.CallID, j.Leg, j.Turn, j.Part)
}

// MsgID is the job's Nats-Msg-Id: one per final job and per interim
// revision, so the work queue stores a job whose publish was retried once.
func (j *UtteranceJob) MsgID() string {
	if j.Interim {
		return fmt.Sprintf("job/%s/interim/%d", j.ID(), j.Rev)
	}
	return "job/" + j.ID() + "/final"
}

// Word is one recognised word with its timing on the call clock.
type Word struct {
	Text       string  `json:"text"`
	StartMS    int64   `json:"start_ms"`
	EndMS      int64   `json:"end_ms"`
	Confidence float64 `json:"confidence"`
	// Redacted marks, in a stored segment, a word that was (part of) a
	// masked entity: its Text is empty and its time is silenced in the
	// redacted recording.
	Redacted bool `json:"redacted,omitempty"`
}

// Segment is the text of one utterance job.
type Segment struct {
	ID         string  `json:"id"` // the job's ID(): interims and the final of a part share it
	CallID     string  `json:"call_id"`
	Leg        Role    `json:"leg"`
	Turn       int     `json:"turn"`
	Part       int     `json:"part"`
	Interim    bool    `json:"interim"`
	Rev        int     `json:"rev,omitempty"`
	StartMS    int64   `json:"start_ms"`
	EndMS      int64   `json:"end_ms"`
	Text       string  `json:"text"`
	Language   string  `json:"language,omitempty"`
	Words      []Word  `json:"words,omitempty"`
	Confidence float64 `json:"confidence,omitempty"`
	Engine     string  `json:"engine,omitempty"`
	Model      string  `json:"model,omitempty"`
	// Dropped says why a final has no text although it had audio
	// ("silence", "hallucination").
	Dropped string `json:"dropped,omitempty"`
	// Error is set when the job failed for good; the job is dead-lettered.
	Error string `json:"error,omitempty"`
}

// Schema implements Message.
func (Segment) Schema() (string, int) { return "segment", 1 }

// TimelineKind is the kind of a timeline span.
type TimelineKind string

// The timeline span kinds.
const (
	SpanTalk    TimelineKind = "talk"    // one leg speaking (Leg)
	SpanSilence TimelineKind = "silence" // neither leg speaking
	SpanOverlap TimelineKind = "overlap" // Leg started speaking while Other was: Leg interrupted Other
	SpanHold    TimelineKind = "hold"    // the call was on hold (announced by the PBX)
)

// TimelineEvent is a finished span of a call's timeline, from both legs'
// voice activity, or (Open) a silence or hold that has begun.
type TimelineEvent struct {
	CallID  string       `json:"call_id"`
	Kind    TimelineKind `json:"kind"`
	Leg     Role         `json:"leg,omitempty"`
	Other   Role         `json:"other,omitempty"`
	StartMS int64        `json:"start_ms"`
	EndMS   int64        `json:"end_ms"`
	// LoudnessDBFS is the mean level of a talk span, in dBFS.
	LoudnessDBFS float64 `json:"loudness_dbfs,omitempty"`
	// Open says a silence or hold began at StartMS and is still going on
	// at EndMS (the call clock when it was published). The finished span
	// of the same kind and start closes it, as does the call's end.
	Open bool `json:"open,omitempty"`
}

// OpenSpan is non-talk time still going on: a hold or a silence that
// began at StartMS. At call-clock time now it is the span [StartMS, now]
// once that is longer than AfterMS (a silence is non-talk time only past
// a minimum; a hold at once).
type OpenSpan struct {
	Kind    TimelineKind `json:"kind"`
	StartMS int64        `json:"start_ms"`
	AfterMS int64        `json:"after_ms,omitempty"`
}

// Schema implements Message.
func (TimelineEvent) Schema() (string, int) { return "timeline", 1 }

// DTMFEvent is a telephone-event digit (RFC 4733) pressed on a leg.
type DTMFEvent struct {
	CallID     string `json:"call_id"`
	Leg        Role   `json:"leg"`
	Digit      string `json:"digit"` // 0-9, *, #, A-D
	StartMS    int64  `json:"start_ms"`
	DurationMS int64  `json:"duration_ms"`
}

// Schema implements Message.
func (DTMFEvent) Schema() (string, int) { return "dtmf", 1 }

// Sentiment labels.
const (
	Positive = "positive"
	Negative = "negative"
	Neutral  = "neutral"
	Mixed    = "mixed"
)

// Sentiment is one text's score.
type Sentiment struct {
	Label    string  `json:"label"`
	Compound float64 `json:"compound"` // -1..+1
	Pos      float64 `json:"pos"`
	Neg      float64 `json:"neg"`
	Neu      float64 `json:"neu"`
	// Language is the language whose model scored the text (the segment's,
	// or found from the text's script when the segment has none).
	Language string `json:"language,omitempty"`
	// Unscored says why the text got no score of its own (a language with
	// no model); the label is then neutral.
	Unscored string `json:"unscored,omitempty"`
}

// ScoredSegment is a final segment with its sentiment.
type ScoredSegment struct {
	Segment   Segment   `json:"segment"`
	Sentiment Sentiment `json:"sentiment"`
}

// Schema implements Message.
func (ScoredSegment) Schema() (string, int) { return "scored-segment", 1 }

// ParticipantSentiment is one participant's Contact Lens scores, each -5..+5.
type ParticipantSentiment struct {
	Overall float64   `json:"overall"`           // mean of the periods so far
	Periods []float64 `json:"periods,omitempty"` // the call's quarters (final) or so far
	Current float64   `json:"current"`           // trailing window
	Shift   float64   `json:"shift"`             // end minus start
	Turns   int       `json:"turns"`
	// ConsecutiveNegative counts the negative turns at the end so far.
	ConsecutiveNegative int          `json:"consecutive_negative"`
	Trend               []TrendPoint `json:"trend,omitempty"`
}

// TrendPoint is one participant's score after a turn.
type TrendPoint struct {
	AtMS  int64   `json:"at_ms"`
	Score float64 `json:"score"`
}

// CallSentiment is a call's sentiment per participant, after each final
// segment and once more, Final, when the call's transcript is complete.
type CallSentiment struct {
	CallID       string                        `json:"call_id"`
	AtMS         int64                         `json:"at_ms"`
	Final        bool                          `json:"final"`
	Participants map[Role]ParticipantSentiment `json:"participants"`
}

// Schema implements Message.
func (CallSentiment) Schema() (string, int) { return "call-sentiment", 1 }

// Span is a stretch of the call clock.
type Span struct {
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

// Interruption is one leg starting to speak over the other.
type Interruption struct {
	By      Role  `json:"by"`
	Of      Role  `json:"of"`
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

// Characteristics are a call's conversation characteristics, as Contact
// Lens defines them, so far (or Final, for the whole call).
type Characteristics struct {
	CallID    string         `json:"call_id"`
	AtMS      int64          `json:"at_ms"`
	Final     bool           `json:"final"`
	TalkMS    map[Role]int64 `json:"talk_ms"`
	NonTalkMS int64          `json:"non_talk_ms"` // hold and silences, counted once where they overlap
	NonTalk   []Span         `json:"non_talk,omitempty"`
	// Open is the non-talk time still going on at AtMS, not in NonTalk
	// or NonTalkMS: NonTalkAt counts it at any later time.
	Open   []OpenSpan `json:"open,omitempty"`
	HoldMS int64      `json:"hold_ms,omitempty"`
	// Holds are the hold spans, in time order (the call view draws them).
	Holds         []Span         `json:"holds,omitempty"`
	Interruptions []Interruption `json:"interruptions,omitempty"`
	// TalkSpeedWPM is words per minute: space-separated words, so for
	// Korean, eojeol (a word with its particles and endings).
	TalkSpeedWPM map[Role]float64 `json:"talk_speed_wpm,omitempty"`
	// TalkSpeedSPM is Hangul syllables per minute over the turns with
	// Hangul (Korean's measure of speech rate; about 2.5 syllables per
	// eojeol).
	TalkSpeedSPM map[Role]float64 `json:"talk_speed_spm,omitempty"`
	LoudnessDBFS map[Role]float64 `json:"loudness_dbfs,omitempty"`
	// Turns is each talk span's loudness: loudness per turn.
	Turns []TurnLoudness `json:"turns,omitempty"`
}

// NonTalkAt returns the longest non-talk span and the non-talk time in
// all at call-clock time nowMS: NonTalk with the open spans that count by
// then, each up to nowMS, counted once where they overlap.
func (c *Characteristics) NonTalkAt(nowMS int64) (longest, total int64) {
	if len(c.Open) == 0 {
		for _, s := range c.NonTalk {
			longest = max(longest, s.EndMS-s.StartMS)
		}
		return longest, c.NonTalkMS
	}
	spans := append([]Span(nil), c.NonTalk...)
	for _, o := range c.Open {
		if nowMS-o.StartMS > o.AfterMS {
			spans = append(spans, Span{StartMS: o.StartMS, EndMS: nowMS})
		}
	}
	slices.SortFunc(spans, func(a, b Span) int { return cmp.Compare(a.StartMS, b.StartMS) })
	var cur Span
	for i, s := range spans {
		if i > 0 && s.StartMS <= cur.EndMS {
			cur.EndMS = max(cur.EndMS, s.EndMS)
			continue
		}
		if i > 0 {
			longest, total = max(longest, cur.EndMS-cur.StartMS), total+cur.EndMS-cur.StartMS
		}
		cur = s
	}
	if len(spans) > 0 {
		longest, total = max(longest, cur.EndMS-cur.StartMS), total+cur.EndMS-cur.StartMS
	}
	return longest, total
}

// TurnLoudness is the mean level of one leg's talk span.
type TurnLoudness struct {
	Leg          Role    `json:"leg"`
	StartMS      int64   `json:"start_ms"`
	EndMS        int64   `json:"end_ms"`
	LoudnessDBFS float64 `json:"loudness_dbfs"`
}

// Schema implements Message.
func (Characteristics) Schema() (string, int) { return "characteristics", 1 }

// Match is a span of transcript a rule matched.
type Match struct {
	SegmentID string `json:"segment_id,omitempty"`
	Leg       Role   `json:"leg,omitempty"`
	Text      string `json:"text"`
	StartMS   int64  `json:"start_ms"`
	EndMS     int64  `json:"end_ms"`
}

// Alert is raised by a rule while the call goes on (or after it ends).
// Message and the matches' Text are redacted; see "Redaction" in the
// package doc.
type Alert struct {
	ID       string    `json:"id"` // unique per rule, call and firing
	CallID   string    `json:"call_id"`
	RuleID   string    `json:"rule_id"`
	RuleName string    `json:"rule_name"`
	Severity string    `json:"severity"` // info, warning, critical
	Message  string    `json:"message"`
	Matches  []Match   `json:"matches,omitempty"`
	AtMS     int64     `json:"at_ms"`
	Time     time.Time `json:"time"`
	PostCall bool      `json:"post_call,omitempty"`
	// Original is the message and match text before redaction, set only
	// when redaction changed something, for readers allowed to see
	// originals (admins). Whoever shows an alert to anyone else drops it.
	Original *AlertOriginal `json:"original,omitempty"`
}

// AlertOriginal is an alert's text before redaction.
type AlertOriginal struct {
	Message string `json:"message"`
	// Matches are the matches' Text, in the order of Alert.Matches.
	Matches []string `json:"matches,omitempty"`
}

// Schema implements Message.
func (Alert) Schema() (string, int) { return "alert", 1 }

// Category is a label a rule put on a call.
type Category struct {
	Name    string  `json:"name"`
	RuleID  string  `json:"rule_id"`
	Matches []Match `json:"matches,omitempty"`
}

// Categories are the categories a call has so far, or Final when the call ended.
type Categories struct {
	CallID     string     `json:"call_id"`
	Final      bool       `json:"final"`
	Categories []Category `json:"categories"`
}

// Schema implements Message.
func (Categories) Schema() (string, int) { return "categories", 1 }

// RuleEvent is what a rule's publish action sends.
type RuleEvent struct {
	CallID  string            `json:"call_id"`
	RuleID  string            `json:"rule_id"`
	AtMS    int64             `json:"at_ms"`
	Matches []Match           `json:"matches,omitempty"`
	Data    map[string]string `json:"data,omitempty"`
}

// Schema implements Message.
func (RuleEvent) Schema() (string, int) { return "rule-event", 1 }

// DeadLetter records what a stage gave up on, and why.
type DeadLetter struct {
	Stage      string    `json:"stage"`
	Subject    string    `json:"subject"`
	Reason     string    `json:"reason"`
	Deliveries int       `json:"deliveries"`
	Time       time.Time `json:"time"`
	Payload    []byte    `json:"payload,omitempty"`
	// MsgID is the message's Nats-Msg-Id, if it had one: a replay
	// publishes it again with the same id.
	MsgID string `json:"msg_id,omitempty"`
}

// Schema implements Message.
func (DeadLetter) Schema() (string, int) { return "deadletter", 1 }

// RulesReloadReply answers a request on SubjectRulesReload.
type RulesReloadReply struct {
	OK      bool   `json:"ok"`
	Rules   int    `json:"rules"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Schema implements Message.
func (RulesReloadReply) Schema() (string, int) { return "rules-reload-reply", 1 }

// AudioRedaction is what a call's redacted recording masks, on the call
// clock and not yet padded: every word the store redacted in the call's
// final text (from the word timings) and every DTMF digit pressed, sorted
// and merged. The store publishes it once the call's final analysis and
// every segment before it are committed; the recorder's side masks the
// recording with it, in whichever process records.
type AudioRedaction struct {
	CallID string `json:"call_id"`
	Spans  []Span `json:"spans,omitempty"`
}

// Schema implements Message.
func (AudioRedaction) Schema() (string, int) { return "audio-redaction", 1 }
