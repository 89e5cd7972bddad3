package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// TestSentimentStage starts the sentiment part of the analyze stage from its
// flags on a real embedded NATS and follows one call to its final results.
func TestSentimentStage(t *testing.T) {
	// Only this test's goroutines: an earlier test's leftovers (nats.go's
	// ObjectStore.Put can leave one behind) are that test's to answer for.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before, natsJetStreamLeak) }) // first registered, so it runs last
	_, conn := bustest.Start(t)
	e := newEnv(slog.New(slog.DiscardHandler), conn, t.TempDir(), stdio{nil, io.Discard, io.Discard})

	var o sentimentOptions
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	o.flags(fs)
	if err := fs.Parse([]string{"--sentiment-grace", "30s", "--non-talk-min", "2s"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run, err := o.start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *nats.Msg, 64)
	sub, err := conn.NC.ChanSubscribe(msg.AllAnalysis, out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	}()

	pub := func(subject string, m msg.Message) { publishMsg(t, conn, subject, m) }
	call := "stage-1"
	pub(msg.SubjectTimeline(call), msg.TimelineEvent{CallID: call, Kind: msg.SpanTalk, Leg: msg.RoleCustomer, StartMS: 0, EndMS: 2000})
	pub(msg.SubjectTranscript(call), msg.Segment{ID: call + "/customer/1/0", CallID: call, Leg: msg.RoleCustomer, StartMS: 0, EndMS: 2000, Text: "this is ridiculous"})
	pub(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, DurationMS: 4500, FinalJobs: map[msg.Role]int{msg.RoleCustomer: 1}})

	var cs msg.CallSentiment
	var ch msg.Characteristics
	timeout := time.After(10 * time.Second)
	for !cs.Final || !ch.Final {
		select {
		case m := <-out:
			switch m.Subject {
			case msg.SubjectCallSentiment(call):
				if err := msg.Unmarshal(m.Data, &cs); err != nil {
					t.Fatal(err)
				}
			case msg.SubjectCharacteristics(call):
				if err := msg.Unmarshal(m.Data, &ch); err != nil {
					t.Fatal(err)
				}
			}
		case <-timeout:
			t.Fatalf("no final results within 10 s (sentiment final %v, characteristics final %v)", cs.Final, ch.Final)
		}
	}
	if cs.Participants[msg.RoleCustomer].Overall != -5 {
		t.Errorf("customer overall %v, want -5", cs.Participants[msg.RoleCustomer].Overall)
	}
	// --non-talk-min 2s: the 2.5 s after the talk counts.
	if ch.NonTalkMS != 2500 {
		t.Errorf("non-talk %d ms, want 2500 with --non-talk-min 2s", ch.NonTalkMS)
	}
}

func TestSentimentStageBadFlags(t *testing.T) {
	_, conn := bustest.Start(t)
	e := newEnv(slog.New(slog.DiscardHandler), conn, t.TempDir(), stdio{nil, io.Discard, io.Discard})
	o := sentimentOptions{grace: -time.Second}
	if _, err := o.start(context.Background(), e); err == nil {
		t.Error("a negative grace was accepted")
	}
}
