package rules

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const liveRules = `
rules:
  - id: manager
    name: Asks for a manager
    match:
      - words: ["speak to your manager", supervisor]
        by: customer
    actions:
      alert: {severity: critical, message: "{rule}: {matched} at {time}"}
      category: Escalation
  - id: long-hold
    name: Long hold
    match:
      - non_talk: {longest: 20s}
    actions:
      alert: {severity: warning}
      category: Long hold
  - id: unhappy-gold
    name: Unhappy gold customer
    match:
      - attribute: {name: tier, is: gold}
      - sentiment: {below: -2}
        by: customer
    actions:
      alert: {severity: warning, message: "gold customer unhappy"}
      publish: {data: {team: vip}}
`

type liveHarness struct {
	t       *testing.T
	eng     *Engine
	conn    *bus.Conn
	dir     string
	alerts  chan msg.Alert
	cats    chan msg.Categories
	events  chan msg.RuleEvent
	reloads chan error
	stop    func()
}

func startEngine(t *testing.T, rulesText string, grace time.Duration, client *http.Client, opts ...func(*EngineConfig)) *liveHarness {
	t.Helper()
	_, conn := bustest.Start(t)
	h := &liveHarness{t: t, conn: conn, dir: t.TempDir(),
		alerts: make(chan msg.Alert, 32), cats: make(chan msg.Categories, 32),
		events: make(chan msg.RuleEvent, 32), reloads: make(chan error, 32)}
	path := filepath.Join(h.dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(rulesText), 0o600); err != nil {
		t.Fatal(err)
	}
	mgr, err := NewManager(context.Background(), ManagerConfig{Path: path, OnReload: func(_ *RuleSet, err error) { h.reloads <- err }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := EngineConfig{JS: conn.JS, NC: conn.NC, Rules: mgr, Grace: grace, HTTPClient: client,
		Logger: slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, o := range opts {
		o(&cfg)
	}
	eng, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	sub := func(subject string, f func([]byte)) {
		s, err := conn.NC.Subscribe(subject, func(m *nats.Msg) { f(m.Data) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Unsubscribe() })
	}
	sub(msg.AllAlerts, func(b []byte) {
		var a msg.Alert
		if err := msg.Unmarshal(b, &a); err != nil {
			t.Error(err)
		}
		h.alerts <- a
	})
	sub(msg.AllCategories, func(b []byte) {
		var c msg.Categories
		if err := msg.Unmarshal(b, &c); err != nil {
			t.Error(err)
		}
		h.cats <- c
	})
	sub(msg.AllRuleEvents, func(b []byte) {
		var e msg.RuleEvent
		if err := msg.Unmarshal(b, &e); err != nil {
			t.Error(err)
		}
		h.events <- e
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	select {
	case <-eng.Ready():
	case err := <-done:
		t.Fatalf("engine stopped: %v", err)
	}
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	}
	t.Cleanup(h.stop)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		if os.Getenv("EARSHOT_RULES_STACKS") != "" {
			buf := make([]byte, 1<<20)
			t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
		// Say where the events were when the test failed.
		if c, err := conn.JS.Consumer(context.Background(), bus.StreamEvents, "analyze-rules"); err == nil {
			if ci, err := c.Info(context.Background()); err == nil {
				t.Logf("consumer: delivered %d, ack floor %d, pending %d, ack pending %d, redelivered %d, waiting pulls %d",
					ci.Delivered.Stream, ci.AckFloor.Stream, ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting)
			}
		}
	})
	return h
}

// testLog sends log lines to the test's output.
type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func (h *liveHarness) publish(subject string, m msg.Message) {
	h.t.Helper()
	b, err := msg.Marshal(m)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.conn.Publish(context.Background(), subject, b); err != nil {
		h.t.Fatal(err)
	}
}

func (h *liveHarness) segment(call string, leg msg.Role, id string, s, e int64, text string, compound float64) {
	label := msg.Neutral
	if compound < -0.05 {
		label = msg.Negative
	}
	h.publish(msg.SubjectScoredSegment(call), msg.ScoredSegment{
		Segment:   msg.Segment{ID: id, CallID: call, Leg: leg, StartMS: s, EndMS: e, Text: text},
		Sentiment: msg.Sentiment{Label: label, Compound: compound},
	})
}

func wait[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s within 30s", what)
	}
	var zero T
	return zero
}

func none[T any](t *testing.T, ch chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	default:
	}
}

func TestLiveAlertsAndPostCall(t *testing.T) {
	h := startEngine(t, liveRules, time.Minute, nil)
	call := "call-1"
	h.publish(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted, Queue: "billing", Attributes: map[string]string{"tier": "gold"}})
	h.segment(call, msg.RoleAgent, call+"/agent/1/0", 0, 2000, "thanks for calling how can i help", 0.3)
	h.segment(call, msg.RoleCustomer, call+"/customer/1/0", 2500, 6500, "I want to speak to your manager now", -0.2)

	a := wait(t, h.alerts, "manager alert")
	if a.RuleID != "manager" || a.CallID != call || a.Severity != "critical" || a.PostCall {
		t.Fatalf("alert %+v", a)
	}
	if len(a.Matches) != 1 || a.Matches[0].Text != "speak to your manager" || a.Matches[0].Leg != msg.RoleCustomer ||
		a.Matches[0].StartMS < 2500 || a.Matches[0].EndMS > 6500 || a.Matches[0].SegmentID != call+"/customer/1/0" {
		t.Fatalf("alert matches %+v", a.Matches)
	}
	if a.Message != "Asks for a manager: speak to your manager at 0:06" {
		t.Fatalf("message %q", a.Message)
	}
	c := wait(t, h.cats, "live categories")
	if c.Final || len(c.Categories) != 1 || c.Categories[0].Name != "Escalation" {
		t.Fatalf("categories %+v", c)
	}

	// Saying it again (and a redelivered segment) does not fire again.
	h.segment(call, msg.RoleCustomer, call+"/customer/2/0", 7000, 9000, "get me a supervisor", -0.9)
	h.segment(call, msg.RoleCustomer, call+"/customer/1/0", 2500, 6500, "I want to speak to your manager now", -0.2)
	// Sentiment drops below -2: the gold-customer rule fires, with its NATS event.
	h.publish(msg.SubjectCallSentiment(call), msg.CallSentiment{CallID: call, AtMS: 9000,
		Participants: map[msg.Role]msg.ParticipantSentiment{msg.RoleCustomer: {Overall: -3, Turns: 2}}})
	a = wait(t, h.alerts, "unhappy gold alert")
	if a.RuleID != "unhappy-gold" || a.Message != "gold customer unhappy" {
		t.Fatalf("alert %+v", a)
	}
	ev := wait(t, h.events, "rule event")
	if ev.RuleID != "unhappy-gold" || ev.Data["team"] != "vip" || ev.CallID != call {
		t.Fatalf("event %+v", ev)
	}

	// The call ends; the final sentiment and characteristics complete it.
	h.publish(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, DurationMS: 60000})
	h.publish(msg.SubjectCallSentiment(call), msg.CallSentiment{CallID: call, AtMS: 60000, Final: true,
		Participants: map[msg.Role]msg.ParticipantSentiment{msg.RoleCustomer: {Overall: -3, Turns: 2}}})
	h.publish(msg.SubjectCharacteristics(call), msg.Characteristics{CallID: call, AtMS: 60000, Final: true,
		NonTalkMS: 30000, NonTalk: []msg.Span{{StartMS: 20000, EndMS: 45000}}})
	a = wait(t, h.alerts, "post-call alert")
	if a.RuleID != "long-hold" || !a.PostCall || a.Message != "Long hold" {
		t.Fatalf("post-call alert %+v", a)
	}
	c = wait(t, h.cats, "final categories")
	if !c.Final || len(c.Categories) != 2 || c.Categories[0].Name != "Escalation" || c.Categories[1].Name != "Long hold" {
		t.Fatalf("final categories %+v", c)
	}
	none(t, h.alerts, "alert")
	// Late messages for a finished call are ignored.
	h.segment(call, msg.RoleCustomer, call+"/customer/9/0", 61000, 62000, "supervisor", -0.9)
	h.publish(msg.SubjectCall("call-2"), msg.CallEvent{CallID: "call-2", Kind: msg.CallStarted})
	h.segment("call-2", msg.RoleCustomer, "call-2/customer/1/0", 0, 1000, "supervisor please", 0)
	if a := wait(t, h.alerts, "call-2 alert"); a.CallID != "call-2" {
		t.Fatalf("alert for %s, want call-2 (the finished call fired again?)", a.CallID)
	}
}

