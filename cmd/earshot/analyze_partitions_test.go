package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// stageProc is one stage process in the test: its own NATS connection, so
// that killing it drops the connection as kill -9 does.
type stageProc struct {
	stage  stage
	conn   *bus.Conn
	cancel context.CancelFunc
	done   chan error
}

// startStageProc starts s with args against the NATS at url until the
// test ends.
func startStageProc(t *testing.T, url string, s stage, args ...string) *stageProc {
	t.Helper()
	conn, err := bus.Connect(context.Background(), url, "earshot-"+s.name(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	logs := &syncBuffer{}
	e := newEnv(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})), conn, t.TempDir(), stdio{nil, io.Discard, io.Discard})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's log:\n%s", s.name(), logs.String())
		}
	})
	fs := flag.NewFlagSet(s.name(), flag.ContinueOnError)
	s.flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := check(s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := s.start(ctx, e)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p := &stageProc{stage: s, conn: conn, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- r(ctx) }()
	t.Cleanup(func() {
		if p.cancel != nil {
			p.cancel()
			if err := <-p.done; err != nil {
				t.Errorf("%s: %v", s.name(), err)
			}
		}
	})
	return p
}

// startAnalyzer starts an analyze process as identity over partitions.
func startAnalyzer(t *testing.T, srv *bus.Server, rulesFile, identity string, partitions int) *stageProc {
	t.Helper()
	return startAnalyzerArgs(t, srv, identity, "--partitions", fmt.Sprint(partitions),
		"--rules", rulesFile, "--sentiment-grace", "30s", "--rules-grace", "10s")
}

// startAnalyzerArgs starts an analyze process as identity with args.
func startAnalyzerArgs(t *testing.T, srv *bus.Server, identity string, args ...string) *stageProc {
	t.Helper()
	return startStageProc(t, srv.ClientURL(), &analyzeStage{}, append([]string{"--identity", identity}, args...)...)
}

// kill stops the process without giving anything up: its connection
// drops first, so its leases and the jobs in its hands are left to lapse.
func (p *stageProc) kill() { <-p.killing() }

// killing drops the process's connection and stops it as kill does, but
// returns at once: the returned channel closes when the stage has
// finished, which on a closed connection may take seconds that a process
// really killed does not (a takeover is timed from the kill, not from
// then).
func (p *stageProc) killing() <-chan struct{} {
	p.conn.NC.Close()
	p.cancel()
	p.cancel = nil
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-p.done
	}()
	return stopped
}

// owned is the partitions an analyze process owns.
func (p *stageProc) owned() []int { return p.stage.(*analyzeStage).sentiment.partitions.Owned() }

// waitPartitions waits until the analyze processes share the n
// partitions evenly, and returns how long that took.
func waitPartitions(t *testing.T, n int, within time.Duration, as ...*stageProc) time.Duration {
	t.Helper()
	ps := make([]*bus.Partitions, len(as))
	for i, a := range as {
		ps[i] = a.stage.(*analyzeStage).sentiment.partitions
		if ps[i].Count() != n {
			t.Fatalf("analyze has %d partitions, want %d", ps[i].Count(), n)
		}
	}
	return bustest.WaitBalanced(t, within, ps...)
}

