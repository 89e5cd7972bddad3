package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

// memCalls is a CallReader over records held in memory: enough of the
// store's read side to dry-run against (the real store is wired in cmd).
type memCalls struct {
	recs    []msg.CallRecord
	queries []msg.SearchQuery
}

func (m *memCalls) Search(_ context.Context, q msg.SearchQuery) (msg.SearchResults, error) {
	m.queries = append(m.queries, q)
	var hits []msg.SearchHit
	for _, r := range m.recs {
		if q.Queue == "" || q.Queue == r.Call.Queue {
			hits = append(hits, msg.SearchHit{Call: r.Call})
		}
	}
	total := len(hits)
	hits = hits[min(q.Offset, len(hits)):]
	if q.Limit > 0 && len(hits) > q.Limit {
		hits = hits[:q.Limit]
	}
	return msg.SearchResults{Total: total, Hits: hits}, nil
}

func (m *memCalls) Call(_ context.Context, id string, original bool) (msg.CallRecord, error) {
	if original {
		return msg.CallRecord{}, errors.New("dry runs must not ask for unredacted text")
	}
	for _, r := range m.recs {
		if r.Call.CallID == id {
			return r, nil
		}
	}
	return msg.CallRecord{}, msg.ErrNotFound
}

func storedCall(id, queue string, segs ...msg.StoredSegment) msg.CallRecord {
	r := record(segs...)
	r.Call.CallID, r.Call.Queue = id, queue
	for i := range r.Segments {
		r.Segments[i].CallID = id
	}
	return r
}

