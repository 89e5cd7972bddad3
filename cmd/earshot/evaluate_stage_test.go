package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"go.uber.org/goleak"
)

// TestEvaluateStage starts the store and evaluate stages as earshot run
// wires them, and each alone (earshot store, earshot evaluate: two
// handles on one SQLite store), on a real embedded NATS: a call whose
// analysis ends is stored, announced and scored with the form version in
// force when it ended, with no other step.
func TestEvaluateStage(t *testing.T) {
	for _, allIn := range []bool{true, false} {
		t.Run(map[bool]string{true: "run", false: "alone"}[allIn], func(t *testing.T) { testEvaluateStage(t, allIn) })
	}
}

func testEvaluateStage(t *testing.T, allIn bool) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before, natsJetStreamLeak) })
	_, conn := bustest.Start(t)
	e := newEnv(slog.New(slog.DiscardHandler), conn, t.TempDir(), stdio{nil, io.Discard, io.Discard})
	e.allIn = allIn
	p := newPipeline()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	p.store.flags(fs)
	p.evaluate.flags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	scored := make(chan string, 4)
	p.evaluate.onScored = func(call string) { scored <- call }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runners []func(context.Context) error
	for _, s := range []stage{p.store, p.evaluate} {
		if err := check(s); err != nil {
			t.Fatal(err)
		}
		r, err := s.start(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if allIn {
			p.started(s)
		}
		runners = append(runners, r)
	}
	if allIn && (p.ui.forms == nil || p.evaluate.st != p.store.st) {
		t.Fatal("earshot run did not hand the store to the evaluate stage and the forms to the web view")
	}
	if !allIn && p.evaluate.st == p.store.st {
		t.Fatal("earshot evaluate alone did not open its own store")
	}
	done := make(chan error, len(runners))
	for _, r := range runners {
		go func() { done <- r(ctx) }()
	}
	defer func() {
		cancel()
		for range runners {
			if err := <-done; err != nil {
				t.Errorf("runner: %v", err)
			}
		}
	}()
	text, err := os.ReadFile("../../evaluate/testdata/quality.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, probs, err := p.evaluate.manager.Save(ctx, text, "quinn"); err != nil || len(probs) > 0 {
		t.Fatalf("save: %v %v", probs, err)
	}
	call := "eval-1"
	start := time.Now().UTC()
	pub := func(subject string, m msg.Message) { publishMsg(t, conn, subject, m) }
	pub(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted, Time: start, StartedAt: start, Agent: "bob"})
	pub(msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallEnded, Time: start.Add(time.Minute), StartedAt: start, DurationMS: 60000})
	pub(msg.SubjectCharacteristics(call), msg.Characteristics{CallID: call, Final: true, NonTalkMS: 3000})
	pub(msg.SubjectCategories(call), msg.Categories{CallID: call, Final: true, Categories: []msg.Category{{Name: "Greeted"}}})
	select {
	case got := <-scored:
		if got != call {
			t.Fatalf("scored %s, want %s", got, call)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the call was not scored")
	}
	rec, err := p.store.st.Call(ctx, call, false)
	if err != nil || len(rec.Evaluations) != 1 {
		t.Fatalf("evaluations: %+v %v", rec.Evaluations, err)
	}
	ev := rec.Evaluations[0]
	if ev.Form != "service-qa" || ev.FormRevision != 1 || ev.Score == nil {
		t.Fatalf("evaluation: %+v", ev)
	}
}

func TestEvaluateStageBadFlags(t *testing.T) {
	if code, _, errs := storeRun("evaluate", "--evaluate-workers", "0"); code != 2 || errs == "" {
		t.Errorf("--evaluate-workers 0: exit %d %q, want 2", code, errs)
	}
	_, conn := bustest.Start(t)
	e := newEnv(slog.New(slog.DiscardHandler), conn, t.TempDir(), stdio{nil, io.Discard, io.Discard})
	e.allIn = true
	s := &evaluateStage{storeDSN: "postgres://x", workers: 1}
	if _, err := s.start(context.Background(), e); err == nil {
		t.Error("earshot run took --evaluate-store")
	}
}
