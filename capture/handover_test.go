package capture

import (
	"context"
	"testing"

	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/msg"
)

// endSink records each final job with where its leg was when it was cut.
type endSink struct {
	finals []endSeen
}

type endSeen struct {
	job *msg.UtteranceJob
	at  int64 // the leg's position (samples) when the job was emitted
}

func (s *endSink) job(l *leg, j *msg.UtteranceJob) {
	if !j.Interim {
		s.finals = append(s.finals, endSeen{j, l.pos()})
	}
}
func (s *endSink) talkStart(*leg, int64)               {}
func (s *endSink) talkEnd(*leg, int64, int64, float64) {}

// TestTurnEndsSoonerWhenTheOtherSideStarts: the agent says a sentence and
// the customer answers gapMS after its end. With the other side silent the
// agent's turn ends after the 700 ms endpoint silence; with the customer
// answering it ends after the handover silence (300 ms) or once the
// customer's answer is a turn, whichever is later, well before 700 ms; its
// boundaries stay within 150 ms of the speech either way.
func TestTurnEndsSoonerWhenTheOtherSideStarts(t *testing.T) {
	if !synthcall.Available() {
		t.Skip(synthcall.ErrNoTools)
	}
	ctx := context.Background()
	agent, err := synthcall.Speak(ctx, synthcall.Turn{Text: "I would like to check the balance of my account."})
	if err != nil {
		t.Fatal(err)
	}
	customer, err := synthcall.Speak(ctx, synthcall.Turn{Text: "Of course, can you tell me your date of birth please?"})
	if err != nil {
		t.Fatal(err)
	}
	first, last := synthcall.SpeechBounds(agent)
	const lead = 4000 // 500 ms of silence first
	speechStartMS, speechEndMS := int64(lead+first)*1000/msg.SampleRate, int64(lead+last+1)*1000/msg.SampleRate
	cfg := Config{}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	p := cfg.vadParams()

	// play feeds both legs 20 ms at a time, side by side (the customer's
	// aheadMS ahead, as an intake reading it sooner would), and returns
	// the agent's final jobs.
	play := func(answer bool, gapMS, aheadMS int64) []endSeen {
		sinkA, sinkB := &endSink{}, &endSink{}
		c := &call{id: "c"}
		a := &leg{call: c, role: msg.RoleAgent, p: &p, sink: sinkA, floor: p.absEnergy}
		b := &leg{call: c, role: msg.RoleCustomer, p: &p, sink: sinkB, floor: p.absEnergy}
		c.legs = []*leg{a, b}
		total := lead + len(agent) + 3*msg.SampleRate
		legA := make([]int16, total)
		copy(legA[lead:], agent)
		legB := make([]int16, total+len(customer))
		if answer {
			// The answer's speech (not espeak's lead-in) gapMS after.
			cf, _ := synthcall.SpeechBounds(customer)
			at := int(lead+last+1) + int(gapMS)*msg.SampleRate/1000
			copy(legB[at:], customer[cf:])
		}
		ahead := int(aheadMS) * msg.SampleRate / 1000
		b.buf = append(b.buf, legB[:ahead]...)
		b.analyse()
		for off := 0; off+frameLen <= total; off += frameLen {
			a.buf = append(a.buf, legA[off:off+frameLen]...)
			a.analyse()
			b.buf = append(b.buf, legB[ahead+off:ahead+off+frameLen]...)
			b.analyse()
		}
		a.finish()
		return sinkA.finals
	}
	check := func(name string, finals []endSeen, minWait, maxWait int64) {
		t.Helper()
		if len(finals) != 1 {
			t.Fatalf("%s: %d final jobs for the agent's sentence, want 1", name, len(finals))
		}
		j := finals[0].job
		wait := finals[0].at*1000/msg.SampleRate - speechEndMS
		t.Logf("%s: job %d..%d ms for speech %d..%d ms, cut %d ms after the speech ended", name, j.StartMS, j.EndMS, speechStartMS, speechEndMS, wait)
		if d := j.StartMS - speechStartMS; d < -150 || d > 150 {
			t.Errorf("%s: job starts %+d ms off the speech", name, d)
		}
		if d := j.EndMS - speechEndMS; d < -150 || d > 150 {
			t.Errorf("%s: job ends %+d ms off the speech", name, d)
		}
		if wait < minWait || wait > maxWait {
			t.Errorf("%s: the turn ended %d ms after the speech, want %d to %d ms", name, wait, minWait, maxWait)
		}
	}
	check("customer silent", play(false, 0, 0), 700, 760)
	// The customer's answer is a turn once 200 ms (MinTurn) of it are
	// heard: from 100 ms on, that is past the 300 ms.
	check("customer answers 100 ms after", play(true, 100, 0), 300, 420)
	check("customer answers at once", play(true, 0, 0), 300, 320)
	// An answer after the endpoint silence changes nothing, even when
	// the customer's leg is read a second ahead of the agent's.
	check("customer answers 800 ms after", play(true, 800, 0), 700, 760)
	check("customer answers 800 ms after, read ahead", play(true, 800, 1000), 700, 760)
}
