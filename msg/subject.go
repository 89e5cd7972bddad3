package msg

import (
	"fmt"
	"strings"
)

// Subject prefixes and fixed subjects. See the package documentation for
// which message travels on which subject.
const (
	SubjectAnnounce    = "earshot.announce"
	SubjectRulesReload = "earshot.rules.reload"

	// Wildcards, for subscriptions and stream definitions.
	AllCalls       = "earshot.call.>"
	AllAudio       = "earshot.audio.>"
	AllTimeline    = "earshot.timeline.>"
	AllDTMF        = "earshot.dtmf.>"
	AllTranscripts = "earshot.transcript.>"
	AllAnalysis    = "earshot.analysis.>"
	AllAlerts      = "earshot.alert.>"
	AllCategories  = "earshot.category.>"
	AllRuleEvents  = "earshot.event.>"
	AllEvaluations = "earshot.evaluation.>"
	AllRedactions  = "earshot.redaction.>"
	AllStored      = "earshot.stored.>"
	AllSurveys     = "earshot.survey.>"
	AllDeadLetters = "earshot.deadletter.>"
)

// The NATS KV bucket the rules in force live in, and its key: every
// analyze process watches it; the web view's rules page and earshot rules
// push write it. Its value is a RuleChange; its history is the record of
// who put which rules in force when.
const (
	BucketRules     = "EARSHOT_RULES"
	KeyRulesInForce = "in-force"
)

// MaxCallIDLen bounds call ids so subjects and database keys stay small.
const MaxCallIDLen = 128

// ValidateCallID reports whether id can be used as a NATS subject token and a
// database key: 1 to MaxCallIDLen characters of letters, digits, '-', '_', ':', '@' and '+'.
func ValidateCallID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidCallID)
	}
	if len(id) > MaxCallIDLen {
		return fmt.Errorf("%w: %d characters, at most %d", ErrInvalidCallID, len(id), MaxCallIDLen)
	}
	for i, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_:@+", r)
		if !ok {
			return fmt.Errorf("%w: %q has %q at byte %d (allowed: letters, digits, - _ : @ +)", ErrInvalidCallID, id, r, i)
		}
	}
	return nil
}

// SubjectCall is where a call's lifecycle events go.
func SubjectCall(call string) string { return "earshot.call." + call }

// SubjectAudio is where a leg's utterance jobs go.
func SubjectAudio(call string, leg Role) string { return "earshot.audio." + call + "." + string(leg) }

// SubjectTimeline is where a call's talk, silence and overlap spans go.
func SubjectTimeline(call string) string { return "earshot.timeline." + call }

// SubjectDTMF is where a call's DTMF digits go.
func SubjectDTMF(call string) string { return "earshot.dtmf." + call }

// SubjectTranscript is where a call's transcript segments go.
func SubjectTranscript(call string) string { return "earshot.transcript." + call }

// SubjectScoredSegment is where segments with their sentiment go.
func SubjectScoredSegment(call string) string { return "earshot.analysis." + call + ".segment" }

// SubjectCallSentiment is where a call's per-participant sentiment goes.
func SubjectCallSentiment(call string) string { return "earshot.analysis." + call + ".sentiment" }

// SubjectCharacteristics is where a call's conversation characteristics go.
func SubjectCharacteristics(call string) string {
	return "earshot.analysis." + call + ".characteristics"
}

// SubjectAlert is where a call's alerts go.
func SubjectAlert(call string) string { return "earshot.alert." + call }

// SubjectCategories is where a call's categories go.
func SubjectCategories(call string) string { return "earshot.category." + call }

// SubjectRedaction is where a call's AudioRedaction goes.
func SubjectRedaction(call string) string { return "earshot.redaction." + call }

// SubjectSurvey is where a call's post-call survey results go.
func SubjectSurvey(call string) string { return "earshot.survey." + call }

// SubjectEvaluation is where a call's evaluations (scored forms) go.
func SubjectEvaluation(call string) string { return "earshot.evaluation." + call }

// SubjectStored is where the store says it keeps all of a call's analysis.
func SubjectStored(call string) string { return "earshot.stored." + call }

// SubjectRuleEvent is where a rule's "publish" action goes by default.
func SubjectRuleEvent(call string) string { return "earshot.event." + call }

// SubjectDeadLetter is where a stage puts what it gave up on.
func SubjectDeadLetter(stage string) string { return "earshot.deadletter." + stage }

// CallFromSubject returns the call id token of any per-call subject
// (the third token: earshot.<kind>.<call>[...]).
func CallFromSubject(subject string) (string, error) {
	parts := strings.Split(subject, ".")
	if len(parts) < 3 || parts[0] != "earshot" {
		return "", fmt.Errorf("msg: subject %q is not a per-call earshot subject", subject)
	}
	if err := ValidateCallID(parts[2]); err != nil {
		return "", fmt.Errorf("msg: subject %q: %w", subject, err)
	}
	return parts[2], nil
}