func TestGraceTimeoutFinishesCall(t *testing.T) {
	h := startEngine(t, liveRules, 200*time.Millisecond, nil)
	call := "call-g"
	h.publish(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted})
	h.segment(call, msg.RoleCustomer, call+"/customer/1/0", 0, 2000, "supervisor", 0)
	wait(t, h.alerts, "alert")
	wait(t, h.cats, "live categories")
	h.publish(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, DurationMS: 3000})
	c := wait(t, h.cats, "final categories after the grace period")
	if !c.Final || len(c.Categories) != 1 {
		t.Fatalf("categories %+v", c)
	}
}

func TestReloadKeepsInFlightCallsConsistent(t *testing.T) {
	h := startEngine(t, liveRules, time.Minute, nil)
	path := filepath.Join(h.dir, "rules.yaml")
	// call-old starts under the first rules.
	h.publish(msg.SubjectCall("call-old"), msg.CallEvent{CallID: "call-old", Kind: msg.CallStarted})
	h.segment("call-old", msg.RoleCustomer, "call-old/customer/1/0", 0, 1000, "supervisor", 0)
	if a := wait(t, h.alerts, "first alert on call-old"); a.CallID != "call-old" {
		t.Fatalf("alert %+v", a)
	}

	reload := func() msg.RulesReloadReply {
		t.Helper()
		m, err := h.conn.NC.Request(msg.SubjectRulesReload, nil, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var r msg.RulesReloadReply
		if err := msg.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// An invalid file is refused; the rules in force stay.
	if err := os.WriteFile(path, []byte("rules:\n  - id: x\n    match: [{words: \"[oops]\"}]\n    actions: {category: c}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := reload()
	if r.OK || r.Rules != 3 || !strings.Contains(r.Error, "unknown placeholder") {
		t.Fatalf("reload of an invalid file: %+v", r)
	}
	newRules := strings.Replace(liveRules, `supervisor]`, `supervisor, "refund"]`, 1)
	if err := os.WriteFile(path, []byte(newRules), 0o600); err != nil {
		t.Fatal(err)
	}
	r = reload()
	if !r.OK || r.Rules != 3 || r.Version != Version([]byte(newRules)) {
		t.Fatalf("reload: %+v", r)
	}
	// The call in flight keeps its rules: "refund" does not fire there...
	h.segment("call-old", msg.RoleCustomer, "call-old/customer/2/0", 1000, 2000, "i want a refund", 0)
	// ...but does on a new call.
	h.publish(msg.SubjectCall("call-new"), msg.CallEvent{CallID: "call-new", Kind: msg.CallStarted})
	h.segment("call-new", msg.RoleCustomer, "call-new/customer/1/0", 0, 1000, "i want a refund", 0)
	if a := wait(t, h.alerts, "alert on the new call"); a.CallID != "call-new" {
		t.Fatalf("alert on %s: the in-flight call saw the new rules", a.CallID)
	}
}

func TestFileWatchReloads(t *testing.T) {
	h := startEngine(t, liveRules, time.Minute, nil)
	path := filepath.Join(h.dir, "rules.yaml")
	if err := writeAtomic(path, []byte("rules: [\n")); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, h.reloads, "reload of the broken file"); err == nil {
		t.Fatal("a broken file was accepted")
	}
	if err := writeAtomic(path, []byte(ruleFile("- words: refund"))); err != nil {
		t.Fatal(err)
	}
	for {
		if err := wait(t, h.reloads, "reload of the fixed file"); err == nil {
			break
		}
	}
	h.publish(msg.SubjectCall("c-w"), msg.CallEvent{CallID: "c-w", Kind: msg.CallStarted})
	h.segment("c-w", msg.RoleCustomer, "c-w/customer/1/0", 0, 1000, "refunds please", 0)
	if a := wait(t, h.alerts, "alert from the watched file's rule"); a.RuleID != "r1" {
		t.Fatalf("alert %+v", a)
	}
}

func TestWebhookSignedWithRetries(t *testing.T) {
	t.Setenv("EARSHOT_TEST_SECRET", "hook-secret")
	var tries atomic.Int32
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if tries.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		got <- r
		bodies <- b
	}))
	defer srv.Close()
	rulesText := `
rules:
  - id: hook
    match: [{words: "card number [num]"}]
    actions:
      alert: {severity: critical, message: "card: {matched}"}
      webhook: {url: "` + srv.URL + `/hook", secret_env: EARSHOT_TEST_SECRET, timeout: 2s, retries: 3, backoff: 10ms, data: {site: lab}}
`
	h := startEngine(t, rulesText, time.Minute, srv.Client())
	h.publish(msg.SubjectCall("c-h"), msg.CallEvent{CallID: "c-h", Kind: msg.CallStarted})
	h.segment("c-h", msg.RoleCustomer, "c-h/customer/1/0", 0, 4000, "my card number four one one one", 0)
	r := wait(t, got, "webhook")
	body := <-bodies
	if r.Header.Get(SignatureHeader) != Sign([]byte("hook-secret"), body) {
		t.Fatalf("signature %q does not match the body", r.Header.Get(SignatureHeader))
	}
	if r.Header.Get(DeliveryHeader) != "c-h/hook/1" || tries.Load() != 3 {
		t.Fatalf("delivery %q after %d tries", r.Header.Get(DeliveryHeader), tries.Load())
	}
	var ev msg.RuleEvent
	if err := msg.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.RuleID != "hook" || ev.Data["site"] != "lab" || ev.Data["message"] != "card: card number four one one one" || len(ev.Matches) != 1 {
		b, _ := json.Marshal(ev)
		t.Fatalf("event %s", b)
	}
}