// Three analyze processes share six partitions; one is killed mid-call.
// The others take its partitions within 10 s, pick its calls up from the
// stream, and every final segment ends up with exactly one sentiment
// result, every call with its final results, and no alert twice.
func TestAnalyzeTakeOverAfterKill(t *testing.T) {
	srv, conn := bustest.Start(t)
	rulesFile := angryRules(t)
	const parts, calls = 6, 12
	as := []*stageProc{
		startAnalyzer(t, srv, rulesFile, "a1", parts),
		startAnalyzer(t, srv, rulesFile, "a2", parts),
		startAnalyzer(t, srv, rulesFile, "a3", parts),
	}
	waitPartitions(t, parts, 15*time.Second, as...)

	// Scored segments and final sentiments as they are published.
	out := make(chan *nats.Msg, 4096)
	sub, err := conn.NC.ChanSubscribe(msg.AllAnalysis, out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	seen := map[string]bool{}   // segment ids scored
	finals := map[string]bool{} // calls with a final sentiment
	waitFor := func(what string, done func() bool) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for !done() {
			select {
			case m := <-out:
				switch {
				case strings.HasSuffix(m.Subject, ".segment"):
					var ss msg.ScoredSegment
					if err := msg.Unmarshal(m.Data, &ss); err != nil {
						t.Fatal(err)
					}
					seen[ss.Segment.ID] = true
				case strings.HasSuffix(m.Subject, ".sentiment"):
					var cs msg.CallSentiment
					if err := msg.Unmarshal(m.Data, &cs); err != nil {
						t.Fatal(err)
					}
					if cs.Final {
						finals[cs.CallID] = true
					}
				}
			case <-timeout:
				t.Fatalf("%s: not within 30 s (%d segments scored, %d calls final)", what, len(seen), len(finals))
			}
		}
	}
	pub := func(subject string, m msg.Message) { publishMsg(t, conn, subject, m) }
	seg := func(call string, n int, leg msg.Role, text string) {
		pub(msg.SubjectTranscript(call), msg.Segment{ID: fmt.Sprintf("%s/%s/%d/0", call, leg, n), CallID: call, Leg: leg,
			StartMS: int64(n) * 2000, EndMS: int64(n)*2000 + 1500, Text: text})
	}
	id := func(i int) string { return fmt.Sprintf("part-call-%d", i) }
	for i := range calls {
		call := id(i)
		pub(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted, StartedAt: time.Now()})
		pub(msg.SubjectTimeline(call), msg.TimelineEvent{CallID: call, Kind: msg.SpanTalk, Leg: msg.RoleCustomer, StartMS: 0, EndMS: 1500})
		text := "fine thanks"
		if i%2 == 0 {
			text = "this is ridiculous"
		}
		seg(call, 0, msg.RoleCustomer, text)
		seg(call, 1, msg.RoleAgent, "how can I help")
	}
	waitFor("first half scored", func() bool { return len(seen) == 2*calls })

	killed := as[2]
	lost := killed.owned()
	at := time.Now()
	stopped := killed.killing()
	for i := range calls {
		call := id(i)
		seg(call, 2, msg.RoleCustomer, "ok bye")
		pub(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, DurationMS: 6000,
			FinalJobs: map[msg.Role]int{msg.RoleCustomer: 2, msg.RoleAgent: 1}})
	}
	waitPartitions(t, parts, 10*time.Second, as[0], as[1])
	took := time.Since(at)
	if took > 10*time.Second {
		t.Errorf("partitions %v of the killed process taken over %s after the kill, want within 10 s", lost, took.Round(time.Millisecond))
	}
	t.Logf("partitions %v of the killed process taken over %s after the kill", lost, took.Round(time.Millisecond))
	<-stopped
	waitFor("every call final", func() bool { return len(finals) == calls })

	// What the stream holds, counted.
	scoredN, finalN, catsN, alertN := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	alertsPerCall := map[string]int{}
	readStream(t, conn, []string{msg.AllAnalysis, msg.AllAlerts, msg.AllCategories}, func(m jetstream.Msg) {
		switch {
		case strings.HasSuffix(m.Subject(), ".segment"):
			var ss msg.ScoredSegment
			mustUnmarshal(t, m.Data(), &ss)
			scoredN[ss.Segment.ID]++
		case strings.HasSuffix(m.Subject(), ".sentiment"):
			var cs msg.CallSentiment
			mustUnmarshal(t, m.Data(), &cs)
			if cs.Final {
				finalN[cs.CallID]++
			}
		case strings.HasPrefix(m.Subject(), "earshot.alert."):
			var a msg.Alert
			mustUnmarshal(t, m.Data(), &a)
			alertN[a.ID]++
			alertsPerCall[a.CallID]++
		case strings.HasPrefix(m.Subject(), "earshot.category."):
			var c msg.Categories
			mustUnmarshal(t, m.Data(), &c)
			if c.Final {
				catsN[c.CallID]++
			}
		}
	})
	for i := range calls {
		call := id(i)
		for _, s := range []string{call + "/customer/0/0", call + "/agent/1/0", call + "/customer/2/0"} {
			if scoredN[s] != 1 {
				t.Errorf("final segment %s: %d sentiment results, want 1", s, scoredN[s])
			}
		}
		if finalN[call] != 1 {
			t.Errorf("call %s: %d final sentiments, want 1", call, finalN[call])
		}
		if catsN[call] != 1 {
			t.Errorf("call %s: %d final categories, want 1", call, catsN[call])
		}
		if want := 1 - i%2; alertsPerCall[call] != want {
			t.Errorf("call %s: %d alerts, want %d", call, alertsPerCall[call], want)
		}
	}
	for a, n := range alertN {
		if n != 1 {
			t.Errorf("alert %s stored %d times", a, n)
		}
	}
}

