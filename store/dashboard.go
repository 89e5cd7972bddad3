package store

import (
	"fmt"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// MaxDashboardBuckets bounds the buckets of one dashboard query (over a
// year of days).
const MaxDashboardBuckets = 400

// Buckets is how a dashboard query cuts time: bucket k of a time t (in Unix
// milliseconds) is (t + Shift) / Width, and it starts at k*Width - Shift.
// Shift puts the buckets' edges at midnight (a week's on Monday) on the
// query's clock.
type Buckets struct {
	Width, Shift int64
}

// Start is the start of bucket k.
func (b Buckets) Start(k int64) time.Time { return time.UnixMilli(k*b.Width - b.Shift).UTC() }

const dayMS = int64(24 * time.Hour / time.Millisecond)

// CheckDashboardQuery fills q's defaults (a day step, one overall group)
// and returns its buckets, or an error wrapping msg.ErrBadQuery that names
// what is wrong.
func CheckDashboardQuery(q *msg.DashboardQuery) (Buckets, error) {
	bad := func(format string, a ...any) (Buckets, error) {
		return Buckets{}, fmt.Errorf("%w: dashboard: %s", msg.ErrBadQuery, fmt.Sprintf(format, a...))
	}
	if q.Step == "" {
		q.Step = msg.StepDay
	}
	if q.GroupBy == "" {
		q.GroupBy = msg.GroupOverall
	}
	b := Buckets{Width: dayMS, Shift: int64(q.TZOffsetMinutes) * 60000}
	switch q.Step {
	case msg.StepDay:
	case msg.StepWeek:
		// 1970-01-01 was a Thursday: move Mondays onto multiples of a week.
		b.Width, b.Shift = 7*dayMS, b.Shift+3*dayMS
	default:
		return bad("step %q: want %q or %q", q.Step, msg.StepDay, msg.StepWeek)
	}
	switch q.GroupBy {
	case msg.GroupOverall, msg.GroupAgent, msg.GroupQueue:
	default:
		return bad("group_by %q: want %q, %q or %q", q.GroupBy, msg.GroupOverall, msg.GroupAgent, msg.GroupQueue)
	}
	if q.TZOffsetMinutes < -14*60 || q.TZOffsetMinutes > 14*60 {
		return bad("tz_offset_minutes %d: want -840 to 840", q.TZOffsetMinutes)
	}
	if q.From.IsZero() || q.To.IsZero() {
		return bad("from and to are both needed")
	}
	if !q.From.Before(q.To) {
		return bad("from %s is not before to %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if q.From.UnixMilli()+b.Shift < 0 {
		return bad("from %s is before 1970", q.From.Format(time.RFC3339))
	}
	first := (q.From.UnixMilli() + b.Shift) / b.Width
	last := (q.To.UnixMilli() - 1 + b.Shift) / b.Width
	if n := last - first + 1; n > MaxDashboardBuckets {
		return bad("%d buckets of a %s from %s to %s, at most %d: take a longer step or a shorter range",
			n, q.Step, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), MaxDashboardBuckets)
	}
	return b, nil
}
