package characteristics

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// A call whose timeline is known exactly (times in ms):
//
//	agent     0-4000 (-20 dBFS)            13500-16000 (-20)      19000-21000 (-20)
//	customer       3500-9000 (-26)                      18000-20000 (-20)
//	overlaps  3500-4000 customer over agent;  19000-20000 agent over customer
//	silence   9000-13500 (4.5 s, counts), 16000-18000 (2 s, does not), 21000-25000 (4 s, counts at the end)
//	ends      25000
func exampleCall(t *testing.T) *Call {
	t.Helper()
	c, err := New("call-1", Config{})
	if err != nil {
		t.Fatal(err)
	}
	A, C := msg.RoleAgent, msg.RoleCustomer
	for _, ev := range []msg.TimelineEvent{
		{Kind: msg.SpanTalk, Leg: A, StartMS: 0, EndMS: 4000, LoudnessDBFS: -20},
		{Kind: msg.SpanTalk, Leg: C, StartMS: 3500, EndMS: 9000, LoudnessDBFS: -26},
		{Kind: msg.SpanOverlap, Leg: C, Other: A, StartMS: 3500, EndMS: 4000},
		{Kind: msg.SpanSilence, StartMS: 9000, EndMS: 13500},
		{Kind: msg.SpanTalk, Leg: A, StartMS: 13500, EndMS: 16000, LoudnessDBFS: -20},
		{Kind: msg.SpanSilence, StartMS: 16000, EndMS: 18000},
		{Kind: msg.SpanTalk, Leg: A, StartMS: 19000, EndMS: 21000, LoudnessDBFS: -20}, // out of order
		{Kind: msg.SpanTalk, Leg: C, StartMS: 18000, EndMS: 20000, LoudnessDBFS: -20},
		{Kind: msg.SpanOverlap, Leg: A, Other: C, StartMS: 19000, EndMS: 20000},
		{Kind: msg.SpanTalk, Leg: C, StartMS: 18000, EndMS: 20000, LoudnessDBFS: -20}, // redelivered
	} {
		ev.CallID = "call-1"
		c.AddSpan(ev)
	}
	// Agent: 10 words in 0-3000 and 5 in 13500-15000 with timings: 15 words
	// in 4.5 s = 200 wpm. Customer: 11 words over 3500-9000 without
	// timings = 120 wpm.
	c.AddSegment(msg.Segment{ID: "call-1/agent/1/0", Leg: A, StartMS: 0, EndMS: 4000, Words: words(10, 0, 300)})
	c.AddSegment(msg.Segment{ID: "call-1/agent/1/0", Leg: A, StartMS: 0, EndMS: 4000, Words: words(10, 0, 300)}) // redelivered
	c.AddSegment(msg.Segment{ID: "call-1/agent/2/0", Leg: A, StartMS: 13500, EndMS: 16000, Words: words(5, 13500, 300)})
	c.AddSegment(msg.Segment{ID: "call-1/customer/1/0", Leg: C, StartMS: 3500, EndMS: 9000, Text: "I have been waiting all week for this, and still — nothing!"})
	c.AddSegment(msg.Segment{ID: "call-1/customer/1/0", Leg: C, StartMS: 3500, EndMS: 9000, Text: "so far", Interim: true})
	return c
}

// words returns n words of dur ms each from start, with a "," token between.
func words(n int, start, dur int64) []msg.Word {
	var ws []msg.Word
	for i := range n {
		ws = append(ws, msg.Word{Text: "word", StartMS: start + int64(i)*dur, EndMS: start + int64(i+1)*dur})
		ws = append(ws, msg.Word{Text: ",", StartMS: start + int64(i+1)*dur, EndMS: start + int64(i+1)*dur})
	}
	return ws
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %v, want %v (±%v)", what, got, want, tol)
	}
}

