package rules

import (
	"time"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"

	"github.com/earshot-dev/earshot/msg"
)

// RuleSet is a parsed, checked rule file, ready to evaluate. It is
// immutable: a reload builds a new one.
type RuleSet struct {
	// Version is a hash of the text it was built from.
	Version string
	text    []byte
	rules   []*Rule

	patterns []*pattern
	byKey    map[string]*pattern
	// ac finds every anchor (" word word ") in a segment's normalised text
	// at once; anchors[i] are the patterns whose anchor is ac's pattern i.
	ac         ahocorasick.AhoCorasick
	anchors    [][]int32
	unanchored []int32
	// gates[p] are the rules that cannot hold unless pattern p matched;
	// ungated rules are evaluated on every event.
	gates   [][]int32
	ungated []int32
}

// Len is the number of rules.
func (rs *RuleSet) Len() int { return len(rs.rules) }

// Rules lists the rules, in file order.
func (rs *RuleSet) Rules() []*Rule { return rs.rules }

// Text is the rule file the set was built from.
func (rs *RuleSet) Text() []byte { return rs.text }

// Severities of alerts.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Rule is one rule: when its groups all hold, it acts.
type Rule struct {
	ID          string
	Name        string
	Description string
	// Language limits the rule's phrases to segments in this language
	// ("en", "ko"); "" for any.
	Language string
	// PostCall rules are evaluated only once the call has ended.
	PostCall bool
	// Repeat lets the rule fire again on the same call whenever what it
	// matched changes; otherwise it fires once per call.
	Repeat  bool
	Actions Actions
	// Line is where the rule starts in its file.
	Line int

	index  int32
	groups [][]*line // AND of groups, OR of lines
}

// Actions are what a rule does when it holds.
type Actions struct {
	Alert    *AlertAction
	Category string
	Publish  *PublishAction
	Webhook  *WebhookAction
}

// AlertAction raises a live alert.
type AlertAction struct {
	Severity string
	// Message may name {rule}, {matched}, {call}, {agent}, {queue}, {time}
	// and {severity}; empty means "{rule}: {matched}", or "{rule}" when
	// nothing was said to match.
	Message string
}

// PublishAction publishes a msg.RuleEvent on NATS.
type PublishAction struct {
	// Subject defaults to msg.SubjectRuleEvent(call); "{call}" in it is
	// replaced by the call id.
	Subject string
	Data    map[string]string
}

// WebhookAction POSTs a msg.RuleEvent (JSON envelope) to a URL.
type WebhookAction struct {
	URL string
	// Secret signs the body: X-Earshot-Signature: sha256=<hex HMAC-SHA256>.
	// It comes from the environment variable named in the file, never from
	// the file itself.
	Secret    []byte
	SecretEnv string
	Timeout   time.Duration
	Retries   int
	Backoff   time.Duration
	Data      map[string]string
}

// lineKind is what a line tests.
type lineKind uint8

const (
	kWords lineKind = iota
	kNear
	kNotNear
	kQueue
	kAgent
	kAttribute
	kDTMF
	kSentiment
	kNegativeTurns
	kInterruptions
	kNonTalk
)

// isText reports whether the line matches transcript words.
func (k lineKind) isText() bool { return k == kWords || k == kNear || k == kNotNear }

// line is one condition of a group.
type line struct {
	kind lineKind
	not  bool
	by   msg.Role // "" for either side

	// Text lines.
	pats   []int32 // words: the alternatives; near: the first side
	patsB  []int32 // near: the other side
	within int     // near: words between
	first  time.Duration
	last   time.Duration
	after  *afterCond

	// Call lines.
	values  []string // queue, agent, attribute values (any of)
	attr    string
	present bool // attribute: only that it is set
	digits  string

	// Measures.
	below, above *float64
	over         time.Duration // sentiment: trailing window; 0 is the whole call so far
	count        int
	total        time.Duration
	longest      time.Duration
}

// afterCond: the line's words must come within a time after one of these.
type afterCond struct {
	pats   []int32
	by     msg.Role
	within time.Duration
}