func TestWebhookGivesUpOnClientError(t *testing.T) {
	var tries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer srv.Close()
	n, err := deliver(context.Background(), srv.Client(), webhookJob{
		hook: &WebhookAction{URL: srv.URL, Timeout: time.Second, Retries: 3, Backoff: time.Millisecond}, id: "x", body: []byte("{}"),
	})
	if err == nil || n != 1 || tries.Load() != 1 {
		t.Fatalf("after a 400: %d attempts, err %v", n, err)
	}
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	n, err = deliver(context.Background(), slow.Client(), webhookJob{
		hook: &WebhookAction{URL: slow.URL, Timeout: 50 * time.Millisecond, Retries: 1, Backoff: time.Millisecond}, id: "y", body: []byte("{}"),
	})
	if err == nil || n != 2 {
		t.Fatalf("timeouts: %d attempts, err %v", n, err)
	}
}

// TestRestartMidCall: an engine that restarts while a call goes on
// rebuilds the call's state from the stream: rules that need earlier
// segments still hold, and what fired before does not fire again.
func TestRestartMidCall(t *testing.T) {
	_, conn := bustest.Start(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	text := liveRules + `
  - id: account-and-password
    match:
      - words: "account number"
      - words: password
    actions:
      alert: {severity: critical}
      category: Credentials
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	alerts := make(chan msg.Alert, 16)
	cats := make(chan msg.Categories, 16)
	for subj, f := range map[string]func([]byte){
		msg.AllAlerts: func(b []byte) {
			var a msg.Alert
			if msg.Unmarshal(b, &a) == nil {
				alerts <- a
			}
		},
		msg.AllCategories: func(b []byte) {
			var c msg.Categories
			if msg.Unmarshal(b, &c) == nil {
				cats <- c
			}
		},
	} {
		s, err := conn.NC.Subscribe(subj, func(m *nats.Msg) { f(m.Data) })
		if err != nil {
			t.Fatal(err)
		}
		defer s.Unsubscribe()
	}
	startOne := func() func() {
		mgr, err := NewManager(context.Background(), ManagerConfig{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := NewEngine(EngineConfig{JS: conn.JS, NC: conn.NC, Rules: mgr, Grace: time.Minute,
			Logger: slog.New(slog.NewTextHandler(testLog{t}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- eng.Run(ctx) }()
		<-eng.Ready()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	h := &liveHarness{t: t, conn: conn}
	stop := startOne()
	call := "call-r"
	h.publish(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted})
	h.segment(call, msg.RoleCustomer, call+"/customer/1/0", 0, 2000, "supervisor my account number is", 0)
	if a := wait(t, alerts, "alert before the restart"); a.RuleID != "manager" {
		t.Fatalf("alert %+v", a)
	}
	wait(t, cats, "categories before the restart")
	stop()

	h.segment(call, msg.RoleCustomer, call+"/customer/2/0", 3000, 5000, "and my password is secret supervisor", 0)
	stop = startOne()
	defer stop()
	// The segment the first engine handled may be redelivered if its ack
	// did not get through before it stopped: at least once, the alert comes
	// again with the same id (which the stream deduplicates), never a new one.
	var a msg.Alert
	for a = wait(t, alerts, "alert after the restart"); a.ID == call+"/manager/1"; a = wait(t, alerts, "alert after the restart") {
	}
	if a.RuleID != "account-and-password" || len(a.Matches) != 2 || a.Matches[0].Text != "account number" {
		t.Fatalf("alert after the restart %+v", a)
	}
	var c msg.Categories
	for c = wait(t, cats, "categories after the restart"); len(c.Categories) < 2; c = wait(t, cats, "categories after the restart") {
	}
	if len(c.Categories) != 2 || c.Categories[0].Name != "Escalation" || c.Categories[1].Name != "Credentials" {
		t.Fatalf("categories %+v", c)
	}
	none(t, alerts, "repeated alert")
}

func TestPublishToOwnSubject(t *testing.T) {
	h := startEngine(t, `
rules:
  - id: crm
    match: [{words: "[num] dollars", by: customer}]
    actions:
      publish: {subject: "crm.{call}.events", data: {kind: money}}
`, time.Minute, nil)
	got := make(chan msg.RuleEvent, 1)
	s, err := h.conn.NC.Subscribe("crm.>", func(m *nats.Msg) {
		var ev msg.RuleEvent
		if msg.Unmarshal(m.Data, &ev) == nil && m.Subject == "crm.c-p.events" {
			got <- ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unsubscribe()
	h.segment("c-p", msg.RoleCustomer, "c-p/customer/1/0", 0, 3000, "it cost me twenty five dollars", -0.3)
	ev := wait(t, got, "event on the rule's own subject")
	if ev.RuleID != "crm" || ev.Data["kind"] != "money" || len(ev.Matches) != 1 || ev.Matches[0].Text != "twenty five dollars" {
		t.Fatalf("event %+v", ev)
	}
}

func TestLiveDTMFAndPostCallOnlyRule(t *testing.T) {
	h := startEngine(t, `
rules:
  - id: pressed-9
    match: [{dtmf: "9", by: customer}]
    actions: {alert: {severity: info, message: "{rule} on {call}"}}
  - id: summary
    evaluate: post_call
    match: [{words: goodbye, by: agent, last: 10s}]
    actions: {alert: {severity: info}, category: Closed properly}
`, time.Minute, nil)
	call := "c-d"
	h.publish(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted})
	h.publish(msg.SubjectDTMF(call), msg.DTMFEvent{CallID: call, Leg: msg.RoleCustomer, Digit: "9", StartMS: 1200, DurationMS: 100})
	if a := wait(t, h.alerts, "dtmf alert"); a.RuleID != "pressed-9" || a.Message != "pressed-9 on c-d" || a.AtMS != 1300 {
		t.Fatalf("alert %+v", a)
	}
	h.segment(call, msg.RoleAgent, call+"/agent/1/0", 50000, 52000, "thank you goodbye", 0.4)
	h.publish(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, DurationMS: 55000})
	h.publish(msg.SubjectCallSentiment(call), msg.CallSentiment{CallID: call, Final: true})
	h.publish(msg.SubjectCharacteristics(call), msg.Characteristics{CallID: call, Final: true})
	a := wait(t, h.alerts, "post-call alert")
	if a.RuleID != "summary" || !a.PostCall || a.Message != "summary: goodbye" || a.AtMS != 55000 {
		t.Fatalf("alert %+v", a)
	}
	if c := wait(t, h.cats, "final categories"); !c.Final || len(c.Categories) != 1 || c.Categories[0].Name != "Closed properly" {
		t.Fatalf("categories %+v", c)
	}
}

// TestIdleCallIsFinished: a call whose ended event never comes is
// evaluated post-call and forgotten after IdleTimeout.
func TestIdleCallIsFinished(t *testing.T) {
	h := startEngine(t, liveRules, time.Minute, nil, func(c *EngineConfig) { c.IdleTimeout = 300 * time.Millisecond })
	call := "c-idle"
	h.segment(call, msg.RoleCustomer, call+"/customer/1/0", 0, 2000, "supervisor", 0)
	wait(t, h.alerts, "alert")
	if c := wait(t, h.cats, "live categories"); c.Final {
		t.Fatalf("categories %+v", c)
	}
	if c := wait(t, h.cats, "final categories of the idle call"); !c.Final || len(c.Categories) != 1 {
		t.Fatalf("categories %+v", c)
	}
}

// TestNonTalkFiresWhenReached: a hold going on (published open) fires a
// non_talk rule the moment the call clock takes it past the threshold,
// not when the hold ends.
func TestNonTalkFiresWhenReached(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	// The sweeper's clock stays at the call's start; the test moves the
	// call clock by calling sweepOpen itself.
	h := startEngine(t, liveRules, time.Minute, nil, func(c *EngineConfig) { c.Now = func() time.Time { return t0 } })
	call := "call-hold"
	h.publish(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted, StartedAt: t0})
	h.segment(call, msg.RoleAgent, call+"/agent/1/0", 0, 1900, "please hold", 0)
	// On hold from 2 s, still going on.
	h.publish(msg.SubjectCharacteristics(call), msg.Characteristics{CallID: call, AtMS: 2000,
		Open: []msg.OpenSpan{{Kind: msg.SpanHold, StartMS: 2000}}})
	// A phrase after them, to know the engine has taken them in.
	h.segment(call, msg.RoleCustomer, call+"/customer/1/0", 1000, 1500, "supervisor", 0)
	if a := wait(t, h.alerts, "manager alert"); a.RuleID != "manager" {
		t.Fatalf("alert %+v, want the manager rule's", a)
	}
	ctx := context.Background()
	h.eng.sweepOpen(ctx, t0.Add(21900*time.Millisecond)) // 19.9 s on hold
	h.eng.sweepOpen(ctx, t0.Add(22100*time.Millisecond)) // 20.1 s: past 20 s
	a := wait(t, h.alerts, "long-hold alert")
	if a.RuleID != "long-hold" || a.AtMS != 22100 || a.PostCall {
		t.Fatalf("alert %+v, want long-hold live at 22100 ms, when the hold passed 20 s", a)
	}
}