// angryRules writes a rules file whose one rule raises an alert and the
// category Escalation when the customer says "ridiculous".
func angryRules(t *testing.T) string {
	t.Helper()
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(`version: 1
rules:
  - id: angry
    name: Angry
    match:
      - words: [ridiculous]
        by: customer
    actions:
      alert: {severity: critical, message: "angry on {call}"}
      category: Escalation
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return rulesFile
}

// readStream hands f every message of StreamEvents on subjects, to the
// end of the stream as it is now. A read that fails (JetStream not
// answering while a cluster node comes back) is started again, for 30 s.
func readStream(t *testing.T, conn *bus.Conn, subjects []string, f func(jetstream.Msg)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ms, err := readStreamOnce(conn, subjects)
		if err == nil {
			for _, m := range ms {
				f(m)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("reading %v: %v", subjects, err)
		}
	}
}

func readStreamOnce(conn *bus.Conn, subjects []string) ([]jetstream.Msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := conn.JS.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{FilterSubjects: subjects})
	if err != nil {
		return nil, err
	}
	var ms []jetstream.Msg
	for {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		md, err := m.Metadata()
		if err != nil {
			return nil, err
		}
		if md.NumPending == 0 {
			return ms, nil
		}
	}
}

func mustUnmarshal(t *testing.T, data []byte, m msg.Message) {
	t.Helper()
	if err := msg.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
}

// callIn is a call id in partition part of n.
func callIn(part, n int, prefix string) string {
	for i := 0; ; i++ {
		if id := fmt.Sprintf("%s-%d", prefix, i); msg.Partition(id, n) == part {
			return id
		}
	}
}

// A process that gives a partition up to a newcomer forgets its calls: the
// newcomer finishes them, and the first does not finish them again when
// their grace runs out.
func TestAnalyzeGivesUpCallsWithPartition(t *testing.T) {
	srv, conn := bustest.Start(t)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte("version: 1\nrules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := make(chan *nats.Msg, 256)
	sub, err := conn.NC.ChanSubscribe("earshot.analysis.*.sentiment", out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	finals := map[string]int{}
	waitFinal := func(call string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for finals[call] == 0 {
			select {
			case m := <-out:
				var cs msg.CallSentiment
				mustUnmarshal(t, m.Data, &cs)
				if cs.Final {
					finals[cs.CallID]++
				}
			case <-timeout:
				t.Fatalf("no final sentiment for %s within 20 s", call)
			}
		}
	}
	pub := func(subject string, m msg.Message) { publishMsg(t, conn, subject, m) }
	seg := func(call string, n int) {
		pub(msg.SubjectTranscript(call), msg.Segment{ID: fmt.Sprintf("%s/customer/%d/0", call, n), CallID: call,
			Leg: msg.RoleCustomer, StartMS: int64(n) * 2000, EndMS: int64(n)*2000 + 1000, Text: "hello there"})
	}
	// Ended with one of its two final segments in: the analyzer waits
	// for the other until its grace runs out.
	endMissing := func(call string) {
		pub(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted, StartedAt: time.Now()})
		seg(call, 0)
		pub(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, DurationMS: 5000,
			FinalJobs: map[msg.Role]int{msg.RoleCustomer: 2}})
	}
	a1 := startAnalyzerArgs(t, srv, "a1", "--partitions", "2", "--rules", rulesFile, "--sentiment-grace", "3s")
	waitPartitions(t, 2, 10*time.Second, a1)
	moved, kept1, kept2 := callIn(1, 2, "moved"), callIn(0, 2, "kept"), callIn(0, 2, "later")
	endMissing(moved)
	endMissing(kept1)
	// a1 holds both; a2 joins and, by identity, gets partition 1.
	a2 := startAnalyzerArgs(t, srv, "a2", "--partitions", "2", "--rules", rulesFile, "--sentiment-grace", "3s")
	waitPartitions(t, 2, 10*time.Second, a1, a2)
	if o := a2.owned(); len(o) != 1 || o[0] != 1 {
		t.Fatalf("a2 owns %v, want [1]", o)
	}
	seg(moved, 1) // the missing segment: a2 picks the call up and finishes it
	waitFinal(moved)
	// a1's grace sweep finishes kept1; one more pass after it (for kept2)
	// means the pass that would have finished moved again is over.
	waitFinal(kept1)
	endMissing(kept2)
	waitFinal(kept2)
	n := 0
	readStream(t, conn, []string{msg.SubjectCallSentiment(moved)}, func(m jetstream.Msg) {
		var cs msg.CallSentiment
		mustUnmarshal(t, m.Data(), &cs)
		if cs.Final {
			n++
		}
	})
	if n != 1 {
		t.Fatalf("call %s, moved to a2: %d final sentiments, want 1 (a2's)", moved, n)
	}
}

// syncBuffer is a log destination several goroutines write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A call whose events were all handled before its owner died, and that
// waits only on its sentiment grace (ended with a final segment missing),
// is found by the new owner of its partition when it takes it over: its
// final sentiment and categories come once, without another event.
func TestAnalyzeTakeOverFinishesWaitingCall(t *testing.T) {
	srv, conn := bustest.Start(t)
	rulesFile := angryRules(t)
	const grace = 8 * time.Second
	args := []string{"--partitions", "2", "--rules", rulesFile, "--sentiment-grace", grace.String(), "--rules-grace", "60s", "--lease-ttl", "2s"}
	a1 := startAnalyzerArgs(t, srv, "a1", args...)
	a2 := startAnalyzerArgs(t, srv, "a2", args...)
	waitPartitions(t, 2, 15*time.Second, a1, a2)
	part := a1.owned()[0]
	call := callIn(part, 2, "waiting")

	finals := make(chan *nats.Msg, 16)
	for _, subj := range []string{msg.SubjectCallSentiment(call), msg.SubjectCategories(call)} {
		sub, err := conn.NC.ChanSubscribe(subj, finals)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	pub := func(subject string, m msg.Message) { publishMsg(t, conn, subject, m) }
	pub(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted, StartedAt: time.Now()})
	pub(msg.SubjectTimeline(call), msg.TimelineEvent{CallID: call, Kind: msg.SpanTalk, Leg: msg.RoleCustomer, StartMS: 0, EndMS: 1500})
	pub(msg.SubjectTranscript(call), msg.Segment{ID: call + "/customer/0/0", CallID: call, Leg: msg.RoleCustomer,
		StartMS: 0, EndMS: 1500, Text: "this is ridiculous"})
	pub(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, DurationMS: 5000,
		FinalJobs: map[msg.Role]int{msg.RoleCustomer: 2}})
	ended := time.Now()

	// a1 has handled and acked every event of the call (its rules the
	// scored segment too): nothing of it is left to be delivered again.
	drained := func(durable string) bool {
		c, err := conn.JS.Consumer(context.Background(), bus.StreamEvents, durable)
		if err != nil {
			return false
		}
		i, err := c.Info(context.Background())
		return err == nil && i.NumPending == 0 && i.NumAckPending == 0 && i.Delivered.Stream > 0
	}
	sentDurable, rulesDurable := fmt.Sprintf("analyze-sentiment-p%d", part), fmt.Sprintf("analyze-rules-p%d", part)
	for deadline := time.Now().Add(grace / 2); !(drained(sentDurable) && drained(rulesDurable)); {
		if time.Now().After(deadline) {
			t.Fatalf("a1 did not handle the call's events within %s", grace/2)
		}
		time.Sleep(20 * time.Millisecond) // polling the consumers' state, not synchronising on time
	}
	a1.kill()
	if time.Since(ended) >= grace {
		t.Fatalf("a1 killed %s after the call ended, not before its grace (%s)", time.Since(ended), grace)
	}

	var sentiment, categories bool
	timeout := time.After(grace + 20*time.Second)
	for !sentiment || !categories {
		select {
		case m := <-finals:
			if strings.HasSuffix(m.Subject, ".sentiment") {
				var cs msg.CallSentiment
				mustUnmarshal(t, m.Data, &cs)
				sentiment = sentiment || cs.Final
			} else {
				var c msg.Categories
				mustUnmarshal(t, m.Data, &c)
				categories = categories || c.Final
			}
		case <-timeout:
			t.Fatalf("call %s taken over by a2 (partitions %v): final sentiment %v, final categories %v", call, a2.owned(), sentiment, categories)
		}
	}
	if time.Since(ended) < grace {
		t.Errorf("final results %s after the end, before the grace (%s)", time.Since(ended), grace)
	}

	finalN, catsN, alertN := 0, 0, 0
	readStream(t, conn, []string{msg.SubjectCallSentiment(call), msg.SubjectCategories(call), msg.AllAlerts}, func(m jetstream.Msg) {
		switch {
		case strings.HasSuffix(m.Subject(), ".sentiment"):
			var cs msg.CallSentiment
			mustUnmarshal(t, m.Data(), &cs)
			if cs.Final {
				finalN++
			}
		case strings.HasPrefix(m.Subject(), "earshot.category."):
			var c msg.Categories
			mustUnmarshal(t, m.Data(), &c)
			if c.Final {
				catsN++
				if len(c.Categories) != 1 || c.Categories[0].Name != "Escalation" {
					t.Errorf("final categories %+v, want Escalation", c.Categories)
				}
			}
		default:
			alertN++
		}
	})
	if finalN != 1 || catsN != 1 || alertN != 1 {
		t.Errorf("call %s: %d final sentiments, %d final categories, %d alerts; want 1 each", call, finalN, catsN, alertN)
	}
}
