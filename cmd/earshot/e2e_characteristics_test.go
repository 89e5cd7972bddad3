package main

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/sentiment"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

// TestCharacteristicsEndToEnd sends two legs of espeak-ng speech, placed at
// chosen offsets with overlaps and a long silence, over real UDP into the
// real capture stage, transcribes the jobs with a scripted ASR that times
// words from the job's audio (as whisper does), runs the real analyzer, and
// checks every conversation characteristic against the call's true
// timeline: within 100 ms, or 1 word per minute.
func TestCharacteristicsEndToEnd(t *testing.T) {
	if !synthcall.Available() {
		t.Skip(synthcall.ErrNoTools)
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore, natsJetStreamLeak) }) // after the server's own cleanup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	turns := []synthcall.Turn{
		{Leg: msg.RoleAgent, AtMS: 0, Text: "thank you for calling acme how can I help you today"},
		{Leg: msg.RoleCustomer, AtMS: 4200, Text: "my internet has been down since yesterday morning and nobody called me back"},
		{Leg: msg.RoleAgent, AtMS: 7000, Text: "I am so sorry about that let me check"}, // interrupts the customer
		{Leg: msg.RoleAgent, AtMS: 14000, Text: "please hold while I look at your line"},
		// about six seconds of silence on both legs: non-talk time
		{Leg: msg.RoleAgent, AtMS: 22500, Text: "thank you for holding I have reset your connection"},
		{Leg: msg.RoleCustomer, AtMS: 24500, Text: "oh great it works now"}, // interrupts the agent
		{Leg: msg.RoleAgent, AtMS: 29000, Text: "you are welcome have a nice day"},
	}
	call, err := synthcall.Render(ctx, turns, 1500)
	if err != nil {
		t.Fatal(err)
	}

	_, conn := bustest.Start(t)
	capt, err := capture.New(capture.Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}}, conn)
	if err != nil {
		t.Fatal(err)
	}
	an, err := sentiment.NewAnalyzer(conn, sentiment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	const callID = "e2e-characteristics"
	finals := make(chan msg.Characteristics, 4)
	sub, err := conn.NC.Subscribe(msg.SubjectCharacteristics(callID), func(m *nats.Msg) {
		var c msg.Characteristics
		if err := msg.Unmarshal(m.Data, &c); err == nil && c.Final {
			finals <- c
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	ann, err := conn.NC.Subscribe(msg.SubjectAnnounce, func(m *nats.Msg) { _ = m.Respond(capt.AnnounceRequest(m.Data)) })
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Unsubscribe()
	if err := conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 3)
	go func() { done <- capt.Run(ctx) }()
	go func() { done <- an.Run(ctx, conn.JS) }()
	go func() { done <- e2eTimedWordsASR(ctx, conn, "", map[string]*synthcall.Call{callID: call}) }()

	legs := []sender.Leg{
		{Role: msg.RoleAgent, PCM: call.Legs[msg.RoleAgent]},
		{Role: msg.RoleCustomer, PCM: call.Legs[msg.RoleCustomer]},
	}
	if _, err := sender.Send(ctx, sender.SendConfig{
		To: capt.Addrs()[0], Legs: legs, CallID: callID, Speed: sender.Speed{Factor: 8},
		Announcer: sender.NATSAnnouncer{Conn: conn.NC},
	}); err != nil {
		t.Fatal(err)
	}
	var got msg.Characteristics
	select {
	case got = <-finals:
	case <-time.After(60 * time.Second):
		t.Fatal("no final characteristics within 60 s of sending the call")
	}
	cancel()
	for range 3 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}

	want := e2eTruth(call.Truth, 3000)
	near := func(name string, got, want int64) {
		t.Helper()
		if d := got - want; d < -100 || d > 100 {
			t.Errorf("%s = %d ms, true %d ms (off by %d ms)", name, got, want, d)
		} else {
			t.Logf("%s = %d ms, true %d ms", name, got, want)
		}
	}
	for _, leg := range []msg.Role{msg.RoleAgent, msg.RoleCustomer} {
		near(fmt.Sprintf("talk time of %s", leg), got.TalkMS[leg], want.talk[leg])
		if d := math.Abs(got.TalkSpeedWPM[leg] - want.wpm[leg]); d > 1 {
			t.Errorf("talk speed of %s = %.1f wpm, true %.1f", leg, got.TalkSpeedWPM[leg], want.wpm[leg])
		} else {
			t.Logf("talk speed of %s = %.1f wpm, true %.1f", leg, got.TalkSpeedWPM[leg], want.wpm[leg])
		}
	}
	near("non-talk time", got.NonTalkMS, want.nonTalk)
	if len(got.Interruptions) != len(want.interruptions) {
		t.Fatalf("interruptions = %+v, want %+v", got.Interruptions, want.interruptions)
	}
	for i, w := range want.interruptions {
		g := got.Interruptions[i]
		if g.By != w.By || g.Of != w.Of {
			t.Errorf("interruption %d: %s interrupted %s, want %s interrupted %s", i, g.By, g.Of, w.By, w.Of)
		}
		near(fmt.Sprintf("interruption %d start", i), g.StartMS, w.StartMS)
		near(fmt.Sprintf("interruption %d end", i), g.EndMS, w.EndMS)
	}
}

type e2eFigures struct {
	talk          map[msg.Role]int64
	wpm           map[msg.Role]float64
	nonTalk       int64
	interruptions []msg.Interruption
}

// e2eTruth computes the characteristics from the true spans: talk time per
// leg, words per minute of talk, silences of both legs longer than minSilence
// ms, and who started speaking over whom.
func e2eTruth(spans []synthcall.Span, minSilence int64) e2eFigures {
	f := e2eFigures{talk: map[msg.Role]int64{}, wpm: map[msg.Role]float64{}}
	words := map[msg.Role]int{}
	var busyUntil int64
	for i, s := range spans { // in start order
		f.talk[s.Leg] += s.EndMS - s.StartMS
		words[s.Leg] += s.Words
		if gap := s.StartMS - busyUntil; gap > minSilence {
			f.nonTalk += gap
		}
		busyUntil = max(busyUntil, s.EndMS)
		for _, p := range spans[:i] {
			if p.Leg != s.Leg && p.StartMS < s.StartMS && p.EndMS > s.StartMS {
				f.interruptions = append(f.interruptions, msg.Interruption{By: s.Leg, Of: p.Leg, StartMS: s.StartMS, EndMS: min(p.EndMS, s.EndMS)})
			}
		}
	}
	for leg, n := range words {
		f.wpm[leg] = float64(n) * 60000 / float64(f.talk[leg])
	}
	return f
}

// e2eTimedWordsASR is the transcriber test double: for each job of one of
// calls (by call id) it publishes the true text of the turn the job holds
// (for an interim, the words spoken so far), with word timings spread over
// where the job's audio is loud (found the same way synthcall finds a
// turn's true extent), placed on the call clock from the job's start, in
// language lang (as whisper reports the language it detected; "" for none).
func e2eTimedWordsASR(ctx context.Context, conn *bus.Conn, lang string, calls map[string]*synthcall.Call) error {
	return bus.Consume(ctx, conn.JS, bus.ConsumerConfig{Stream: bus.StreamAudio, Durable: "e2e-asr"},
		func(ctx context.Context, m jetstream.Msg) error {
			job, err := msg.DecodeUtterance(m.Data())
			if err != nil {
				return bus.Permanent(err)
			}
			seg := msg.Segment{ID: job.ID(), CallID: job.CallID, Leg: job.Leg, Turn: job.Turn, Part: job.Part,
				Interim: job.Interim, Rev: job.Rev, StartMS: job.StartMS, EndMS: job.EndMS, Engine: "e2e-scripted",
				Language: lang}
			call, ok := calls[job.CallID]
			if !ok {
				return bus.Permanent(fmt.Errorf("no script for call %s", job.CallID))
			}
			first, last := e2eLoud(job.PCM)
			for _, s := range call.Truth {
				if s.Leg != job.Leg || first < 0 {
					continue
				}
				from := job.StartMS + int64(first)*1000/msg.SampleRate
				to := job.StartMS + int64(last+1)*1000/msg.SampleRate
				if from > s.EndMS || to < s.StartMS {
					continue
				}
				ws := strings.Fields(s.Text)
				if job.Interim { // the words said by the end of this audio
					ws = ws[:min(len(ws), max(1, len(ws)*int(to-s.StartMS)/int(s.EndMS-s.StartMS)))]
				}
				seg.Text = strings.Join(ws, " ")
				for i, w := range ws {
					a := from + (to-from)*int64(i)/int64(len(ws))
					b := from + (to-from)*int64(i+1)/int64(len(ws))
					seg.Words = append(seg.Words, msg.Word{Text: w, StartMS: a, EndMS: b, Confidence: 1})
				}
				break
			}
			if seg.Text == "" {
				if seg.Interim {
					return nil
				}
				seg.Dropped = "silence"
			}
			b, err := msg.Marshal(seg)
			if err != nil {
				return err
			}
			return conn.Publish(ctx, msg.SubjectTranscript(job.CallID), b)
		})
}

// e2eLoud returns the first and last sample of the 10 ms frames above
// -45 dBFS, or -1, -1.
func e2eLoud(pcm []int16) (first, last int) {
	const frame = msg.SampleRate / 100
	first, last = -1, -1
	for off := 0; off+frame <= len(pcm); off += frame {
		var sum float64
		for _, s := range pcm[off : off+frame] {
			sum += float64(s) * float64(s)
		}
		if sum/frame > 184*184 {
			if first < 0 {
				first = off
			}
			last = off + frame - 1
		}
	}
	return first, last
}