func TestFinal(t *testing.T) {
	ch := exampleCall(t).Snapshot(25000, 25000, true)
	A, C := msg.RoleAgent, msg.RoleCustomer
	near(t, "agent talk ms", float64(ch.TalkMS[A]), 8500, 100)
	near(t, "customer talk ms", float64(ch.TalkMS[C]), 7500, 100)
	near(t, "non-talk ms", float64(ch.NonTalkMS), 4500+4000, 100)
	if len(ch.NonTalk) != 2 {
		t.Fatalf("non-talk spans %v, want 9000-13500 and 21000-25000", ch.NonTalk)
	}
	near(t, "non-talk[0] start", float64(ch.NonTalk[0].StartMS), 9000, 100)
	near(t, "non-talk[0] end", float64(ch.NonTalk[0].EndMS), 13500, 100)
	near(t, "non-talk[1] start", float64(ch.NonTalk[1].StartMS), 21000, 100)
	near(t, "non-talk[1] end", float64(ch.NonTalk[1].EndMS), 25000, 100)
	if len(ch.Interruptions) != 2 {
		t.Fatalf("interruptions %v, want 2", ch.Interruptions)
	}
	want := []msg.Interruption{{By: C, Of: A, StartMS: 3500, EndMS: 4000}, {By: A, Of: C, StartMS: 19000, EndMS: 20000}}
	total := int64(0)
	for i, in := range ch.Interruptions {
		if in.By != want[i].By || in.Of != want[i].Of {
			t.Errorf("interruption %d: %s over %s, want %s over %s", i, in.By, in.Of, want[i].By, want[i].Of)
		}
		near(t, "interruption start", float64(in.StartMS), float64(want[i].StartMS), 100)
		total += in.EndMS - in.StartMS
	}
	near(t, "interruption ms", float64(total), 1500, 100)
	near(t, "agent wpm", ch.TalkSpeedWPM[A], 200, 1)
	near(t, "customer wpm", ch.TalkSpeedWPM[C], 120, 1)
	near(t, "agent loudness", ch.LoudnessDBFS[A], -20, 0.05)
	// Energy mean: 10·log10((5500·10^-2.6 + 2000·10^-2)/7500) = -23.46 dBFS.
	near(t, "customer loudness", ch.LoudnessDBFS[C], -23.46, 0.05)
	if len(ch.Turns) != 5 || ch.Turns[1].Leg != C || ch.Turns[1].LoudnessDBFS != -26 {
		t.Errorf("turn loudness %+v, want 5 turns in time order, the second the customer's at -26", ch.Turns)
	}
}

// TestHold: hold is non-talk time, whether or not anyone speaks over it
// (music, an agent aside), and a silence within a hold counts once.
func TestHold(t *testing.T) {
	c := exampleCall(t)
	// On hold 8000-15000: it overlaps the customer's talk to 9000, the
	// 9000-13500 silence, and the agent's talk from 13500.
	c.AddSpan(msg.TimelineEvent{CallID: "call-1", Kind: msg.SpanHold, StartMS: 8000, EndMS: 15000})
	c.AddSpan(msg.TimelineEvent{CallID: "call-1", Kind: msg.SpanHold, StartMS: 8000, EndMS: 15000}) // redelivered
	ch := c.Snapshot(25000, 25000, true)
	if ch.HoldMS != 7000 {
		t.Errorf("hold %d ms, want 7000", ch.HoldMS)
	}
	if len(ch.Holds) != 1 || ch.Holds[0] != (msg.Span{StartMS: 8000, EndMS: 15000}) {
		t.Errorf("holds %v, want the one span 8000-15000, for the call view's timeline", ch.Holds)
	}
	want := []msg.Span{{StartMS: 8000, EndMS: 15000}, {StartMS: 21000, EndMS: 25000}}
	if len(ch.NonTalk) != 2 || ch.NonTalk[0] != want[0] || ch.NonTalk[1] != want[1] {
		t.Fatalf("non-talk spans %v, want %v", ch.NonTalk, want)
	}
	if ch.NonTalkMS != 7000+4000 {
		t.Errorf("non-talk %d ms, want 11000 (the hold, with the silence in it once, and the final silence)", ch.NonTalkMS)
	}
}

