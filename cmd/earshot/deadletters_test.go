package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go/jetstream"
)

func TestDeadLettersBadUsage(t *testing.T) {
	asrNoLeaks(t)
	srv, _ := bustest.Start(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no subcommand"},
		{[]string{"show"}, `unknown subcommand "show"`},
		{[]string{"list", "7"}, `list takes no arguments, got "7"`},
		{[]string{"replay"}, "either the numbers of dead letters or --all"},
		{[]string{"replay", "--all", "3"}, "either the numbers of dead letters or --all"},
		{[]string{"replay", "three"}, `"three" is not a dead letter's number`},
		{[]string{"replay", "0"}, `"0" is not a dead letter's number`},
		{[]string{"list", "--colour"}, "flag provided but not defined: -colour"},
		{[]string{"replay", "--nats", srv.ClientURL(), "99"}, "dead letter 99: no such dead letter"},
	} {
		code, _, errs := asrRun(t, context.Background(), append([]string{"deadletters"}, tc.args...)...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("deadletters %q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestDeadLettersListAndReplay(t *testing.T) {
	asrNoLeaks(t)
	srv, c := bustest.Start(t)
	ctx := context.Background()
	for _, d := range []msg.DeadLetter{
		{Stage: "asr", Subject: "earshot.audio.c1.agent", Reason: "sample rate 16000 Hz, want 8000", Deliveries: 1,
			Time: time.Now().Add(-90 * time.Minute), Payload: []byte("job 1"), MsgID: "job/c1/agent/1/0/final"},
		{Stage: "store", Subject: "earshot.call.c2", Reason: "disk full", Deliveries: 5, Time: time.Now().Add(-30 * time.Second), Payload: []byte("call 2")},
	} {
		if err := bus.DeadLetter(ctx, c.JS, d); err != nil {
			t.Fatal(err)
		}
	}
	nats := srv.ClientURL()
	code, out, errs := asrRun(t, ctx, "deadletters", "list", "--nats", nats)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("list: exit %d, %s\n%s", code, out, errs)
	}
	for i, want := range [][]string{
		{"SEQ", "STAGE", "AGE", "CALL", "SUBJECT", "REASON"},
		{"1", "asr", "1h30m", "c1", "earshot.audio.c1.agent", "sample rate 16000 Hz, want 8000"},
		{"2", "store", "30s", "c2", "earshot.call.c2", "disk full"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("list line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
	code, out, _ = asrRun(t, ctx, "deadletters", "list", "--nats", nats, "--stage", "asr", "--json")
	var row deadLetterRow
	if code != 0 || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &row) != nil ||
		row.Seq != 1 || row.CallID != "c1" || row.MsgID != "job/c1/agent/1/0/final" || row.AgeSeconds < 5390 {
		t.Fatalf("list --stage asr --json: exit %d, %s", code, out)
	}

	code, out, errs = asrRun(t, ctx, "deadletters", "replay", "--nats", nats, "1")
	if code != 0 || !strings.Contains(out, "replayed 1 to earshot.audio.c1.agent") {
		t.Fatalf("replay 1: exit %d, %s %s", code, out, errs)
	}
	st, err := c.JS.Stream(ctx, bus.StreamAudio)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "earshot.audio.c1.agent")
	if err != nil || string(m.Data) != "job 1" || m.Header.Get(jetstream.MsgIDHeader) != "job/c1/agent/1/0/final" {
		t.Fatalf("replayed job: %v %v", m, err)
	}
	code, out, errs = asrRun(t, ctx, "deadletters", "replay", "--nats", nats, "--all")
	if code != 0 || strings.TrimSpace(out) != "replayed 2 to earshot.call.c2" {
		t.Fatalf("replay --all: exit %d, %q %s", code, out, errs)
	}
	if code, out, _ = asrRun(t, ctx, "deadletters", "list", "--nats", nats); code != 0 || strings.TrimSpace(out) != "no dead letters" {
		t.Fatalf("list after replay: exit %d, %q", code, out)
	}
}

// A job dead-lettered because the server refused it is transcribed when
// replayed after the server was fixed, and its text replaces the error
// segment in the transcript stream.
func TestDeadLetteredJobReplayed(t *testing.T) {
	asrNoLeaks(t)
	srv, c := bustest.Start(t)
	var fixed atomic.Bool
	var requests atomic.Int32
	asr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// The start-up check passes; then the server refuses the audio
		// until it is fixed.
		if requests.Add(1) > 1 && !fixed.Load() {
			http.Error(w, "unsupported format", http.StatusUnsupportedMediaType)
			return
		}
		io.WriteString(w, asrAnswer)
	}))
	t.Cleanup(asr.Close)
	dead, err := c.NC.SubscribeSync(msg.SubjectDeadLetter("asr"))
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"asr", "--nats", srv.ClientURL(), "--engine", "http", "--asr-url", asr.URL}, stdio{strings.NewReader(""), io.Discard, io.Discard})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("earshot asr exited %d", code)
		}
	}()
	pcm := make([]int16, 8000)
	for i, v := range asrTone(8000, 1000, 0.1) {
		pcm[i] = int16(v * 32767)
	}
	b, err := msg.EncodeUtterance(&msg.UtteranceJob{CallID: "c-dl", Leg: msg.RoleAgent, Turn: 1, StartMS: 0, EndMS: 1000, SampleRate: 8000, PCM: pcm})
	if err != nil {
		t.Fatal(err)
	}
	// Published without a message id, as an older capture did: a job with
	// one can be replayed only after the work queue's duplicate window.
	if err := c.Publish(ctx, msg.SubjectAudio("c-dl", msg.RoleAgent), b); err != nil {
		t.Fatal(err)
	}
	if _, err := dead.NextMsg(20 * time.Second); err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	last := func() *msg.Segment {
		st, err := c.JS.Stream(ctx, bus.StreamEvents)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetLastMsgForSubject(ctx, msg.SubjectTranscript("c-dl"))
		if err != nil {
			return nil
		}
		s := new(msg.Segment)
		if err := msg.Unmarshal(m.Data, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	waitSegment := func(ok func(*msg.Segment) bool, what string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			if s := last(); s != nil && ok(s) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s in the transcript stream within 20 s; last %+v", what, last())
			}
			time.Sleep(20 * time.Millisecond) // polling the stream's state
		}
	}
	waitSegment(func(s *msg.Segment) bool { return s.Error != "" }, "error segment")
	fixed.Store(true)
	code, out, errs := asrRun(t, context.Background(), "deadletters", "replay", "--nats", srv.ClientURL(), "--stage", "asr", "--all")
	if code != 0 || !strings.Contains(out, "to earshot.audio.c-dl.agent") {
		t.Fatalf("replay: exit %d, %s %s", code, out, errs)
	}
	waitSegment(func(s *msg.Segment) bool {
		return s.Text == "Thank you for calling." && s.Error == "" && s.ID == "c-dl/agent/1/0"
	}, "segment with the replayed job's text")
}
