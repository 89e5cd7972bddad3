package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
)

func rulesRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func rulesWrite(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const rulesTestFile = `rules:
  - id: manager
    match:
      - words: ["speak to your manager", supervisor]
        by: customer
    actions:
      alert: {severity: critical, message: "{matched}"}
      category: Escalation
`

func TestRulesCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := rulesWrite(t, dir, "good.yaml", rulesTestFile)
	code, out, errs := rulesRun(t, "rules", "check", good, "../../examples/rules.yaml")
	if code != 0 || !strings.Contains(out, "good.yaml: 1 rules, valid") || !strings.Contains(out, "examples/rules.yaml: 12 rules, valid") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	bad := rulesWrite(t, dir, "bad.yaml", "rules:\n  - id: a\n    colour: red\n    match: [{words: \"[x]\"}]\n    actions: {category: c}\n")
	code, _, errs = rulesRun(t, "rules", "check", bad)
	if code != 2 {
		t.Fatalf("exit %d for an invalid file, want 2", code)
	}
	for _, want := range []string{bad + `:3:5: rule: unknown field "colour"`, bad + `:4:21: words: "[x]": unknown placeholder`} {
		if !strings.Contains(errs, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if code, _, _ := rulesRun(t, "rules", "check", filepath.Join(dir, "missing.yaml")); code != 2 {
		t.Fatalf("exit %d for a missing file, want 2", code)
	}
	if code, _, _ := rulesRun(t, "rules", "frobnicate"); code != 2 {
		t.Fatalf("exit %d for an unknown subcommand, want 2", code)
	}
}

func TestRulesDryRunCommand(t *testing.T) {
	dir := t.TempDir()
	ruleFile := rulesWrite(t, dir, "rules.yaml", rulesTestFile)
	calls := filepath.Join(dir, "calls")
	if err := os.Mkdir(calls, 0o750); err != nil {
		t.Fatal(err)
	}
	rec := func(id, text string) string {
		b, err := json.Marshal(msg.CallRecord{
			Call: msg.CallSummary{CallID: id, DurationMS: 10000},
			Segments: []msg.StoredSegment{{Segment: msg.Segment{ID: id + "/customer/1/0", CallID: id, Leg: msg.RoleCustomer,
				StartMS: 62000, EndMS: 64000, Text: text}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	rulesWrite(t, calls, "a.json", rec("call-a", "let me speak to your manager"))
	rulesWrite(t, calls, "b.jsonl", rec("call-b", "thanks bye")+"\n"+rec("call-c", "SUPERVISOR now")+"\n")
	code, out, errs := rulesRun(t, "rules", "dryrun", ruleFile, "--calls", calls)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != "call-a\tmanager\t1:02 customer \"speak to your manager\"" || !strings.HasPrefix(lines[1], "call-c\tmanager\t") {
		t.Fatalf("stdout:\n%s", out)
	}
	if !strings.Contains(errs, "2 of 3 calls matched") {
		t.Fatalf("stderr %s", errs)
	}
	code, out, _ = rulesRun(t, "rules", "dryrun", "--json", ruleFile, "--calls", filepath.Join(calls, "a.json"))
	var m msg.DryRunMatch
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil || m.CallID != "call-a" || m.Matches[0].Text != "speak to your manager" {
		t.Fatalf("exit %d, json %s", code, out)
	}
	rulesWrite(t, dir, "broken.json", `{"call": {"call_id": "x"}, "segmnts": []}`)
	if code, _, errs := rulesRun(t, "rules", "dryrun", ruleFile, "--calls", filepath.Join(dir, "broken.json")); code != 2 || !strings.Contains(errs, "broken.json: record 1") {
		t.Fatalf("exit %d for a bad call record: %s", code, errs)
	}
}

// TestRulesStageStart: the analyze stage's rules part, started from its
// flags on a real NATS, raises an alert for a scored segment.
func TestRulesStageStart(t *testing.T) {
	// Only this test's goroutines: an earlier test's leftovers (nats.go's
	// ObjectStore.Put can leave one behind) are that test's to answer for.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before, natsJetStreamLeak) })
	_, conn := bustest.Start(t)
	dir := t.TempDir()
	ruleFile := rulesWrite(t, dir, "rules.yaml", rulesTestFile)
	var o rulesOptions
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	o.flags(fs)
	if err := fs.Parse([]string{"--rules", ruleFile, "--rules-grace", "1s"}); err != nil {
		t.Fatal(err)
	}
	e := &env{log: slog.New(slog.DiscardHandler), bus: conn, dataDir: dir, metrics: prometheus.NewRegistry()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runner, err := o.start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if o.manager == nil || o.manager.Current().Len() != 1 {
		t.Fatal("start did not keep the rules manager for the web view")
	}
	alerts := rulesAlerts(t, conn)
	done := make(chan error, 1)
	go func() { done <- runner(ctx) }()
	publishMsg(t, conn, msg.SubjectScoredSegment("c1"), msg.ScoredSegment{Segment: msg.Segment{ID: "c1/customer/1/0", CallID: "c1", Leg: msg.RoleCustomer, EndMS: 1000, Text: "supervisor"}})
	select {
	case a := <-alerts:
		if a.RuleID != "manager" || a.CallID != "c1" {
			t.Fatalf("alert %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no alert")
	}
	// The engine counts an alert once JetStream has acked it, just after
	// subscribers see it. It handles one event at a time, so once a second
	// call's alert arrives, the first has been counted.
	publishMsg(t, conn, msg.SubjectScoredSegment("c2"), msg.ScoredSegment{Segment: msg.Segment{ID: "c2/customer/1/0", CallID: "c2", Leg: msg.RoleCustomer, EndMS: 1000, Text: "supervisor"}})
	select {
	case a := <-alerts:
		if a.CallID != "c2" {
			t.Fatalf("second alert %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no alert for the second call")
	}
	if n, err := rulesGatherCounter(e.metrics, "earshot_rules_alerts_total"); err != nil || n < 1 {
		t.Fatalf("alerts metric %v, %v; want the first alert counted", n, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// An invalid rules file refuses to start, as bad input.
	bad := rulesWrite(t, dir, "bad.yaml", "rules: [{id: x}]")
	o2 := rulesOptions{file: bad, grace: time.Second}
	if _, err := o2.start(context.Background(), e); err == nil || !strings.Contains(err.Error(), "match is required") {
		t.Fatalf("start with an invalid file: %v", err)
	}
}

// rulesAlerts delivers the alerts published on conn's NATS until the test ends.
func rulesAlerts(t *testing.T, conn *bus.Conn) <-chan msg.Alert {
	t.Helper()
	alerts := make(chan msg.Alert, 4)
	sub, err := conn.NC.Subscribe(msg.AllAlerts, func(m *nats.Msg) {
		var a msg.Alert
		if msg.Unmarshal(m.Data, &a) == nil {
			alerts <- a
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return alerts
}

func rulesGatherCounter(reg *prometheus.Registry, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum, nil
}

// TestRulesDryRunStore: a dry run reads the calls of a store directory, as
// earshot search does, within a time range; a data directory given as call
// records says to use --data instead of failing on its other files.
func TestRulesDryRunStore(t *testing.T) {
	storeNoLeaks(t)
	dir, _ := storeTestData(t) // c1 at 09:00 (alice), c2 at 10:00 (bob): both ask for a refund
	rulesWrite(t, dir, "ui-users.json", `{"users": []}`)
	ruleFile := rulesWrite(t, t.TempDir(), "rules.yaml", "rules:\n  - id: refund\n    match: [{words: refund}]\n    actions: {category: Refund}\n")

	code, out, errs := rulesRun(t, "rules", "dryrun", ruleFile, "--data", dir)
	if code != 0 || !strings.Contains(out, "c1\trefund\t") || !strings.Contains(out, "customer \"refund\"") || !strings.Contains(out, "c2\trefund\t") ||
		!strings.Contains(errs, "2 of 2 calls matched at least one of 1 rules") {
		t.Fatalf("--data: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	code, out, errs = rulesRun(t, "rules", "dryrun", ruleFile, "--data", dir, "--from", "2026-11-02T09:30:00Z", "--to", "2026-11-03")
	if code != 0 || strings.Contains(out, "c1\t") || !strings.Contains(out, "c2\trefund") || !strings.Contains(errs, "1 of 1 calls matched") {
		t.Fatalf("--from/--to: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	code, out, errs = rulesRun(t, "rules", "dryrun", "--limit", "1", ruleFile, "--data", dir)
	if code != 0 || !strings.HasPrefix(out, "c2\t") || strings.Count(out, "\n") != 1 || !strings.Contains(errs, "1 more calls were not evaluated (--limit 1)") {
		t.Fatalf("--limit 1: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--calls", dir}, "is an earshot data directory (it holds earshot.db), not exported call records: use --data " + dir},
		{[]string{"--data", dir, "--calls", dir}, "not both"},
		{[]string{"--data", t.TempDir()}, "no store at"},
		{[]string{"--data", dir, "--from", "yesterday"}, "from"},
		{[]string{"--calls", dir, "--from", "2026-11-02"}, "select calls of a store"},
		{nil, "want the calls to evaluate: --data DIR or --db DSN"},
	} {
		code, _, errs := rulesRun(t, append([]string{"rules", "dryrun", ruleFile}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %s; want 2 and %q", c.args, code, errs, c.want)
		}
	}
}

// TestRulesCheckEmptyFile: the running engine never loads an empty rules
// file, so a check must not call one valid.
func TestRulesCheckEmptyFile(t *testing.T) {
	empty := rulesWrite(t, t.TempDir(), "empty.yaml", "\n")
	code, out, errs := rulesRun(t, "rules", "check", empty)
	if code != 2 || strings.Contains(out, "valid") || !strings.Contains(errs, empty+":1:1: the file is empty") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
}

// TestRulesPushCommand: earshot rules push puts a rules file in force for
// a running analyze stage at once; a bad file is refused with
// FILE:LINE:COLUMN and exit 2, and the rules in force stay.
func TestRulesPushCommand(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before, natsJetStreamLeak) })
	srv, conn := bustest.Start(t)
	dir := t.TempDir()
	var o rulesOptions
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	o.flags(fs)
	if err := fs.Parse([]string{"--rules", rulesWrite(t, dir, "rules.yaml", rulesTestFile), "--rules-grace", "1s"}); err != nil {
		t.Fatal(err)
	}
	logs := &e2eLines{seen: make(chan struct{}, 1)}
	e := &env{log: slog.New(slog.NewTextHandler(logs, nil)), bus: conn, dataDir: dir, metrics: prometheus.NewRegistry()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runner, err := o.start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runner(ctx) }()
	inForce := o.manager.Current().Version

	bad := rulesWrite(t, t.TempDir(), "bad.yaml", "rules:\n  - id: x\n    match: [{wordz: refund}]\n    actions: {category: R}\n")
	code, _, stderr := rulesRun(t, "rules", "push", bad, "--nats", srv.ClientURL())
	if code != 2 || !strings.Contains(stderr, bad+":3:14: ") || !strings.Contains(stderr, "the rules in force stay") {
		t.Fatalf("push of a bad file: exit %d, stderr %q; want 2 with FILE:3:14", code, stderr)
	}
	if o.manager.Current().Version != inForce {
		t.Fatal("a refused push changed the rules in force")
	}
	good := rulesWrite(t, t.TempDir(), "new.yaml", "rules:\n  - id: refund\n    match: [{words: refund}]\n    actions: {alert: {severity: warning, message: refund}}\n")
	code, stdout, stderr := rulesRun(t, "rules", "push", good, "--nats", srv.ClientURL(), "--by", "ana")
	if code != 0 || !strings.Contains(stdout, "1 rules in force") || !strings.Contains(stdout, "by ana") {
		t.Fatalf("push: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	alerts := rulesAlerts(t, conn)
	logs.waitWithin(t, regexp.MustCompile(`rules in force changed.* by=ana`), 10*time.Second)
	publishMsg(t, conn, msg.SubjectScoredSegment("c1"), msg.ScoredSegment{Segment: msg.Segment{ID: "c1/customer/1/0", CallID: "c1", Leg: msg.RoleCustomer, EndMS: 1000, Text: "i want a refund"}})
	select {
	case a := <-alerts:
		if a.RuleID != "refund" {
			t.Fatalf("alert %+v, want the pushed rule's", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pushed rule raised no alert")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "rules.yaml")); !strings.Contains(string(b), "id: refund") {
		t.Errorf("the --rules file does not say what is in force: %q", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