// TestLive: before the call ends, the silence after the last talk is not
// yet non-talk time, and what is known so far is reported.
func TestLive(t *testing.T) {
	c, err := New("call-2", Config{})
	if err != nil {
		t.Fatal(err)
	}
	c.AddSpan(msg.TimelineEvent{Kind: msg.SpanTalk, Leg: msg.RoleA, StartMS: 1000, EndMS: 2000})
	ch := c.Snapshot(9000, 0, false)
	if ch.NonTalkMS != 0 || ch.TalkMS[msg.RoleA] != 1000 {
		t.Errorf("live: non-talk %d (want 0: the gap is open), talk %d (want 1000)", ch.NonTalkMS, ch.TalkMS[msg.RoleA])
	}
	c.AddSpan(msg.TimelineEvent{Kind: msg.SpanTalk, Leg: msg.RoleB, StartMS: 5001, EndMS: 6000})
	ch = c.Snapshot(9000, 0, false)
	if ch.NonTalkMS != 3001 {
		t.Errorf("live: non-talk %d, want 3001 (2000-5001)", ch.NonTalkMS)
	}
	c.AddSpan(msg.TimelineEvent{Kind: msg.SpanTalk, Leg: msg.RoleA, StartMS: 9000, EndMS: 9500})
	if ch := c.Snapshot(9500, 0, false); ch.NonTalkMS != 3001 {
		t.Errorf("a gap of exactly 3 s counted: non-talk %d, want 3001", ch.NonTalkMS)
	}
	for i := range int64(30) {
		c.AddSpan(msg.TimelineEvent{Kind: msg.SpanTalk, Leg: msg.RoleB, StartMS: 10000 + i*1000, EndMS: 10500 + i*1000, LoudnessDBFS: -30})
	}
	if live, final := c.Snapshot(40000, 0, false), c.Snapshot(40000, 40000, true); len(live.Turns) != 20 || len(final.Turns) != 30 ||
		live.Turns[19].StartMS != 39000 {
		t.Errorf("turn loudness: live %d turns (want the last 20), final %d (want 30)", len(live.Turns), len(final.Turns))
	}
	if ch.LoudnessDBFS != nil || ch.TalkSpeedWPM != nil {
		t.Errorf("loudness %v, talk speed %v: want none without levels or words", ch.LoudnessDBFS, ch.TalkSpeedWPM)
	}
}

// TestOpen: a silence and a hold published open are non-talk time going
// on, counted up to any later time by NonTalkAt, until their finished
// spans come; a finished silence counts before the talk that ends it does.
func TestOpen(t *testing.T) {
	c, err := New("call-3", Config{})
	if err != nil {
		t.Fatal(err)
	}
	add := func(evs ...msg.TimelineEvent) {
		for _, ev := range evs {
			ev.CallID = "call-3"
			c.AddSpan(ev)
		}
	}
	at := func(snapMS, nowMS, wantLongest, wantTotal int64) {
		t.Helper()
		ch := c.Snapshot(snapMS, 0, false)
		if l, tot := ch.NonTalkAt(nowMS); l != wantLongest || tot != wantTotal {
			t.Errorf("at %d ms (open %+v): longest %d, total %d; want %d, %d", nowMS, ch.Open, l, tot, wantLongest, wantTotal)
		}
	}
	add(msg.TimelineEvent{Kind: msg.SpanTalk, Leg: msg.RoleAgent, StartMS: 0, EndMS: 2000},
		msg.TimelineEvent{Kind: msg.SpanSilence, StartMS: 2000, EndMS: 3000, Open: true},
		msg.TimelineEvent{Kind: msg.SpanHold, StartMS: 4000, EndMS: 4000, Open: true})
	want := []msg.OpenSpan{{Kind: msg.SpanSilence, StartMS: 2000, AfterMS: 3000}, {Kind: msg.SpanHold, StartMS: 4000}}
	if ch := c.Snapshot(4000, 0, false); !slices.Equal(ch.Open, want) || ch.NonTalkMS != 0 {
		t.Fatalf("open %+v, non-talk %d; want %+v and nothing finished", ch.Open, ch.NonTalkMS, want)
	}
	at(4000, 4500, 500, 500)   // the hold counts at once, the silence not yet 3 s
	at(4000, 6000, 4000, 4000) // now the silence counts, the hold within it once
	add(msg.TimelineEvent{Kind: msg.SpanHold, StartMS: 4000, EndMS: 7000})
	at(7000, 8000, 6000, 6000)
	add(msg.TimelineEvent{Kind: msg.SpanSilence, StartMS: 2000, EndMS: 9000}) // a turn starts
	at(9000, 20000, 7000, 7000)
	add(msg.TimelineEvent{Kind: msg.SpanTalk, Leg: msg.RoleCustomer, StartMS: 9000, EndMS: 10000}) // the turn ends
	at(10000, 20000, 7000, 7000)
	if ch := c.Snapshot(10000, 0, false); ch.Open != nil {
		t.Errorf("open %+v after both ended", ch.Open)
	}
	add(msg.TimelineEvent{Kind: msg.SpanSilence, StartMS: 10000, EndMS: 11000, Open: true})
	if ch := c.Snapshot(12000, 12000, true); ch.Open != nil {
		t.Errorf("final snapshot carries open spans %+v: the call's end closed them", ch.Open)
	}
}

