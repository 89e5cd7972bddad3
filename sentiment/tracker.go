package sentiment

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// Contact Lens scores run from -5 to +5.
const maxScore = 5

// TrackerConfig sets how a call's scores are computed; the zero value is
// the default.
type TrackerConfig struct {
	// Window is the trailing window of the current score: a participant's
	// turns that end within Window of their latest turn's end. Default 60 s.
	Window time.Duration
	// MaxStreak caps the weight a streak of same-label turns gives a turn
	// (the n-th turn of a streak weighs min(n, MaxStreak)). Default 3.
	MaxStreak int
	// Periods is how many periods the call is cut into. Default 4 (quarters).
	Periods int
	// LiveTrend is how many of the latest trend points a live (not final)
	// snapshot carries, so that updates stay small in long calls; the final
	// snapshot carries them all. Default 20.
	LiveTrend int
}

func (c *TrackerConfig) validate() error {
	if c.Window < 0 || c.MaxStreak < 0 || c.Periods < 0 || c.LiveTrend < 0 {
		return fmt.Errorf("sentiment: tracker config: window %v, max streak %d, periods %d, live trend %d: none may be negative",
			c.Window, c.MaxStreak, c.Periods, c.LiveTrend)
	}
	if c.LiveTrend == 0 {
		c.LiveTrend = 20
	}
	if c.Window == 0 {
		c.Window = 60 * time.Second
	}
	if c.MaxStreak == 0 {
		c.MaxStreak = 3
	}
	if c.Periods == 0 {
		c.Periods = 4
	}
	return nil
}

// Turn is one scored final segment of a participant.
type Turn struct {
	StartMS, EndMS int64
	Label          string
}

// Tracker keeps one call's labelled turns per participant and computes the
// Contact Lens scores from them. It is not safe for concurrent use.
type Tracker struct {
	cfg   TrackerConfig
	turns map[msg.Role][]Turn // sorted by StartMS
}

// NewTracker returns an empty tracker.
func NewTracker(cfg TrackerConfig) (*Tracker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Tracker{cfg: cfg, turns: map[msg.Role][]Turn{}}, nil
}

// Add records a turn of leg. Turns may arrive in any order.
func (t *Tracker) Add(leg msg.Role, turn Turn) {
	ts := t.turns[leg]
	i := sort.Search(len(ts), func(i int) bool { return ts[i].StartMS > turn.StartMS })
	ts = append(ts, Turn{})
	copy(ts[i+1:], ts[i:])
	ts[i] = turn
	t.turns[leg] = ts
}

// Snapshot returns the call's sentiment at atMS on the call clock. The
// periods cut [0, durationMS) when durationMS > 0 (the call has ended), else
// [0, atMS). A live (not final) snapshot carries the last LiveTrend points
// of each trend.
func (t *Tracker) Snapshot(callID string, atMS, durationMS int64, final bool) msg.CallSentiment {
	cs := msg.CallSentiment{CallID: callID, AtMS: atMS, Final: final, Participants: map[msg.Role]msg.ParticipantSentiment{}}
	span := durationMS
	if span <= 0 {
		span = atMS
	}
	for leg, ts := range t.turns {
		if len(ts) == 0 {
			continue
		}
		span := max(span, ts[len(ts)-1].EndMS, 1)
		ps := t.participant(ts, span)
		if !final && len(ps.Trend) > t.cfg.LiveTrend {
			ps.Trend = ps.Trend[len(ps.Trend)-t.cfg.LiveTrend:]
		}
		cs.Participants[leg] = ps
	}
	return cs
}

func (t *Tracker) participant(ts []Turn, span int64) msg.ParticipantSentiment {
	w := t.weights(ts)
	n := t.cfg.Periods
	sums := make([]float64, n)
	weights := make([]float64, n)
	for i, turn := range ts {
		mid := (turn.StartMS + turn.EndMS) / 2
		p := int(mid * int64(n) / span)
		p = max(0, min(n-1, p))
		sums[p] += value(turn.Label) * w[i]
		weights[p] += w[i]
	}
	ps := msg.ParticipantSentiment{Periods: make([]float64, n), Turns: len(ts)}
	first, last, filled := -1, -1, 0
	for p := range n {
		if weights[p] == 0 {
			continue
		}
		ps.Periods[p] = round2(maxScore * sums[p] / weights[p])
		ps.Overall += ps.Periods[p]
		filled++
		if first < 0 {
			first = p
		}
		last = p
	}
	if filled > 0 {
		ps.Overall = round2(ps.Overall / float64(filled))
		ps.Shift = round2(ps.Periods[last] - ps.Periods[first])
	}
	for i := len(ts) - 1; i >= 0 && ts[i].Label == msg.Negative; i-- {
		ps.ConsecutiveNegative++
	}
	ps.Trend = make([]msg.TrendPoint, len(ts))
	win := t.cfg.Window.Milliseconds()
	lo := 0
	var sum, wsum float64
	for i, turn := range ts {
		sum += value(turn.Label) * w[i]
		wsum += w[i]
		for lo < i && ts[lo].EndMS <= turn.EndMS-win {
			sum -= value(ts[lo].Label) * w[lo]
			wsum -= w[lo]
			lo++
		}
		score := 0.0
		if wsum > 0 {
			score = round2(maxScore * sum / wsum)
		}
		ps.Trend[i] = msg.TrendPoint{AtMS: turn.EndMS, Score: score}
	}
	ps.Current = ps.Trend[len(ts)-1].Score
	return ps
}

// weights gives each turn the weight of its streak: the n-th turn in a row
// with the same label weighs min(n, MaxStreak).
func (t *Tracker) weights(ts []Turn) []float64 {
	w := make([]float64, len(ts))
	run := 0
	for i := range ts {
		if i > 0 && ts[i].Label == ts[i-1].Label {
			run++
		} else {
			run = 1
		}
		w[i] = float64(min(run, t.cfg.MaxStreak))
	}
	return w
}

// value is a label's direction: positive +1, negative -1, neutral and
// mixed 0.
func value(label string) float64 {
	switch label {
	case msg.Positive:
		return 1
	case msg.Negative:
		return -1
	}
	return 0
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
