package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/redact"
	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/sqlite"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), sqlite.FileName)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func publish(t *testing.T, c *bus.Conn, subject string, m msg.Message) {
	t.Helper()
	b, err := msg.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), subject, b); err != nil {
		t.Fatal(err)
	}
}

// runArchiver runs a until stop is called, and returns stop, which returns Run's error.
func runArchiver(t *testing.T, a *store.Archiver, c *bus.Conn) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, c.JS) }()
	return sync.OnceValue(func() error { cancel(); return <-done })
}

func waitFor(t *testing.T, ch <-chan string, subject string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case s := <-ch:
			if s == subject {
				return
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s to be stored", subject)
		}
	}
}

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func TestArchiverStoresRedactedCall(t *testing.T) {
	for _, policy := range []store.Policy{store.PolicyRedacted, store.PolicyRedactedAndOriginal} {
		t.Run(string(policy), func(t *testing.T) {
			_, c := bustest.Start(t)
			s := openSQLite(t)
			stored := make(chan string, 100)
			r, _ := redact.New(redact.Config{Mask: redact.MaskEntity})
			a, err := store.NewArchiver(store.ArchiverConfig{Store: s, Policy: policy, Redactor: r, OnStored: func(sub string) { stored <- sub }})
			if err != nil {
				t.Fatal(err)
			}
			stop := runArchiver(t, a, c)
			defer stop()

			publish(t, c, msg.SubjectCall("k1"), msg.CallEvent{CallID: "k1", Kind: msg.CallStarted, Time: t0, StartedAt: t0, Agent: "alice", Queue: "billing"})
			publish(t, c, msg.SubjectDTMF("k1"), msg.DTMFEvent{CallID: "k1", Leg: msg.RoleCustomer, Digit: "7", StartMS: 100, DurationMS: 80})
			publish(t, c, msg.SubjectDTMF("k1"), msg.DTMFEvent{CallID: "k1", Leg: msg.RoleCustomer, Digit: "3", StartMS: 300, DurationMS: 80})
			publish(t, c, msg.SubjectDTMF("k1"), msg.DTMFEvent{CallID: "k1", Leg: msg.RoleCustomer, Digit: "9", StartMS: 500, DurationMS: 80})
			interim := msg.Segment{ID: "k1/customer/1/0", CallID: "k1", Leg: msg.RoleCustomer, Turn: 1, Interim: true, Rev: 1, Text: "my card"}
			publish(t, c, msg.SubjectTranscript("k1"), interim)
			final := msg.Segment{ID: "k1/customer/1/0", CallID: "k1", Leg: msg.RoleCustomer, Turn: 1, StartMS: 1000, EndMS: 6000,
				Text:  "my card number is four one one one one one one one one one one one one one one one",
				Words: []msg.Word{{Text: "four", StartMS: 2000, EndMS: 2200}}}
			publish(t, c, msg.SubjectTranscript("k1"), final)
			publish(t, c, msg.SubjectScoredSegment("k1"), msg.ScoredSegment{Segment: final, Sentiment: msg.Sentiment{Label: msg.Neutral, Compound: 0.1}})
			keyed := msg.Segment{ID: "k1/customer/2/0", CallID: "k1", Leg: msg.RoleCustomer, Turn: 2, StartMS: 30000, EndMS: 33000, Text: "okay I typed seven three nine on the keypad"}
			publish(t, c, msg.SubjectTranscript("k1"), keyed)
			publish(t, c, msg.SubjectAlert("k1"), msg.Alert{ID: "k1/pci/1", CallID: "k1", RuleID: "pci", RuleName: "Card read out", Severity: "critical",
				Message: "customer said 4111111111111111", Matches: []msg.Match{{Text: "4111 1111 1111 1111"}}, Time: t0})
			publish(t, c, msg.SubjectCategories("k1"), msg.Categories{CallID: "k1", Categories: []msg.Category{{Name: "payment", RuleID: "pay", Matches: []msg.Match{{Text: "ssn 123-45-6789"}}}}})
			publish(t, c, msg.SubjectCallSentiment("k1"), msg.CallSentiment{CallID: "k1", AtMS: 6000, Final: true, Participants: map[msg.Role]msg.ParticipantSentiment{msg.RoleCustomer: {Overall: 1.5}}})
			publish(t, c, msg.SubjectCharacteristics("k1"), msg.Characteristics{CallID: "k1", AtMS: 6000, Final: true, NonTalkMS: 900})
			publish(t, c, msg.SubjectTimeline("k1"), msg.TimelineEvent{CallID: "k1", Kind: msg.SpanSilence, StartMS: 0, EndMS: 900})
			publish(t, c, msg.SubjectCall("k1"), msg.CallEvent{CallID: "k1", Kind: msg.CallEnded, Time: t0.Add(time.Minute), StartedAt: t0, DurationMS: 60000})
			waitFor(t, stored, msg.SubjectCall("k1")) // the start
			waitFor(t, stored, msg.SubjectCall("k1")) // the end, stored last
			if err := stop(); err != nil {
				t.Fatal(err)
			}

			rec, err := s.Call(context.Background(), "k1", false)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Segments) != 2 {
				t.Fatalf("segments = %+v", rec.Segments)
			}
			if want := "okay I typed [PIN] on the keypad"; rec.Segments[1].Text != want {
				t.Errorf("DTMF digits in text: %q, want %q", rec.Segments[1].Text, want)
			}
			g := rec.Segments[0]
			if want := "my card number is [CREDIT_DEBIT_NUMBER]"; g.Text != want {
				t.Errorf("stored text %q, want %q", g.Text, want)
			}
			// One word of the sixteen is timed: the whole segment is masked.
			if want := []msg.Word{{StartMS: 1000, EndMS: 6000, Redacted: true}}; !slices.Equal(g.Words, want) {
				t.Errorf("stored words %+v, want %+v", g.Words, want)
			}
			if g.Original != "" || g.Sentiment == nil || g.Sentiment.Compound != 0.1 {
				t.Errorf("stored segment = %+v", g)
			}
			if m := rec.Alerts[0]; strings.Contains(m.Message, "4111") || strings.Contains(m.Matches[0].Text, "4111") {
				t.Errorf("alert kept a card number: %+v", m)
			}
			if strings.Contains(rec.Categories[0].Matches[0].Text, "6789") {
				t.Errorf("category kept an SSN: %+v", rec.Categories[0])
			}
			if len(rec.DTMF) != 3 || rec.DTMF[0].Digit != "[PIN]" {
				t.Errorf("dtmf = %+v", rec.DTMF)
			}
			if rec.Call.EndedAt == nil || rec.Call.NonTalkMS != 900 || rec.Call.Sentiment[msg.RoleCustomer] != 1.5 {
				t.Errorf("call = %+v", rec.Call)
			}
			rec, err = s.Call(context.Background(), "k1", true)
			if err != nil {
				t.Fatal(err)
			}
			wantOrig, wantDigit := "", "[PIN]"
			if policy == store.PolicyRedactedAndOriginal {
				wantOrig, wantDigit = final.Text, "7"
			}
			if rec.Segments[0].Original != wantOrig || rec.DTMF[0].Digit != wantDigit {
				t.Errorf("original %q digit %q, want %q %q", rec.Segments[0].Original, rec.DTMF[0].Digit, wantOrig, wantDigit)
			}
		})
	}
}

