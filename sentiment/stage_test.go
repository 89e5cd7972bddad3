package sentiment

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stageOutputs collects what the analyzer publishes.
type stageOutputs struct {
	ch chan *nats.Msg
}

func stageListen(t *testing.T, nc *nats.Conn, subjects ...string) *stageOutputs {
	t.Helper()
	o := &stageOutputs{ch: make(chan *nats.Msg, 1024)}
	for _, s := range subjects {
		sub, err := nc.ChanSubscribe(s, o.ch)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return o
}

// next waits for the next message on subject, skipping others into seen.
func (o *stageOutputs) next(t *testing.T, subject string, seen map[string]int) *nats.Msg {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-o.ch:
			seen[m.Subject]++
			if m.Subject == subject {
				return m
			}
		case <-deadline:
			t.Fatalf("no message on %s within 10 s (seen: %v)", subject, seen)
		}
	}
}

// runAnalyzer runs a on conn until the test ends, and checks it stops
// without an error.
func runAnalyzer(t *testing.T, a *Analyzer, conn *bus.Conn) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, conn.JS) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func stagePublish(t *testing.T, c *bus.Conn, subject string, m msg.Message) {
	t.Helper()
	b, err := msg.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), subject, b); err != nil {
		t.Fatal(err)
	}
}

func TestAnalyzerOnNATS(t *testing.T) {
	_, conn := bustest.Start(t)
	reg := prometheus.NewRegistry()
	a, err := NewAnalyzer(conn, Config{Grace: 400 * time.Millisecond, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	out := stageListen(t, conn.NC, msg.AllAnalysis, msg.AllDeadLetters)
	runAnalyzer(t, a, conn)

	A, C := msg.RoleAgent, msg.RoleCustomer
	call := "call-ok"
	stagePublish(t, conn, msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted})
	for _, ev := range []msg.TimelineEvent{
		{Kind: msg.SpanTalk, Leg: A, StartMS: 0, EndMS: 3000, LoudnessDBFS: -20},
		{Kind: msg.SpanTalk, Leg: C, StartMS: 2500, EndMS: 8000, LoudnessDBFS: -20},
		{Kind: msg.SpanOverlap, Leg: C, Other: A, StartMS: 2500, EndMS: 3000},
		{Kind: msg.SpanTalk, Leg: C, StartMS: 12000, EndMS: 14000, LoudnessDBFS: -20},
	} {
		ev.CallID = call
		stagePublish(t, conn, msg.SubjectTimeline(call), ev)
	}
	segs := []msg.Segment{
		{ID: call + "/agent/1/0", Leg: A, Turn: 1, StartMS: 0, EndMS: 3000, Text: "Thank you for calling, how can I help?"},
		{ID: call + "/customer/1/0", Leg: C, Turn: 1, StartMS: 2500, EndMS: 8000, Text: "I want to cancel my", Interim: true, Rev: 1},
		{ID: call + "/customer/1/0", Leg: C, Turn: 1, StartMS: 2500, EndMS: 8000, Text: "I want to cancel my account, this is ridiculous."},
	}
	for _, s := range segs {
		s.CallID = call
		stagePublish(t, conn, msg.SubjectTranscript(call), s)
	}
	stagePublish(t, conn, msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, DurationMS: 20000,
		FinalJobs: map[msg.Role]int{A: 1, C: 2}})
	// The last final arrives after the end; a redelivered copy of an earlier
	// one must not count twice.
	last := msg.Segment{ID: call + "/customer/2/0", CallID: call, Leg: C, Turn: 2, StartMS: 12000, EndMS: 14000, Text: "still on hold, not working"}
	stagePublish(t, conn, msg.SubjectTranscript(call), msg.Segment{ID: segs[0].ID, CallID: call, Leg: A, Turn: 1, StartMS: 0, EndMS: 3000, Text: segs[0].Text})
	stagePublish(t, conn, msg.SubjectTranscript(call), last)

	seen := map[string]int{}
	var final msg.CallSentiment
	for !final.Final {
		m := out.next(t, msg.SubjectCallSentiment(call), seen)
		if err := msg.Unmarshal(m.Data, &final); err != nil {
			t.Fatal(err)
		}
	}
	var ch msg.Characteristics
	for !ch.Final {
		m := out.next(t, msg.SubjectCharacteristics(call), seen)
		if err := msg.Unmarshal(m.Data, &ch); err != nil {
			t.Fatal(err)
		}
	}
	if n := seen[msg.SubjectScoredSegment(call)]; n != 3 {
		t.Errorf("%d scored segments, want 3 (finals only, the redelivered one once)", n)
	}
	c := final.Participants[C]
	if c.Turns != 2 || c.ConsecutiveNegative != 2 || c.Overall >= 0 {
		t.Errorf("final customer sentiment %+v: want 2 negative turns", c)
	}
	if final.Participants[A].Overall <= 0 {
		t.Errorf("final agent sentiment %+v: want positive", final.Participants[A])
	}
	if ch.TalkMS[A] != 3000 || ch.TalkMS[C] != 7500 || len(ch.Interruptions) != 1 || ch.NonTalkMS != 4000+6000 {
		t.Errorf("final characteristics talk %v, interruptions %v, non-talk %d: want 3000/7500, 1, 10000", ch.TalkMS, ch.Interruptions, ch.NonTalkMS)
	}

	// A call whose announced finals never all come: final after the grace time.
	slow := "call-slow"
	stagePublish(t, conn, msg.SubjectTranscript(slow), msg.Segment{ID: slow + "/a/1/0", CallID: slow, Leg: msg.RoleA, StartMS: 0, EndMS: 1000, Text: "hello"})
	stagePublish(t, conn, msg.SubjectCall(slow), msg.CallEvent{CallID: slow, Kind: msg.CallEnded, DurationMS: 5000, FinalJobs: map[msg.Role]int{msg.RoleA: 2}})
	var fs msg.CallSentiment
	for !fs.Final {
		if err := msg.Unmarshal(out.next(t, msg.SubjectCallSentiment(slow), seen).Data, &fs); err != nil {
			t.Fatal(err)
		}
	}

	// A malformed message is dead-lettered, and the analyzer goes on.
	if err := conn.Publish(context.Background(), msg.SubjectTranscript("call-bad"), []byte(`{"schema":"segment","v":1,"data":[1]}`)); err != nil {
		t.Fatal(err)
	}
	out.next(t, msg.SubjectDeadLetter("analyze-sentiment"), seen)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 3 {
		t.Errorf("%d metric families registered, want 3", len(mfs))
	}
}