func TestDryRun(t *testing.T) {
	calls := &memCalls{}
	for i := range 150 {
		text := "just checking my balance"
		if i%50 == 7 {
			text = "i want to cancel my account"
		}
		calls.recs = append(calls.recs, storedCall("call-"+string(rune('a'+i/26))+string(rune('a'+i%26)), "billing", seg(customer, 1, 4, text)))
	}
	calls.recs = append(calls.recs, storedCall("sales-1", "sales", seg(customer, 1, 4, "cancel it")))
	m, err := NewManager(context.Background(), ManagerConfig{DataDir: t.TempDir(), Calls: calls})
	if err != nil {
		t.Fatal(err)
	}
	text := []byte(ruleFile("- words: cancel\n  by: customer"))
	got, err := m.DryRun(context.Background(), text, msg.SearchQuery{Queue: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range got {
		ids = append(ids, g.CallID)
		if g.RuleID != "r1" || len(g.Matches) != 1 || g.Matches[0].Text != "cancel" || g.Matches[0].StartMS < 1000 {
			t.Fatalf("match %+v", g)
		}
	}
	if !slices.Equal(ids, []string{"call-ah", "call-cf", "call-ed"}) {
		t.Fatalf("dry run matched %v", ids)
	}
	if len(calls.queries) != 2 {
		t.Fatalf("%d searches for 150 calls, want 2 pages", len(calls.queries))
	}
	// Invalid text is refused with its problems; the rules in force are untouched.
	if _, err := m.DryRun(context.Background(), []byte("rules: [{id: x}]"), msg.SearchQuery{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v, want ErrInvalid", err)
	}
	m2, _ := NewManager(context.Background(), ManagerConfig{DataDir: t.TempDir()})
	if _, err := m2.DryRun(context.Background(), text, msg.SearchQuery{}); !errors.Is(err, ErrNoCalls) {
		t.Fatalf("err %v, want ErrNoCalls", err)
	}
	m2.SetCalls(calls)
	if got, err := m2.DryRun(context.Background(), text, msg.SearchQuery{Queue: "sales"}); err != nil || len(got) != 1 || got[0].CallID != "sales-1" {
		t.Fatalf("after SetCalls: %+v, %v", got, err)
	}
}

// TestDryRunIsPostCall: a dry run and the live engine's post-call pass run
// the same evaluation, so a rule that needs the whole call matches both.
func TestDryRunIsPostCall(t *testing.T) {
	rs := mustParse(t, ruleFile("- words: [thank you, thanks]\n  by: agent\n  last: 10s\n  not: true"))
	rec := record(seg(agent, 0, 2, "hello"), seg(customer, 30, 40, "bye"))
	if got := EvaluateRecord(rs, &rec); len(got) != 1 {
		t.Fatalf("dry run: %+v", got)
	}
	cs := newCallState("c", rs)
	for i := range rec.Segments {
		cs.addSegment(&rec.Segments[i].Segment, rec.Segments[i].Sentiment)
	}
	if len(cs.evaluate(false)) != 0 {
		t.Fatal("fired live")
	}
	cs.callEvent(&msg.CallEvent{Kind: msg.CallEnded, DurationMS: rec.Call.DurationMS})
	if len(cs.evaluate(true)) != 1 {
		t.Fatal("post-call did not match what the dry run matched")
	}
}

func TestActivateAndHistory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	m, err := NewManager(context.Background(), ManagerConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	text, version, _ := m.Source(ctx)
	if len(text) != 0 || version != Version(nil) || m.Current().Len() != 0 {
		t.Fatalf("a missing file is not an empty rule set: %q %s", text, version)
	}
	good := []byte(ruleFile("- words: refund"))
	if probs, err := m.Activate(ctx, good, "ana"); err != nil || len(probs) != 0 {
		t.Fatalf("activate: %v %+v", err, probs)
	}
	if b, _ := os.ReadFile(path); string(b) != string(good) {
		t.Fatal("the rules file was not written")
	}
	bad := []byte("rules:\n  - id: x\n    nonsense: 1\n")
	probs, err := m.Activate(ctx, bad, "bob")
	if err != nil || len(probs) != 3 || probs[2].Line != 3 {
		t.Fatalf("activate invalid: %v %+v", err, probs)
	}
	if b, _ := os.ReadFile(path); string(b) != string(good) {
		t.Fatal("an invalid activation touched the rules file")
	}
	text, version, _ = m.Source(ctx)
	if string(text) != string(good) || version != Version(good) || m.Current().Len() != 1 {
		t.Fatal("the rules in force changed after an invalid activation")
	}
	second := []byte(ruleFile("- words: refund", "repeat: true"))
	if _, err := m.Activate(ctx, second, "cho"); err != nil {
		t.Fatal(err)
	}
	h, err := m.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].By != "cho" || h[1].By != "ana" || h[1].Version != Version(good) || h[1].Rules != 1 || h[1].Text != string(good) {
		t.Fatalf("history %+v", h)
	}
	// A manager on a file that is invalid at start refuses to start.
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewManager(context.Background(), ManagerConfig{Path: path}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v, want ErrInvalid", err)
	}
	// ...and a running one keeps its rules, also when the file is gone.
	if _, err := m.Reload(ctx); !errors.Is(err, ErrInvalid) || m.Current().Version != Version(second) {
		t.Fatalf("reload of an invalid file: %v, version %s", err, m.Current().Version)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(ctx); err == nil || m.Current().Version != Version(second) {
		t.Fatalf("reload of an empty file: %v, version %s", err, m.Current().Version)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(ctx); err == nil || m.Current().Version != Version(second) {
		t.Fatalf("reload of a missing file: %v, version %s", err, m.Current().Version)
	}
}

// TestActivateEmptyRefused: an empty text (a request that forgot it) never
// removes the rules in force; "rules: []" does, on purpose.
func TestActivateEmptyRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	good := []byte(ruleFile("- words: refund"))
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(context.Background(), ManagerConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, text := range []string{"", " \n\t\n"} {
		probs, err := m.Activate(ctx, []byte(text), "eve")
		if err != nil || len(probs) != 1 || !strings.Contains(probs[0].Message, "empty") || !strings.Contains(probs[0].Message, "rules: []") {
			t.Fatalf("activate %q: %v %+v, want one problem saying it is empty and how to remove every rule", text, err, probs)
		}
		if b, _ := os.ReadFile(path); string(b) != string(good) || m.Current().Len() != 1 {
			t.Fatalf("activate %q: the rules file or the rules in force changed", text)
		}
	}
	if h, _ := m.History(ctx); len(h) != 0 {
		t.Fatalf("a refused activation is in the history: %+v", h)
	}
	if probs, err := m.Activate(ctx, []byte("rules: []\n"), "ana"); err != nil || len(probs) != 0 || m.Current().Len() != 0 {
		t.Fatalf("rules: []: %v %+v, %d rules in force", err, probs, m.Current().Len())
	}
}
