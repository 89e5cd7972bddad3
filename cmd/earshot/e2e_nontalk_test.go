package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/rules"
	"github.com/earshot-dev/earshot/sentiment"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// TestNonTalkAlertWhileOnHold runs the real capture, analyzer and rules
// engine on one clock, the one capture's timeline uses: a call goes on
// hold with nobody speaking, and a non_talk: {longest: 15s} rule fires
// when the call clock passes 15 s of non-talk time, while the hold goes
// on, not when it ends; the characteristics show the hold as it goes on.
func TestNonTalkAlertWhileOnHold(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore, natsJetStreamLeak) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	at := func(ms int) { mu.Lock(); defer mu.Unlock(); now = t0.Add(time.Duration(ms) * time.Millisecond) }

	_, conn := bustest.Start(t)
	capt, err := capture.New(capture.Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Now: clock, CallTimeout: time.Hour}, conn)
	if err != nil {
		t.Fatal(err)
	}
	an, err := sentiment.NewAnalyzer(conn, sentiment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(`
rules:
  - id: long-hold
    name: Long hold
    match:
      - non_talk: {longest: 15s}
    actions:
      alert: {severity: warning}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	mgr, err := rules.NewManager(context.Background(), rules.ManagerConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := rules.NewEngine(rules.EngineConfig{JS: conn.JS, NC: conn.NC, Rules: mgr, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	const callID = "e2e-hold"
	alerts, chars := make(chan msg.Alert, 4), make(chan msg.Characteristics, 64)
	for subject, f := range map[string]func([]byte){
		msg.SubjectAlert(callID): func(b []byte) {
			var a msg.Alert
			if msg.Unmarshal(b, &a) == nil {
				alerts <- a
			}
		},
		msg.SubjectCharacteristics(callID): func(b []byte) {
			var c msg.Characteristics
			if msg.Unmarshal(b, &c) == nil {
				chars <- c
			}
		},
	} {
		sub, err := conn.NC.Subscribe(subject, func(m *nats.Msg) { f(m.Data) })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
	}
	if err := conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 3)
	go func() { done <- capt.Run(ctx) }()
	go func() { done <- an.Run(ctx, conn.JS) }()
	go func() { done <- eng.Run(ctx) }()
	defer func() {
		cancel()
		for range 3 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}()

	on, off := true, false
	if err := capt.Announce(&msg.CallAnnounce{CallID: callID, Legs: []msg.LegSpec{{Role: msg.RoleAgent, SSRC: 1}, {Role: msg.RoleCustomer, SSRC: 2}}}); err != nil {
		t.Fatal(err)
	}
	at(2000)
	if err := capt.Announce(&msg.CallAnnounce{CallID: callID, Hold: &on}); err != nil {
		t.Fatal(err)
	}
	// Both go on: the silence since the call began, and the hold. After
	// this nothing is published until the hold ends: only the clock moves.
	deadline := time.After(30 * time.Second)
	for open := false; !open; {
		select {
		case c := <-chars:
			open = slices.Contains(c.Open, msg.OpenSpan{Kind: msg.SpanHold, StartMS: 2000}) &&
				slices.Contains(c.Open, msg.OpenSpan{Kind: msg.SpanSilence, StartMS: 0, AfterMS: 3000})
		case <-deadline:
			t.Fatal("no characteristics with the silence and the hold going on within 30 s")
		}
	}
	at(15100) // 15.1 s of non-talk time (the silence from the start, the hold in it)
	var a msg.Alert
	select {
	case a = <-alerts:
	case <-deadline:
		t.Fatal("no alert within 30 s of the call clock passing 15 s of non-talk time")
	}
	if a.RuleID != "long-hold" || a.AtMS != 15100 || a.PostCall {
		t.Errorf("alert %+v, want long-hold live at 15100 ms", a)
	}
	at(40000)
	if err := capt.Announce(&msg.CallAnnounce{CallID: callID, Hold: &off}); err != nil {
		t.Fatal(err)
	}
	if err := capt.Announce(&msg.CallAnnounce{CallID: callID, End: true}); err != nil {
		t.Fatal(err)
	}
}
