package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
	"github.com/nats-io/nats.go"
)

// TestAudioRedactionAfterCommit: a call's last segment and its final
// characteristics stored in one batch (one transaction): the audio
// redaction is published after the commit, read from the store, so it
// masks the last segment's card number. Read inside the batch, the store
// had the call without its last segment.
func TestAudioRedactionAfterCommit(t *testing.T) {
	_, c := bustest.Start(t)
	s := openSQLite(t)
	stored := make(chan string, 16)
	a, err := store.NewArchiver(store.ArchiverConfig{Store: s, OnStored: func(sub string) { stored <- sub }})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *nats.Msg, 4)
	sub, err := c.NC.ChanSubscribe(msg.SubjectRedaction("r1"), got)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	words := []msg.Word{{Text: "my", StartMS: 1000, EndMS: 1200}, {Text: "card", StartMS: 1300, EndMS: 1600}, {Text: "is", StartMS: 1700, EndMS: 1800}}
	for i := range int64(4) {
		words = append(words, msg.Word{Text: "4111", StartMS: 2000 + 500*i, EndMS: 2400 + 500*i})
	}
	// The call is stored; then its last segment and its final come in one
	// batch (published while the archiver is stopped).
	publish(t, c, msg.SubjectCall("r1"), msg.CallEvent{CallID: "r1", Kind: msg.CallStarted, Time: t0, StartedAt: t0})
	publish(t, c, msg.SubjectDTMF("r1"), msg.DTMFEvent{CallID: "r1", Leg: msg.RoleCustomer, Digit: "5", StartMS: 500, DurationMS: 80})
	first := runArchiver(t, a, c)
	waitFor(t, stored, msg.SubjectDTMF("r1"))
	if err := first(); err != nil {
		t.Fatal(err)
	}
	publish(t, c, msg.SubjectTranscript("r1"), msg.Segment{ID: "r1/customer/1/0", CallID: "r1", Leg: msg.RoleCustomer, Turn: 1,
		StartMS: 1000, EndMS: 4000, Text: "my card is 4111 4111 4111 4111", Words: words})
	publish(t, c, msg.SubjectCharacteristics("r1"), msg.Characteristics{CallID: "r1", AtMS: 4000, Final: true})
	stop := runArchiver(t, a, c)
	defer stop()
	select {
	case m := <-got:
		var red msg.AudioRedaction
		if err := msg.Unmarshal(m.Data, &red); err != nil {
			t.Fatal(err)
		}
		want := []msg.Span{{StartMS: 500, EndMS: 580}, {StartMS: 2000, EndMS: 2400}, {StartMS: 2500, EndMS: 2900}, {StartMS: 3000, EndMS: 3400}, {StartMS: 3500, EndMS: 3900}}
		if red.CallID != "r1" || len(red.Spans) != len(want) {
			t.Fatalf("audio redaction %+v, want the DTMF digit and the card number's four words %v", red, want)
		}
		for i := range want {
			if red.Spans[i] != want[i] {
				t.Fatalf("audio redaction %+v, want %v", red.Spans, want)
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no audio redaction published for the final call")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Call(context.Background(), "r1", false); err != nil {
		t.Fatal(err)
	}
}
