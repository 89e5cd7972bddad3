package capture_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
)

// tones builds a leg of total ms with a tone in each [start, end) ms span.
func tones(total int, spans ...[2]int) []int16 {
	pcm := make([]int16, total*8)
	for _, s := range spans {
		copy(pcm[s[0]*8:], tone(s[0]*8, (s[1]-s[0])*8))
	}
	return pcm
}

func near(got, want int64) bool { return got-want <= 100 && want-got <= 100 }

func TestAnnouncedCallTimelineWithInterruption(t *testing.T) {
	r := newRig(t, capture.Config{})
	sub, err := r.conn.NC.Subscribe(msg.SubjectAnnounce, func(m *nats.Msg) { _ = m.Respond(r.cap.AnnounceRequest(m.Data)) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	// The agent talks 0.5-3.5 s and 6-7 s; the customer cuts in at 2.5 s
	// and talks until 4.5 s; nobody talks 4.5-6 s but for a 60 ms click
	// from the customer at 5.3 s, which is neither a turn nor talk.
	agent := tones(8000, [2]int{500, 3500}, [2]int{6000, 7000})
	customer := tones(8000, [2]int{2500, 4500}, [2]int{5300, 5360})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sent, err := sender.Send(ctx, sender.SendConfig{
		To: r.addr, CallID: "call-42", Speed: sender.Speed{Factor: 10},
		Announcer: sender.NATSAnnouncer{Conn: r.conn.NC},
		Legs:      []sender.Leg{{Role: msg.RoleAgent, PCM: agent}, {Role: msg.RoleCustomer, PCM: customer}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := r.waitEnded(1, 20*time.Second)["call-42"]
	if c == nil || c.Started == nil {
		t.Fatalf("no call-42 started and ended: %+v", c)
	}
	if len(c.Started.Legs) != 2 || c.Started.Legs[0].Role != msg.RoleAgent || c.Started.Legs[0].SSRC != sent.Legs[0].SSRC {
		t.Errorf("started event legs %+v, want the announced agent and customer", c.Started.Legs)
	}
	if c.Ended.Reason != msg.EndBye || len(c.Ended.Legs) != 2 {
		t.Errorf("ended %+v", c.Ended)
	}
	for _, l := range c.Ended.Legs {
		found := false
		for _, s := range sent.Legs {
			found = found || (s.Role == l.Role && s.SSRC == l.SSRC)
		}
		if !found {
			t.Errorf("leg %+v is not one that was sent (%+v)", l, sent.Legs)
		}
	}
	if c.Ended.FinalJobs[msg.RoleAgent] != 2 || c.Ended.FinalJobs[msg.RoleCustomer] != 1 ||
		len(c.Finals(msg.RoleAgent)) != 2 || len(c.Finals(msg.RoleCustomer)) != 1 {
		t.Errorf("final jobs %v (seen agent %d, customer %d), want agent 2, customer 1",
			c.Ended.FinalJobs, len(c.Finals(msg.RoleAgent)), len(c.Finals(msg.RoleCustomer)))
	}
	var talk, overlap, silence []*msg.TimelineEvent
	for _, e := range c.Timeline {
		switch e.Kind {
		case msg.SpanTalk:
			talk = append(talk, e)
			if e.LoudnessDBFS > -14 || e.LoudnessDBFS < -16 {
				t.Errorf("talk %+v: loudness %.1f dBFS, want the tone's -15", e, e.LoudnessDBFS)
			}
		case msg.SpanOverlap:
			overlap = append(overlap, e)
		case msg.SpanSilence:
			if !e.Open {
				silence = append(silence, e)
			}
		}
	}
	if len(talk) != 3 {
		t.Errorf("talk spans %+v, want 3", talk)
	}
	if len(overlap) != 1 || overlap[0].Leg != msg.RoleCustomer || overlap[0].Other != msg.RoleAgent ||
		!near(overlap[0].StartMS, 2500) || !near(overlap[0].EndMS, 3500) {
		t.Errorf("overlaps %+v, want the customer interrupting the agent 2500-3500 ms", overlap)
	}
	var mid *msg.TimelineEvent
	for _, s := range silence {
		if s.StartMS > 1000 {
			if mid != nil {
				t.Errorf("silences %+v: the click split the silence", silence)
			}
			mid = s
		}
	}
	if mid == nil || !near(mid.StartMS, 4500) || !near(mid.EndMS, 6000) {
		t.Errorf("silences %+v, want one 4500-6000 ms", silence)
	}
}

// TestAnnounceAfterRTPTakesTheLegOver: RTP that started undeclared moves
// to the call announced for it; an announced call whose RTP never comes
// ends after the timeout.
func TestAnnounceAfterRTPTakesTheLegOver(t *testing.T) {
	r := newRig(t, capture.Config{CallTimeout: 500 * time.Millisecond})
	w := newWire(t, r.addr)
	// The first packets are handed over directly, so they are taken
	// before the announce; the rest go over the socket.
	for i := 0; i < 10; i++ {
		p, _ := ulaw(tone(i*160, 160))
		r.cap.Handle(rtpPacket(t, 0x77, uint16(i), uint32(i*160), 0, p), w.addr(), r.addr)
	}
	if err := r.cap.Announce(&msg.CallAnnounce{CallID: "late-1", Agent: "anna", Legs: []msg.LegSpec{{Role: msg.RoleAgent, Source: w.addr().String()}}}); err != nil {
		t.Fatal(err)
	}
	if err := r.cap.Announce(&msg.CallAnnounce{CallID: "never-1", Legs: []msg.LegSpec{{Role: msg.RoleCustomer, SSRC: 99}}}); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 20; i++ {
		p, _ := ulaw(tone(i*160, 160))
		w.send(rtpPacket(t, 0x77, uint16(i), uint32(i*160), 0, p))
	}
	w.bye(0x77)
	got := r.waitEnded(3, 10*time.Second)
	var undeclared *callEvents
	for id, c := range got {
		if id != "late-1" && id != "never-1" {
			undeclared = c
		}
	}
	if undeclared == nil || undeclared.Ended.Reason != msg.EndAnnounce || undeclared.Ended.Streams[0].Received != 10 {
		t.Errorf("the undeclared call: %+v, want it ended by the announce with its 10 packets", undeclared)
	}
	if c := got["late-1"]; c == nil || c.Ended.Reason != msg.EndBye || len(c.Ended.Streams) != 1 || c.Ended.Streams[0].Received != 10 || c.Ended.Streams[0].Leg != msg.RoleAgent || c.Ended.Agent != "anna" {
		t.Errorf("late-1: %+v, want the last 10 packets on its agent leg, ended by BYE", c)
	}
	if c := got["never-1"]; c == nil || c.Ended.Reason != msg.EndTimeout || len(c.Ended.Streams) != 0 {
		t.Errorf("never-1: %+v, want it ended by the timeout without streams", c)
	}
}

// TestHoldAnnounced: the PBX announces hold and its end; capture puts the
// hold on the call's timeline, on the call clock, and closes a hold still
// open when the call ends.
func TestHoldAnnounced(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	at := func(ms int) {
		mu.Lock()
		defer mu.Unlock()
		now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
	}
	r := newRig(t, capture.Config{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }, CallTimeout: time.Hour})
	on, off := true, false
	steps := []struct {
		ms int
		a  msg.CallAnnounce
	}{
		{0, msg.CallAnnounce{CallID: "held", Legs: []msg.LegSpec{{Role: msg.RoleAgent, SSRC: 11}, {Role: msg.RoleCustomer, SSRC: 12}}}},
		{2000, msg.CallAnnounce{CallID: "held", Hold: &on}},
		{3000, msg.CallAnnounce{CallID: "held", Hold: &on}}, // already on hold: no change
		{7000, msg.CallAnnounce{CallID: "held", Hold: &off}},
		{8000, msg.CallAnnounce{CallID: "held", Hold: &on}},
		{10000, msg.CallAnnounce{CallID: "held", End: true}}, // ends while on hold
	}
	for _, s := range steps {
		at(s.ms)
		if err := r.cap.Announce(&s.a); err != nil {
			t.Fatalf("at %d ms: %v", s.ms, err)
		}
	}
	if err := r.cap.Announce(&msg.CallAnnounce{CallID: "nobody", Hold: &on}); !errors.Is(err, msg.ErrNotFound) {
		t.Errorf("hold of an unknown call: %v, want ErrNotFound", err)
	}
	c := r.waitEnded(1, 10*time.Second)["held"]
	if c == nil {
		t.Fatal("the held call did not end")
	}
	var holds [][2]int64
	var opened []int64
	for _, e := range c.Timeline {
		switch {
		case e.Kind == msg.SpanHold && e.Open:
			opened = append(opened, e.StartMS)
		case e.Kind == msg.SpanHold:
			holds = append(holds, [2]int64{e.StartMS, e.EndMS})
		}
	}
	if want := [][2]int64{{2000, 7000}, {8000, 10000}}; !slices.Equal(holds, want) {
		t.Fatalf("hold spans %v, want %v", holds, want)
	}
	if want := []int64{2000, 8000}; !slices.Equal(opened, want) {
		t.Errorf("holds published open at %v, want as each began, %v", opened, want)
	}
	if c.Ended.DurationMS != 10000 {
		t.Errorf("duration %d ms, want 10000", c.Ended.DurationMS)
	}
}

// waitTimeline reads events until a timeline event that ok accepts.
func (r *rig) waitTimeline(what string, ok func(*msg.TimelineEvent) bool) *msg.TimelineEvent {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-r.ev:
			var e msg.TimelineEvent
			if !strings.HasPrefix(m.Subject, "earshot.timeline.") || msg.Unmarshal(m.Data, &e) != nil {
				continue
			}
			if ok(&e) {
				return &e
			}
		case <-deadline:
			r.t.Fatalf("no %s within 10 s", what)
		}
	}
}

// TestSilencePublishedOpen: once a silence has lasted the shortest silence
// reported, on the clock the timeline uses, it is published open; the turn
// that ends it closes it.
func TestSilencePublishedOpen(t *testing.T) {
	var mu sync.Mutex
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	now := t0
	at := func(ms int) {
		mu.Lock()
		defer mu.Unlock()
		now = t0.Add(time.Duration(ms) * time.Millisecond)
	}
	r := newRig(t, capture.Config{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }, CallTimeout: time.Hour})
	if err := r.cap.Announce(&msg.CallAnnounce{CallID: "quiet", Legs: []msg.LegSpec{{Role: msg.RoleAgent, SSRC: 21}}}); err != nil {
		t.Fatal(err)
	}
	at(900)
	at(1500)
	open := r.waitTimeline("open silence", func(e *msg.TimelineEvent) bool { return e.Kind == msg.SpanSilence })
	if !open.Open || open.StartMS != 0 || open.EndMS < 1000 || open.EndMS > 1500 {
		t.Fatalf("first silence event %+v, want it open from 0, published between 1000 and 1500 ms", open)
	}
	// The agent speaks from 1500 ms on.
	from := netip.MustParseAddrPort("10.2.2.2:5000")
	for i := range 50 {
		at(1500 + 20*i)
		p, _ := ulaw(tone(i*160, 160))
		r.cap.Handle(rtpPacket(t, 21, uint16(i), uint32(i*160), 0, p), from, r.addr)
	}
	closed := r.waitTimeline("closed silence", func(e *msg.TimelineEvent) bool { return e.Kind == msg.SpanSilence })
	if closed.Open || closed.StartMS != 0 || closed.EndMS != 1500 {
		t.Errorf("silence closed as %+v, want 0..1500 ms", closed)
	}
}
