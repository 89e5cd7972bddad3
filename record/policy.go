package record

import "fmt"

// Policy says which recordings are kept, matching the text's redaction
// policy.
type Policy string

const (
	// PolicyNone keeps no recording.
	PolicyNone Policy = "none"
	// PolicyRedacted keeps the redacted recording only.
	PolicyRedacted Policy = "redacted"
	// PolicyRedactedAndOriginal keeps the original too, for admins.
	PolicyRedactedAndOriginal Policy = "redacted-and-original"
)

// ParsePolicy reads a --record value; "" is PolicyRedacted.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case "":
		return PolicyRedacted, nil
	case PolicyNone, PolicyRedacted, PolicyRedactedAndOriginal:
		return p, nil
	}
	return "", fmt.Errorf("record policy %q: want none, redacted or redacted-and-original", s)
}