func TestConfig(t *testing.T) {
	_, err := New("x", Config{MinSilence: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative min silence: err %v", err)
	}
	if _, err := New("x", Config{LiveTurns: -1}); err == nil {
		t.Error("negative live turns accepted")
	}
	c, err := New("x", Config{MinSilence: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.AddSpan(msg.TimelineEvent{Kind: msg.SpanTalk, Leg: msg.RoleA, StartMS: 0, EndMS: 100})
	if ch := c.Snapshot(3000, 3000, true); ch.NonTalkMS != 2900 {
		t.Errorf("min silence 1 s: non-talk %d, want 2900", ch.NonTalkMS)
	}
}

// TestKoreanTalkSpeed: Korean turns count words as eojeol and also Hangul
// syllables, over the same time; an English leg has no syllable rate.
func TestKoreanTalkSpeed(t *testing.T) {
	c, err := New("call-ko", Config{})
	if err != nil {
		t.Fatal(err)
	}
	A, C := msg.RoleAgent, msg.RoleCustomer
	// Customer, no word timings: 5 eojeol, 12 syllables in 3 s.
	c.AddSegment(msg.Segment{ID: "call-ko/customer/1/0", Leg: C, StartMS: 1000, EndMS: 4000, Language: "ko", Text: "너무 화가 나요. 해지해 주세요."})
	// Agent, word timings over 1.5 s: 2 eojeol, 8 syllables (the comma
	// token is not a word).
	c.AddSegment(msg.Segment{ID: "call-ko/agent/1/0", Leg: A, StartMS: 0, EndMS: 2000, Text: "안녕하세요, 고객님", Words: []msg.Word{
		{Text: "안녕하세요", StartMS: 0, EndMS: 1000}, {Text: ",", StartMS: 1000, EndMS: 1000}, {Text: "고객님", StartMS: 1000, EndMS: 1500},
	}})
	ch := c.Snapshot(5000, 0, false)
	near(t, "customer eojeol/min", ch.TalkSpeedWPM[C], 100, 0.1)
	near(t, "customer syllables/min", ch.TalkSpeedSPM[C], 240, 0.1)
	near(t, "agent eojeol/min", ch.TalkSpeedWPM[A], 80, 0.1)
	near(t, "agent syllables/min", ch.TalkSpeedSPM[A], 320, 0.1)
	if en := exampleCall(t).Snapshot(25000, 25000, true); en.TalkSpeedSPM != nil {
		t.Errorf("an English call has syllable rates %v, want none", en.TalkSpeedSPM)
	}
}