// TestArchiverRedactsByLanguage: a segment's language picks the
// redactor's reader; without one, Hangul in the text means Korean.
func TestArchiverRedactsByLanguage(t *testing.T) {
	_, c := bustest.Start(t)
	s := openSQLite(t)
	stored := make(chan string, 100)
	r, _ := redact.New(redact.Config{Mask: redact.MaskEntity})
	a, err := store.NewArchiver(store.ArchiverConfig{Store: s, Redactor: r, OnStored: func(sub string) { stored <- sub }})
	if err != nil {
		t.Fatal(err)
	}
	stop := runArchiver(t, a, c)
	defer stop()
	publish(t, c, msg.SubjectCall("ko1"), msg.CallEvent{CallID: "ko1", Kind: msg.CallStarted, Time: t0, StartedAt: t0})
	texts := []struct{ lang, text, want string }{
		{"ko", "제 번호는 공일공에 일이삼사에 오육칠팔이요", "제 번호는 [PHONE]이요"},
		// Korean numbering (a mobile number starts 010) for a Korean
		// speaker, though whisper wrote Latin text.
		{"ko", "my number is 010 1234 5678", "my number is [PHONE]"},
		{"en", "my number is 010 1234 5678", "my number is 010 1234 5678"},
		{"", "주민번호는 구오공일일오 다시 일이삼사오육칠입니다", "주민번호는 [KR_RESIDENT_REGISTRATION_NUMBER]입니다"},
	}
	for i, x := range texts {
		publish(t, c, msg.SubjectTranscript("ko1"), msg.Segment{ID: fmt.Sprintf("ko1/customer/%d/0", i+1), CallID: "ko1", Leg: msg.RoleCustomer,
			Turn: i + 1, StartMS: int64(i) * 1000, EndMS: int64(i)*1000 + 900, Text: x.text, Language: x.lang})
	}
	publish(t, c, msg.SubjectCall("ko1"), msg.CallEvent{CallID: "ko1", Kind: msg.CallEnded, Time: t0.Add(time.Minute), DurationMS: 60000})
	waitFor(t, stored, msg.SubjectCall("ko1"))
	waitFor(t, stored, msg.SubjectCall("ko1"))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Call(context.Background(), "ko1", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Segments) != len(texts) {
		t.Fatalf("segments %+v", rec.Segments)
	}
	for i, x := range texts {
		if got := rec.Segments[i].Text; got != x.want {
			t.Errorf("language %q: stored %q, want %q", x.lang, got, x.want)
		}
	}
}

