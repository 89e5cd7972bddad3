package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
)

// BenchmarkApply: one final segment taken into the live state.
func BenchmarkApply(b *testing.B) {
	ls := liveState{calls: map[string]*liveCall{}}
	now := time.Now()
	data := make([][]byte, 256)
	for i := range data {
		s := seg("c1", msg.RoleCustomer, 1, false, 0, int64(i)*1000, "I would like to cancel my subscription please")
		s.ID = fmt.Sprintf("c1/customer/%d/0", i)
		data[i], _ = msg.Marshal(s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ls.apply(msg.SubjectTranscript("c1"), data[i%len(data)], now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFanOut: one board change pushed to 100 connected browsers.
func BenchmarkFanOut(b *testing.B) {
	h := hub{subs: map[*subscriber]struct{}{}, redact: RedactDigits, onDrop: func() {}, onPush: func() {}}
	subs := make([]*subscriber, 100)
	for i := range subs {
		subs[i] = &subscriber{ch: make(chan []byte, 1)}
		h.add(subs[i])
	}
	c := &liveCall{id: "c1", segs: map[string]*msg.StoredSegment{}}
	c.info.Agent = "ann"
	ch := change{callID: "c1", kind: "sentiment", row: true}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.publish(ch, "ann", func() boardRow { return c.summary(time.Now()) })
		for _, s := range subs {
			<-s.ch
		}
	}
}

// BenchmarkNATSToBrowser: the time from publishing a segment on a real
// NATS (JetStream) to its frame arriving on a browser's event stream over
// HTTP, one event at a time.
func BenchmarkNATSToBrowser(b *testing.B) {
	_, conn := bustest.Start(b)
	ts := startTestServer(b, Config{JS: conn.JS})
	<-ts.Ready()
	c := ts.login(b, "sue")
	publish := func(m msg.Message, subject string) {
		data, _ := msg.Marshal(m)
		if err := conn.Publish(b.Context(), subject, data); err != nil {
			b.Fatal(err)
		}
	}
	publish(msg.CallEvent{CallID: "c1", Kind: msg.CallStarted, StartedAt: time.Now(), Agent: "bob"}, msg.SubjectCall("c1"))
	evs, stop := c.events("/api/ui/live")
	defer stop()
	wait := func(kind string) {
		for ev := range evs {
			if ev.kind == kind {
				return
			}
		}
		b.Fatal("stream ended")
	}
	wait("snapshot")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		publish(msg.CallSentiment{CallID: "c1", Participants: map[msg.Role]msg.ParticipantSentiment{msg.RoleCustomer: {Current: float64(i % 5)}}}, msg.SubjectCallSentiment("c1"))
		wait("row")
	}
}
