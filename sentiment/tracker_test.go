package sentiment

import (
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

func TestTrackerScores(t *testing.T) {
	tr, err := NewTracker(TrackerConfig{Window: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	A, C := msg.RoleAgent, msg.RoleCustomer
	// A 40 s call. Customer: negative x3 in the first quarter, neutral in
	// the second, positive x2 in the last. Agent: positive throughout.
	for _, tu := range []struct {
		leg        msg.Role
		start, end int64
		label      string
	}{
		{C, 0, 2000, msg.Negative},
		{C, 3000, 5000, msg.Negative},
		{C, 6000, 8000, msg.Negative},
		{C, 11000, 13000, msg.Neutral},
		{C, 35000, 36000, msg.Positive}, // out of order
		{C, 31000, 33000, msg.Positive},
		{A, 8000, 10000, msg.Positive},
		{A, 25000, 27000, msg.Mixed},
	} {
		tr.Add(tu.leg, Turn{StartMS: tu.start, EndMS: tu.end, Label: tu.label})
	}
	cs := tr.Snapshot("c1", 40000, 40000, true)
	c := cs.Participants[C]
	want := []float64{-5, 0, 0, 5}
	for i := range want {
		if c.Periods[i] != want[i] {
			t.Errorf("customer periods %v, want %v", c.Periods, want)
			break
		}
	}
	// Overall: mean of the periods with turns: (-5 + 0 + 5) / 3.
	if c.Overall != 0 || c.Shift != 10 || c.Turns != 6 || c.ConsecutiveNegative != 0 {
		t.Errorf("customer overall %v shift %v turns %d consecutive negative %d, want 0, 10, 6, 0", c.Overall, c.Shift, c.Turns, c.ConsecutiveNegative)
	}
	// Current: turns ending within 20 s of the last (36 s): 31-33 and 35-36, a
	// streak of two positives.
	if c.Current != 5 {
		t.Errorf("customer current %v, want 5", c.Current)
	}
	if len(c.Trend) != 6 || c.Trend[0].Score != -5 || c.Trend[3].AtMS != 13000 {
		t.Errorf("customer trend %+v", c.Trend)
	}
	// Trend after the neutral turn: weights 1,2,3 (negative streak) and 1
	// (neutral): 5 * -6/7.
	if got := c.Trend[3].Score; got != -4.29 {
		t.Errorf("trend after the neutral turn %v, want -4.29", got)
	}
	a := cs.Participants[A]
	// Agent: positive in the first quarter, mixed (0) in the third.
	if a.Periods[0] != 5 || a.Periods[2] != 0 || a.Overall != 2.5 || a.Shift != -5 {
		t.Errorf("agent %+v", a)
	}
	if !cs.Final || cs.CallID != "c1" {
		t.Errorf("snapshot %+v", cs)
	}
}

// TestTrackerStreaks: the same labels weigh more in a streak than spread out.
func TestTrackerStreaks(t *testing.T) {
	score := func(labels ...string) float64 {
		tr, _ := NewTracker(TrackerConfig{Periods: 1})
		for i, l := range labels {
			tr.Add(msg.RoleA, Turn{StartMS: int64(i) * 1000, EndMS: int64(i)*1000 + 500, Label: l})
		}
		return tr.Snapshot("c", 10000, 0, false).Participants[msg.RoleA].Overall
	}
	// Weights 1,2,3 and 1: 5 * -6/7. Spread: 1,1 and 1,2: 5 * -4/5.
	streak := score(msg.Negative, msg.Negative, msg.Negative, msg.Neutral)
	spread := score(msg.Negative, msg.Neutral, msg.Negative, msg.Negative)
	if streak != -4.29 || spread != -4 {
		t.Errorf("streak %v, spread %v: want -4.29 and -4", streak, spread)
	}
	if s := score(msg.Negative, msg.Negative, msg.Negative, msg.Negative); s != -5 {
		t.Errorf("all negative %v, want -5", s)
	}
	if _, err := NewTracker(TrackerConfig{Periods: -1}); err == nil {
		t.Error("negative periods accepted")
	}
}

func TestTrackerLiveConsecutiveNegative(t *testing.T) {
	tr, _ := NewTracker(TrackerConfig{})
	tr.Add(msg.RoleCustomer, Turn{0, 1000, msg.Positive})
	tr.Add(msg.RoleCustomer, Turn{2000, 3000, msg.Negative})
	tr.Add(msg.RoleCustomer, Turn{4000, 5000, msg.Negative})
	p := tr.Snapshot("c", 5000, 0, false).Participants[msg.RoleCustomer]
	if p.ConsecutiveNegative != 2 || len(p.Periods) != 4 {
		t.Errorf("consecutive negative %d (want 2), periods %v (want 4)", p.ConsecutiveNegative, p.Periods)
	}
	tr2, _ := NewTracker(TrackerConfig{LiveTrend: 2})
	for i := range int64(5) {
		tr2.Add(msg.RoleA, Turn{i * 1000, i*1000 + 500, msg.Neutral})
	}
	if live, final := tr2.Snapshot("c", 5000, 0, false), tr2.Snapshot("c", 5000, 5000, true); len(live.Participants[msg.RoleA].Trend) != 2 ||
		len(final.Participants[msg.RoleA].Trend) != 5 || live.Participants[msg.RoleA].Trend[1].AtMS != 4500 {
		t.Errorf("live trend %v (want the last 2), final trend %v (want all 5)", live.Participants[msg.RoleA].Trend, final.Participants[msg.RoleA].Trend)
	}
	if _, ok := tr.Snapshot("c", 5000, 0, false).Participants[msg.RoleAgent]; ok {
		t.Error("a participant without turns is reported")
	}
}
