package record_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/record"
	"github.com/nats-io/nats.go"
)

// TestCardNumberCallRedacted sends the card-number example call over real
// RTP to capture, records it, and redacts the card number's words: the
// redacted recording is silent over them (padded 100 ms) on both
// channels and the original's, byte for byte, everywhere else.
func TestCardNumberCallRedacted(t *testing.T) {
	_, conn := bustest.Start(t)
	st := newDir(t)
	s := startRecorder(t, record.RecorderConfig{Store: st})
	c, err := capture.New(capture.Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Recorder: s.rec}, conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	ann, err := conn.NC.Subscribe(msg.SubjectAnnounce, func(m *nats.Msg) { _ = m.Respond(c.AnnounceRequest(m.Data)) })
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Unsubscribe()
	jobs := make(chan *nats.Msg, 1000)
	sub, err := conn.NC.ChanSubscribe(msg.SubjectAudio("card", msg.RoleCustomer), jobs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	var legs []sender.Leg
	for _, role := range []msg.Role{msg.RoleAgent, msg.RoleCustomer} {
		pcm, err := sender.ReadWAVFile("../examples/calls/card-number." + string(role) + ".wav")
		if err != nil {
			t.Fatal(err)
		}
		legs = append(legs, sender.Leg{Role: role, PCM: pcm})
	}
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	if _, err := sender.Send(sctx, sender.SendConfig{To: c.Addrs()[0], CallID: "card", Speed: sender.Speed{Factor: 10},
		Announcer: sender.NATSAnnouncer{Conn: conn.NC}, Legs: legs}); err != nil {
		t.Fatal(err)
	}
	waitSealed(t, s, "card")

	// The customer's second turn (at 11.5 s) reads the card number out:
	// "Yes, it is four one one one, ..." The double times "Yes, it is" as
	// the turn's first 700 ms and the sixteen digits evenly after it.
	var from, to int64 = -1, -1
	for len(jobs) > 0 {
		j, err := msg.DecodeUtterance((<-jobs).Data)
		if err != nil {
			t.Fatal(err)
		}
		if !j.Interim && j.StartMS > 10_500 && j.StartMS < 20_000 {
			if from < 0 {
				from = j.StartMS
			}
			to = max(to, j.EndMS)
		}
	}
	if from < 0 || to-from < 4000 {
		t.Fatalf("no card-number turn found (from %d to %d ms)", from, to)
	}
	card := msg.StoredSegment{Segment: msg.Segment{CallID: "card", Leg: msg.RoleCustomer, StartMS: from, EndMS: to}}
	card.Words = append(card.Words, msg.Word{Text: "Yes,", StartMS: from, EndMS: from + 200}, msg.Word{Text: "it", StartMS: from + 250, EndMS: from + 400},
		msg.Word{Text: "is", StartMS: from + 450, EndMS: from + 650})
	step := (to - from - 700) / 16
	for i := range int64(16) {
		card.Words = append(card.Words, msg.Word{StartMS: from + 700 + i*step, EndMS: from + 700 + (i+1)*step - 20, Redacted: true})
	}
	redactedDone := make(chan string, 1)
	r, err := record.NewRedactor(record.RedactorConfig{Store: st, Policy: record.PolicyRedactedAndOriginal, Done: func(c string) { redactedDone <- c }})
	if err != nil {
		t.Fatal(err)
	}
	spans := record.Masked(&msg.CallRecord{Segments: []msg.StoredSegment{card}})
	if err := r.Apply(context.Background(), msg.AudioRedaction{CallID: "card", Spans: spans}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-redactedDone:
	default:
		t.Fatal("a sealed recording not redacted when its spans came")
	}

	origA, origC, rec := readRecording(t, st, record.OriginalName("card"))
	redA, redC, _ := readRecording(t, st, record.RedactedName("card"))
	if len(redA) != len(origA) || rec.Frames < 30*8000 {
		t.Fatalf("redacted %d frames, original %d (want the call's ~38 s)", len(redA), len(origA))
	}
	lo, hi := (from+700-100)*8, (to-20+100)*8 // the padded span, in samples
	var speech float64
	for i := range origA {
		if int64(i) >= lo && int64(i) < hi {
			if redA[i] != 0 || redC[i] != 0 {
				t.Fatalf("sample %d (%d ms) inside the card number is %d/%d, not silent", i, i/8, redA[i], redC[i])
			}
			speech += float64(origC[i]) * float64(origC[i])
			continue
		}
		if redA[i] != origA[i] || redC[i] != origC[i] {
			t.Fatalf("sample %d (%d ms) outside the card number changed", i, i/8)
		}
	}
	if speech/float64(hi-lo) < 1e4 { // -35 dBFS
		t.Errorf("the original is quiet over %d-%d ms: the masked span missed the card number", lo/8, hi/8)
	}
}
