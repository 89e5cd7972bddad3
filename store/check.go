package store

import (
	"fmt"

	"github.com/earshot-dev/earshot/msg"
)

// CheckQuery validates the filters and pagination of q and fills in the
// default limit. Its errors wrap msg.ErrBadQuery and name the field.
func CheckQuery(q *msg.SearchQuery) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", msg.ErrBadQuery, fmt.Sprintf(format, a...))
	}
	switch {
	case q.Limit < 0:
		return bad("limit %d: must not be negative", q.Limit)
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit > MaxLimit:
		q.Limit = MaxLimit
	}
	if q.Offset < 0 || q.Offset > MaxOffset {
		return bad("offset %d: want 0 to %d", q.Offset, MaxOffset)
	}
	if q.Leg != "" && !q.Leg.Valid() {
		return bad("leg %q: want agent, customer, a or b", q.Leg)
	}
	if q.From != nil && q.To != nil && q.To.Before(*q.From) {
		return bad("to %s is before from %s", q.To.Format("2006-01-02T15:04:05Z07:00"), q.From.Format("2006-01-02T15:04:05Z07:00"))
	}
	if q.MinSentiment != nil && q.MaxSentiment != nil && *q.MinSentiment > *q.MaxSentiment {
		return bad("min_sentiment %g is above max_sentiment %g", *q.MinSentiment, *q.MaxSentiment)
	}
	if q.MinShift != nil && q.MaxShift != nil && *q.MinShift > *q.MaxShift {
		return bad("min_shift %g is above max_shift %g", *q.MinShift, *q.MaxShift)
	}
	for name, v := range map[string]*float64{"min_score": q.MinScore, "max_score": q.MaxScore} {
		if v != nil && (*v < 0 || *v > 100) {
			return bad("%s %g: want 0 to 100", name, *v)
		}
	}
	if q.MinScore != nil && q.MaxScore != nil && *q.MinScore > *q.MaxScore {
		return bad("min_score %g is above max_score %g", *q.MinScore, *q.MaxScore)
	}
	if q.CSAT != nil && (*q.CSAT < 1 || *q.CSAT > 5) {
		return bad("csat %d: want 1 to 5", *q.CSAT)
	}
	if q.MinNonTalkMS < 0 {
		return bad("min_non_talk_ms %d: must not be negative", q.MinNonTalkMS)
	}
	if len(q.Text) > MaxQueryLen {
		return bad("query is %d bytes long, at most %d", len(q.Text), MaxQueryLen)
	}
	return nil
}
