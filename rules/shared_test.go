package rules

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
)

// sharedManager is a manager of the shared rules on its own connection to
// srv, as one analyze process has.
func sharedManager(t *testing.T, srv *bus.Server, cfg ManagerConfig) (*Manager, *bus.Conn) {
	t.Helper()
	conn := bustest.Connect(t, srv)
	kv, err := OpenBucket(context.Background(), conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	cfg.KV = kv
	m, err := NewManager(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, conn
}

// runEngine runs an engine of m until the test ends.
func runEngine(t *testing.T, m *Manager, conn *bus.Conn, durable string) {
	t.Helper()
	eng, err := NewEngine(EngineConfig{JS: conn.JS, NC: conn.NC, Rules: m, Durable: durable,
		Logger: slog.New(slog.NewTextHandler(testLog{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	<-eng.Ready()
}

// inForce waits until every manager has version v in force.
func inForce(t *testing.T, v string, ms ...*Manager) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i, m := range ms {
		for m.Current().Version != v {
			if time.Now().After(deadline) {
				t.Fatalf("engine %d: version %s in force, want %s", i+1, m.Current().Version, v)
			}
			<-tick.C
		}
	}
}

// TestSharedRulesPushChangesEveryEngine: two engines watch the rules in
// force in one bucket; a push puts new rules in force in both, a bad push
// is refused with line and column and changes nothing, and a value that
// does not parse (put by something that did not validate it) leaves the
// rules in force as they are. The history says who pushed what.
func TestSharedRulesPushChangesEveryEngine(t *testing.T) {
	srv, conn := bustest.Start(t)
	refused := make(chan error, 4)
	onReload := func(_ *RuleSet, err error) {
		if err != nil {
			refused <- err
		}
	}
	m1, c1 := sharedManager(t, srv, ManagerConfig{OnReload: onReload})
	m2, c2 := sharedManager(t, srv, ManagerConfig{})
	runEngine(t, m1, c1, "rules-a")
	runEngine(t, m2, c2, "rules-b")
	if m1.Current().Len() != 0 || m2.Current().Len() != 0 {
		t.Fatal("an empty bucket should mean no rules")
	}
	kv, err := OpenBucket(context.Background(), conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := ruleFile("- words: refund")
	rs, probs, err := Push(ctx, kv, []byte(first), "ana")
	if err != nil || len(probs) > 0 {
		t.Fatalf("push: %v %v", probs, err)
	}
	inForce(t, rs.Version, m1, m2)

	_, probs, err = Push(ctx, kv, []byte("rules:\n  - id: x\n    match: [{wordz: refund}]\n"), "ana")
	if err != nil || len(probs) == 0 || probs[len(probs)-1].Line != 3 || probs[len(probs)-1].Column != 14 {
		t.Fatalf("a bad push: problems %+v, err %v; want the last at line 3, column 14", probs, err)
	}
	if _, probs, _ := Push(ctx, kv, []byte("  \n"), "ana"); len(probs) == 0 {
		t.Fatal("an empty push was taken")
	}

	// Past validation: a value whose rules do not parse.
	b, _ := msg.Marshal(msg.RuleChange{Version: "v-bad", By: "intruder", At: time.Now(), Text: "rules: [{id: x}]"})
	if _, err := kv.Put(ctx, msg.KeyRulesInForce, b); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-refused:
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "intruder") {
			t.Errorf("refused: %v, want ErrInvalid naming who put it", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the bad value was not refused")
	}
	second := ruleFile("- words: cancel")
	by, _, err := Push(ctx, kv, []byte(second), "bo")
	if err != nil {
		t.Fatal(err)
	}
	inForce(t, by.Version, m1, m2)
	if m1.Current().Version != Version([]byte(second)) {
		t.Fatal("not the pushed text's version")
	}

	h, err := m2.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, c := range h {
		who = append(who, c.By)
	}
	if strings.Join(who, ",") != "bo,intruder,ana" || h[0].Text != second || h[2].Version != rs.Version {
		t.Errorf("history, newest first: %v", who)
	}
	if text, v, err := m2.Source(ctx); err != nil || v != by.Version || string(text) != second {
		t.Errorf("source: %q %s %v", text, v, err)
	}
}

// TestSharedRulesFile: a rules file is pushed at start into an empty
// bucket; with PushFile (earshot analyze --rules) also over other rules;
// otherwise the bucket's rules win and are written to the file. A change
// to the file is pushed; an invalid file is refused at start.
func TestSharedRulesFile(t *testing.T) {
	srv, conn := bustest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	first := ruleFile("- words: refund")
	if err := os.WriteFile(path, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	m, _ := sharedManager(t, srv, ManagerConfig{Path: path})
	if m.Current().Version != Version([]byte(first)) {
		t.Fatal("the file was not put in force in an empty bucket")
	}
	kv, err := OpenBucket(ctx, conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	pushed := ruleFile("- words: cancel")
	if _, _, err := Push(ctx, kv, []byte(pushed), "ana"); err != nil {
		t.Fatal(err)
	}
	// Started again with the (old) file: the bucket's rules win, and the file says so.
	other := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(other, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	m2, _ := sharedManager(t, srv, ManagerConfig{Path: other})
	if m2.Current().Version != Version([]byte(pushed)) {
		t.Fatal("a default rules file was pushed over the rules in force")
	}
	if b, _ := os.ReadFile(other); string(b) != pushed {
		t.Errorf("the rules file was not brought up to the rules in force: %q", b)
	}
	// Given on the command line, it is pushed.
	m3, _ := sharedManager(t, srv, ManagerConfig{Path: path, PushFile: true})
	if m3.Current().Version != Version([]byte(first)) {
		t.Fatal("--rules FILE was not pushed at start")
	}
	// The file changes: a reload pushes it.
	third := ruleFile("- words: complaint")
	if err := os.WriteFile(path, []byte(third), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m3.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if text, _, _ := m2.Source(ctx); string(text) != third {
		t.Errorf("the changed file was not pushed: in force %q", text)
	}
	// An invalid file given on the command line is refused at start.
	if err := os.WriteFile(path, []byte("rules: [{id: x}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	kv2, _ := OpenBucket(ctx, bustest.Connect(t, srv).JS)
	if _, err := NewManager(ctx, ManagerConfig{KV: kv2, Path: path, PushFile: true}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), path) {
		t.Errorf("invalid --rules file: %v, want ErrInvalid naming it", err)
	}
}