func TestAnalyzerConfig(t *testing.T) {
	_, conn := bustest.Start(t)
	if _, err := NewAnalyzer(nil, Config{}); err == nil {
		t.Error("nil publisher accepted")
	}
	if _, err := NewAnalyzer(conn, Config{Grace: -time.Second}); err == nil {
		t.Error("negative grace accepted")
	}
	if _, err := NewAnalyzer(conn, Config{Models: &Models{}}); err == nil {
		t.Error("models without a default accepted")
	}
	a, err := NewAnalyzer(conn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Handle(context.Background(), "earshot.transcript.x", []byte("not json"))
	if !bus.IsPermanent(err) || !errors.Is(err, msg.ErrMalformed) {
		t.Errorf("garbage: %v, want a permanent malformed-message error", err)
	}
	err = a.Handle(context.Background(), "earshot.transcript.x", mustMarshal(t, msg.Segment{ID: "x", CallID: "bad id"}))
	if !bus.IsPermanent(err) || !errors.Is(err, msg.ErrInvalidCallID) {
		t.Errorf("bad call id: %v, want a permanent invalid-call-id error", err)
	}
	err = a.Handle(context.Background(), "earshot.transcript.x", mustMarshal(t, msg.Segment{ID: "x", CallID: "x", Leg: "caller"}))
	if !bus.IsPermanent(err) || !errors.Is(err, msg.ErrInvalidField) {
		t.Errorf("bad leg: %v, want a permanent invalid-field error", err)
	}
	err = a.Handle(context.Background(), "earshot.timeline.x", mustMarshal(t, msg.TimelineEvent{CallID: "x", Kind: msg.SpanTalk, EndMS: 5}))
	if !bus.IsPermanent(err) || !errors.Is(err, msg.ErrInvalidField) {
		t.Errorf("talk span without a leg: %v, want a permanent invalid-field error", err)
	}
}

func mustMarshal(t *testing.T, m msg.Message) []byte {
	t.Helper()
	b, err := msg.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkHandleSegment is the analyzer's work per final segment: decode,
// score, publish the scored segment and the call's sentiment (to a
// publisher that only counts, so NATS is not measured), averaged over calls
// of 200 turns (the call sentiment is recomputed from all turns so far).
func BenchmarkHandleSegment(b *testing.B) {
	a, err := NewAnalyzer(&discardPublisher{}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	const turns = 200
	data := make([][]byte, turns)
	for i := range data {
		data[i], _ = msg.Marshal(msg.Segment{
			ID: fmt.Sprintf("bench/customer/%d/0", i), CallID: "bench", Leg: msg.RoleCustomer,
			StartMS: int64(i) * 5000, EndMS: int64(i)*5000 + 3000, Text: benchTexts[i%len(benchTexts)],
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%turns == 0 {
			b.StopTimer()
			a.calls = map[string]*callState{}
			b.StartTimer()
		}
		if err := a.Handle(context.Background(), "earshot.transcript.bench", data[i%turns]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
}

// TestAnalyzerRestart: an analyzer that starts while calls are under way
// reads their earlier messages from the stream, so the final results count
// the whole call; and a call it had already finished stays finished.
func TestAnalyzerRestart(t *testing.T) {
	_, conn := bustest.Start(t)
	out := stageListen(t, conn.NC, msg.AllAnalysis)
	start := func() (*Analyzer, func()) {
		a, err := NewAnalyzer(conn, Config{Grace: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx, conn.JS) }()
		return a, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	C := msg.RoleCustomer
	seg := func(call string, turn int, text string) msg.Segment {
		return msg.Segment{ID: fmt.Sprintf("%s/customer/%d/0", call, turn), CallID: call, Leg: C, Turn: turn,
			StartMS: int64(turn) * 10000, EndMS: int64(turn)*10000 + 2000, Text: text}
	}
	seen := map[string]int{}

	_, stop1 := start()
	live, done := "call-live", "call-done"
	stagePublish(t, conn, msg.SubjectCall(live), msg.CallEvent{CallID: live, Kind: msg.CallStarted})
	stagePublish(t, conn, msg.SubjectTimeline(live), msg.TimelineEvent{CallID: live, Kind: msg.SpanTalk, Leg: C, StartMS: 10000, EndMS: 12000})
	stagePublish(t, conn, msg.SubjectTranscript(live), seg(live, 1, "this is ridiculous"))
	stagePublish(t, conn, msg.SubjectTranscript(live), seg(live, 2, "I want to cancel my account"))
	stagePublish(t, conn, msg.SubjectTranscript(done), seg(done, 1, "thanks"))
	stagePublish(t, conn, msg.SubjectCall(done), msg.CallEvent{CallID: done, Kind: msg.CallEnded, DurationMS: 20000, FinalJobs: map[msg.Role]int{C: 1}})
	for {
		var cs msg.CallSentiment
		if err := msg.Unmarshal(out.next(t, msg.SubjectCallSentiment(done), seen).Data, &cs); err != nil {
			t.Fatal(err)
		}
		if cs.Final {
			break
		}
	}
	// Calls go to workers by call id, so the other call may end first: wait
	// for the live call's two segments before the restart.
	for seen[msg.SubjectScoredSegment(live)] < 2 {
		out.next(t, msg.SubjectScoredSegment(live), seen)
	}
	if n := seen[msg.SubjectScoredSegment(live)]; n != 2 {
		t.Fatalf("before the restart: %d scored segments of the live call, want 2", n)
	}
	stop1()

	a2, stop2 := start()
	defer stop2()
	stagePublish(t, conn, msg.SubjectTranscript(live), seg(live, 3, "still not working"))
	stagePublish(t, conn, msg.SubjectTimeline(live), msg.TimelineEvent{CallID: live, Kind: msg.SpanTalk, Leg: C, StartMS: 30000, EndMS: 32000})
	stagePublish(t, conn, msg.SubjectCall(live), msg.CallEvent{CallID: live, Kind: msg.CallEnded, DurationMS: 40000, FinalJobs: map[msg.Role]int{C: 3}})
	var cs msg.CallSentiment
	for !cs.Final {
		if err := msg.Unmarshal(out.next(t, msg.SubjectCallSentiment(live), seen).Data, &cs); err != nil {
			t.Fatal(err)
		}
	}
	if p := cs.Participants[C]; p.Turns != 3 || p.ConsecutiveNegative != 3 {
		t.Errorf("final after a restart: %d turns, %d negative at the end; want 3 and 3", p.Turns, p.ConsecutiveNegative)
	}
	var ch msg.Characteristics
	for !ch.Final {
		if err := msg.Unmarshal(out.next(t, msg.SubjectCharacteristics(live), seen).Data, &ch); err != nil {
			t.Fatal(err)
		}
	}
	if ch.TalkMS[C] != 4000 {
		t.Errorf("final talk time after a restart %d ms, want 4000 (a span from before it and one after)", ch.TalkMS[C])
	}

	// A late final for the call finished before the restart is scored, and
	// the call is not taken up again.
	stagePublish(t, conn, msg.SubjectTranscript(done), seg(done, 2, "bye"))
	for {
		var ss msg.ScoredSegment
		if err := msg.Unmarshal(out.next(t, msg.SubjectScoredSegment(done), seen).Data, &ss); err != nil {
			t.Fatal(err)
		}
		if ss.Segment.Turn == 2 {
			break
		}
	}
	a2.mu.Lock()
	_, kept := a2.calls[done]
	a2.mu.Unlock()
	if kept {
		t.Error("a call finished before the restart was taken up again")
	}
}

// TestAnalyzerLanguages: a Korean segment is scored by the Korean model
// whether the transcriber named its language or not, and a segment in a
// language with no model is neutral and says why; the characteristics give
// Korean talk speed in syllables per minute.
func TestAnalyzerLanguages(t *testing.T) {
	_, conn := bustest.Start(t)
	a, err := NewAnalyzer(conn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	out := stageListen(t, conn.NC, msg.AllAnalysis)
	runAnalyzer(t, a, conn)
	call, C := "call-ko", msg.RoleCustomer
	segs := []msg.Segment{
		{ID: call + "/customer/1/0", Turn: 1, StartMS: 0, EndMS: 3000, Language: "ko", Text: "너무 화가 나요. 해지해 주세요."},
		{ID: call + "/customer/2/0", Turn: 2, StartMS: 4000, EndMS: 6000, Text: "정말 감사합니다."},
		{ID: call + "/customer/3/0", Turn: 3, StartMS: 7000, EndMS: 9000, Language: "ja", Text: "ありがとうございます"},
	}
	want := []struct{ label, lang, unscored string }{
		{msg.Negative, "ko", ""},
		{msg.Positive, "ko", ""},
		{msg.Neutral, "ja", `no sentiment model for language "ja"`},
	}
	seen := map[string]int{}
	for i, s := range segs {
		s.CallID, s.Leg = call, C
		stagePublish(t, conn, msg.SubjectTranscript(call), s)
		var got msg.ScoredSegment
		if err := msg.Unmarshal(out.next(t, msg.SubjectScoredSegment(call), seen).Data, &got); err != nil {
			t.Fatal(err)
		}
		w := want[i]
		if got.Segment.ID != s.ID || got.Sentiment.Label != w.label || got.Sentiment.Language != w.lang || got.Sentiment.Unscored != w.unscored {
			t.Errorf("segment %s scored %+v, want label %s, language %s, unscored %q", s.ID, got.Sentiment, w.label, w.lang, w.unscored)
		}
	}
	stagePublish(t, conn, msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, DurationMS: 10000, FinalJobs: map[msg.Role]int{C: 3}})
	var ch msg.Characteristics
	for !ch.Final {
		if err := msg.Unmarshal(out.next(t, msg.SubjectCharacteristics(call), seen).Data, &ch); err != nil {
			t.Fatal(err)
		}
	}
	// 너무 화가 나요. 해지해 주세요. (12) and 정말 감사합니다. (7) in 5 s;
	// the Japanese turn has no Hangul.
	if got := ch.TalkSpeedSPM[C]; got != 228 {
		t.Errorf("customer syllables per minute %v, want 228", got)
	}
}