func TestArchiverDeadLettersMalformed(t *testing.T) {
	_, c := bustest.Start(t)
	s := openSQLite(t)
	dead := make(chan msg.DeadLetter, 1)
	sub, err := c.NC.Subscribe(msg.SubjectDeadLetter("store"), func(m *nats.Msg) {
		var d msg.DeadLetter
		if err := msg.Unmarshal(m.Data, &d); err == nil {
			dead <- d
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	stored := make(chan string, 10)
	a, err := store.NewArchiver(store.ArchiverConfig{Store: s, OnStored: func(sub string) { stored <- sub }})
	if err != nil {
		t.Fatal(err)
	}
	stop := runArchiver(t, a, c)
	defer stop()
	if err := c.Publish(context.Background(), msg.SubjectTranscript("m1"), []byte(`{"schema":"segment","v":1,"data":{"id":5}}`)); err != nil {
		t.Fatal(err)
	}
	publish(t, c, msg.SubjectCall("m2"), msg.CallEvent{CallID: "m2", Kind: msg.CallStarted, Time: t0, StartedAt: t0})
	select {
	case d := <-dead:
		if d.Subject != msg.SubjectTranscript("m1") || !strings.Contains(d.Reason, "malformed") {
			t.Errorf("dead letter = %+v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no dead letter")
	}
	waitFor(t, stored, msg.SubjectCall("m2"))
}

// TestArchiverRestartLosesNothing stops the archiver in the middle of a
// stream and starts it again: every event is stored exactly once.
func TestArchiverRestartLosesNothing(t *testing.T) {
	_, c := bustest.Start(t)
	s := openSQLite(t)
	const calls, perCall = 10, 40
	for i := range calls {
		id := fmt.Sprintf("r%d", i)
		publish(t, c, msg.SubjectCall(id), msg.CallEvent{CallID: id, Kind: msg.CallStarted, Time: t0, StartedAt: t0.Add(time.Duration(i) * time.Minute), Agent: "agent"})
	}
	for j := range perCall {
		for i := range calls {
			id := fmt.Sprintf("r%d", i)
			seg := msg.Segment{ID: fmt.Sprintf("%s/agent/%d/0", id, j+1), CallID: id, Leg: msg.RoleAgent, Turn: j + 1, StartMS: int64(j) * 1000, Text: fmt.Sprintf("turn number %d of the call", j+1)}
			publish(t, c, msg.SubjectTranscript(id), seg)
			publish(t, c, msg.SubjectAlert(id), msg.Alert{ID: fmt.Sprintf("%s/a/%d", id, j), CallID: id, RuleID: "a", Time: t0})
		}
	}
	publish(t, c, msg.SubjectCall("zz-last"), msg.CallEvent{CallID: "zz-last", Kind: msg.CallStarted, Time: t0, StartedAt: t0})

	stored := make(chan string, 2*calls*perCall+calls+10)
	n := 0
	stopAt := make(chan struct{})
	a1, err := store.NewArchiver(store.ArchiverConfig{Store: s, AckWait: time.Second, OnStored: func(sub string) {
		n++
		if n == 250 {
			close(stopAt)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runArchiver(t, a1, c)
	select {
	case <-stopAt:
	case <-time.After(30 * time.Second):
		t.Fatal("the first archiver stored fewer than 250 messages")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Part of the stream is stored, part is not.
	res, err := s.Search(context.Background(), msg.SearchQuery{Text: "turn", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total == 0 {
		t.Fatal("nothing stored before the restart")
	}
	if rec, err := s.Call(context.Background(), "zz-last", false); !errors.Is(err, msg.ErrNotFound) {
		t.Fatalf("the archiver was stopped after the end of the stream (%+v, %v)", rec.Call, err)
	}

	// What the first archiver had in flight when it stopped comes again
	// after AckWait; wait until everything is there, then check nothing
	// is there twice.
	a2, err := store.NewArchiver(store.ArchiverConfig{Store: s, AckWait: time.Second, OnStored: func(sub string) { stored <- sub }})
	if err != nil {
		t.Fatal(err)
	}
	stop = runArchiver(t, a2, c)
	defer stop()
	deadline := time.After(2 * time.Minute) // the race detector slows the store tenfold
	last := false
	for n := 0; n < 2*calls*perCall || !last; {
		select {
		case sub := <-stored:
			last = last || sub == msg.SubjectCall("zz-last")
		case <-deadline:
			t.Fatalf("after the restart only %d of %d segments and alerts are stored", n, 2*calls*perCall)
		}
		var segs, alerts int
		if err := s.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM segments), (SELECT COUNT(*) FROM alerts)`).Scan(&segs, &alerts); err != nil {
			t.Fatal(err)
		}
		n = segs + alerts
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i := range calls {
		rec, err := s.Call(context.Background(), fmt.Sprintf("r%d", i), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Segments) != perCall || len(rec.Alerts) != perCall || rec.Call.Agent != "agent" {
			t.Errorf("call r%d: %d segments, %d alerts, agent %q; want %d, %d, agent", i, len(rec.Segments), len(rec.Alerts), rec.Call.Agent, perCall, perCall)
		}
		total += len(rec.Segments)
	}
	if total != calls*perCall {
		t.Errorf("%d segments stored, want exactly %d", total, calls*perCall)
	}
}

func TestNewArchiverChecksConfig(t *testing.T) {
	if _, err := store.NewArchiver(store.ArchiverConfig{}); err == nil {
		t.Error("an archiver without a store")
	}
	if _, err := store.NewArchiver(store.ArchiverConfig{Store: openSQLite(t), Policy: "keep-all"}); err == nil || !strings.Contains(err.Error(), "keep-all") {
		t.Errorf("bad policy: %v", err)
	}
}

// signalStore tells when retention ran.
type signalStore struct {
	store.Store
	ran chan int
}

func (s signalStore) DeleteBefore(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := s.Store.DeleteBefore(ctx, cutoff)
	s.ran <- n
	return n, err
}

func TestRetainDeletesOldCalls(t *testing.T) {
	s := openSQLite(t)
	ctx := context.Background()
	now := t0.Add(40 * 24 * time.Hour)
	for i, age := range []int{45, 31, 29, 1} {
		at := now.Add(-time.Duration(age) * 24 * time.Hour)
		if err := s.PutCall(ctx, msg.CallEvent{CallID: fmt.Sprintf("d%d", i), Kind: msg.CallStarted, Time: at, StartedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	ss := signalStore{s, make(chan int, 1)}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- store.Retain(rctx, ss, store.RetentionConfig{Days: 30, Every: time.Hour, Now: func() time.Time { return now }})
	}()
	select {
	case n := <-ss.ran:
		if n != 2 {
			t.Errorf("deleted %d calls, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("retention did not run")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(ctx, msg.SearchQuery{})
	if err != nil || res.Total != 2 {
		t.Fatalf("left %d calls (%v), want 2", res.Total, err)
	}
	if err := store.Retain(ctx, s, store.RetentionConfig{Days: -1}); err == nil {
		t.Error("negative retention accepted")
	}
}

// An evaluation on the bus is kept with the call, an analyst's comment
// redacted, and the call is found by its score.
func TestArchiverKeepsEvaluations(t *testing.T) {
	_, c := bustest.Start(t)
	s := openSQLite(t)
	stored := make(chan string, 100)
	r, _ := redact.New(redact.Config{Mask: redact.MaskEntity})
	a, err := store.NewArchiver(store.ArchiverConfig{Store: s, Redactor: r, OnStored: func(sub string) { stored <- sub }})
	if err != nil {
		t.Fatal(err)
	}
	stop := runArchiver(t, a, c)
	defer stop()
	publish(t, c, msg.SubjectCall("ev1"), msg.CallEvent{CallID: "ev1", Kind: msg.CallStarted, Time: t0, StartedAt: t0})
	score := 87.5
	publish(t, c, msg.SubjectEvaluation("ev1"), msg.Evaluation{CallID: "ev1", Form: "qa", FormVersion: "v1", ScoredAt: t0, Score: &score,
		Answers: []msg.EvaluatedAnswer{{Question: "greeting", Value: "yes", Auto: "no", By: "quinn", Comment: "card 4111 1111 1111 1111 read back"}}})
	waitFor(t, stored, msg.SubjectCall("ev1"))
	waitFor(t, stored, msg.SubjectEvaluation("ev1"))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Call(context.Background(), "ev1", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Evaluations) != 1 || *rec.Evaluations[0].Score != 87.5 || strings.Contains(rec.Evaluations[0].Answers[0].Comment, "4111") {
		t.Fatalf("evaluations %+v", rec.Evaluations)
	}
	atLeast := 80.0
	res, err := s.Search(context.Background(), msg.SearchQuery{MinScore: &atLeast})
	if err != nil || res.Total != 1 {
		t.Errorf("calls scoring 80 or more: %+v %v", res, err)
	}
}

// A DTMF event handled again (redelivered, or a batch written again
// message by message) does not press its digit twice: the digits still
// mask what the transcript caught of them.
func TestArchiverDTMFHandledTwice(t *testing.T) {
	s := openSQLite(t)
	a, err := store.NewArchiver(store.ArchiverConfig{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	handle := func(subject string, m msg.Message) {
		t.Helper()
		b, err := msg.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Handle(ctx, subject, b); err != nil {
			t.Fatal(err)
		}
	}
	handle(msg.SubjectCall("d1"), msg.CallEvent{CallID: "d1", Kind: msg.CallStarted, Time: t0, StartedAt: t0})
	for _, d := range []msg.DTMFEvent{{Digit: "7", StartMS: 100}, {Digit: "3", StartMS: 300}, {Digit: "3", StartMS: 300}, {Digit: "9", StartMS: 500}} {
		d.CallID, d.Leg, d.DurationMS = "d1", msg.RoleCustomer, 80
		handle(msg.SubjectDTMF("d1"), d)
	}
	handle(msg.SubjectTranscript("d1"), msg.Segment{ID: "d1/customer/1/0", CallID: "d1", Leg: msg.RoleCustomer, Turn: 1, StartMS: 600, EndMS: 900, Text: "I typed 7 3 9"})
	rec, err := s.Call(ctx, "d1", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Segments) != 1 || strings.Contains(rec.Segments[0].Text, "7") {
		t.Fatalf("segments %+v; want the pressed digits masked", rec.Segments)
	}
}

// TestArchiverAnnouncesStoredCall: once a call's final categories are
// committed, and only then, the archiver says the call is stored, once,
// even when the final categories come again.
func TestArchiverAnnouncesStoredCall(t *testing.T) {
	_, c := bustest.Start(t)
	s := openSQLite(t)
	stored := make(chan string, 100)
	a, err := store.NewArchiver(store.ArchiverConfig{Store: s, OnStored: func(sub string) { stored <- sub }})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.NC.SubscribeSync(msg.AllStored)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	stop := runArchiver(t, a, c)
	defer stop()
	publish(t, c, msg.SubjectCall("k2"), msg.CallEvent{CallID: "k2", Kind: msg.CallStarted, Time: t0, StartedAt: t0})
	publish(t, c, msg.SubjectCategories("k2"), msg.Categories{CallID: "k2", Categories: []msg.Category{{Name: "live"}}})
	publish(t, c, msg.SubjectCall("k2"), msg.CallEvent{CallID: "k2", Kind: msg.CallEnded, Time: t0.Add(time.Minute), StartedAt: t0, DurationMS: 60000})
	final := msg.Categories{CallID: "k2", Final: true, Categories: []msg.Category{{Name: "live"}, {Name: "after"}}}
	publish(t, c, msg.SubjectCategories("k2"), final)
	publish(t, c, msg.SubjectCategories("k2"), final) // a redelivery, as the archiver sees it
	publish(t, c, msg.SubjectCall("k3"), msg.CallEvent{CallID: "k3", Kind: msg.CallStarted, Time: t0, StartedAt: t0})
	waitFor(t, stored, msg.SubjectCall("k3"))
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var cs msg.CallStored
	if err := msg.Unmarshal(m.Data, &cs); err != nil || m.Subject != msg.SubjectStored("k2") || cs.CallID != "k2" {
		t.Fatalf("announced %s %+v %v", m.Subject, cs, err)
	}
	rec, err := s.Call(context.Background(), "k2", false)
	if err != nil || len(rec.Categories) != 2 {
		t.Fatalf("announced before the final categories were stored: %+v %v", rec.Categories, err)
	}
	st, err := c.JS.Stream(context.Background(), bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(msg.AllStored))
	if err != nil || info.State.Subjects[msg.SubjectStored("k2")] != 1 {
		t.Fatalf("announcements kept: %v %v, want one", info.State.Subjects, err)
	}
}

// The archiver's consumer reads the events stream unfiltered (a consumer
// filtered by several subjects costs the NATS server a walk over the
// stream's subjects for every message while it is behind) and acks what it
// does not keep without storing it. A consumer left by an earlier archiver,
// filtered by the kept subjects, goes on where it stopped.
func TestArchiverReadsTheStreamUnfiltered(t *testing.T) {
	_, c := bustest.Start(t)
	s := openSQLite(t)
	ctx := context.Background()
	stream, err := c.JS.Stream(ctx, bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	old, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "store", AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: []string{msg.AllCalls, msg.AllDTMF, msg.AllTranscripts, msg.AllAnalysis, msg.AllAlerts, msg.AllCategories, msg.AllEvaluations, msg.AllSurveys}})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, c, msg.SubjectCall("u1"), msg.CallEvent{CallID: "u1", Kind: msg.CallStarted, Time: t0, StartedAt: t0, Agent: "before"})
	batch, err := old.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, c, msg.SubjectTimeline("u1"), msg.TimelineEvent{CallID: "u1", Kind: msg.SpanTalk, Leg: msg.RoleAgent, EndMS: 900})
	publish(t, c, msg.SubjectRuleEvent("u1"), msg.RuleEvent{CallID: "u1", RuleID: "r"})
	publish(t, c, msg.SubjectStored("u0"), msg.CallStored{CallID: "u0"})
	publish(t, c, msg.SubjectTranscript("u1"), msg.Segment{ID: "u1/agent/1/0", CallID: "u1", Leg: msg.RoleAgent, Turn: 1, EndMS: 900, Text: "hello"})
	publish(t, c, msg.SubjectCall("u1"), msg.CallEvent{CallID: "u1", Kind: msg.CallUpdated, Time: t0, Agent: "after"})

	var mu sync.Mutex
	var got []string
	stored := make(chan string, 10)
	a, err := store.NewArchiver(store.ArchiverConfig{Store: s, OnStored: func(sub string) {
		mu.Lock()
		got = append(got, sub)
		mu.Unlock()
		stored <- sub
	}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runArchiver(t, a, c)
	waitFor(t, stored, msg.SubjectCall("u1"))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{msg.SubjectTranscript("u1"), msg.SubjectCall("u1")}; !slices.Equal(got, want) {
		t.Errorf("stored %v, want %v (the start was acked before; the rest is not kept)", got, want)
	}
	rec, err := s.Call(ctx, "u1", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Segments) != 1 || rec.Call.Agent != "after" {
		t.Errorf("call u1: %d segments, agent %q; want 1 and after", len(rec.Segments), rec.Call.Agent)
	}
	cons, err := stream.Consumer(ctx, "store")
	if err != nil {
		t.Fatal(err)
	}
	cfg := cons.CachedInfo().Config
	if cfg.FilterSubject != "" || len(cfg.FilterSubjects) != 0 {
		t.Errorf("the store's consumer is filtered by %q %v, want the whole stream", cfg.FilterSubject, cfg.FilterSubjects)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumAckPending == 0 && ci.NumPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store's consumer has %d unacked and %d pending, want none: what it does not keep is acked too", ci.NumAckPending, ci.NumPending)
		}
	}
}
