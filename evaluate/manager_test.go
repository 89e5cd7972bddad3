package evaluate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/evaluate"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store/sqlite"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// clock is a settable clock for the manager.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func ptr[T any](v T) *T          { return &v }
func score(ev msg.Evaluation) float64 {
	if ev.Score == nil {
		return -1
	}
	return *ev.Score
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), sqlite.FileName)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func formText(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/quality.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putCall stores an ended call: greeted, the disclosure read, the agent
// interrupting interruptions times.
func putCall(t *testing.T, s *sqlite.Store, id string, start time.Time, interruptions int) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutCall(ctx, msg.CallEvent{CallID: id, Kind: msg.CallStarted, Time: start, StartedAt: start, Agent: "ann"}))
	must(s.PutSegment(ctx, msg.StoredSegment{Segment: msg.Segment{ID: id + "/agent/1/0", CallID: id, Leg: msg.RoleAgent, Turn: 1,
		StartMS: 1000, EndMS: 4000, Text: "Hello, this call may be recorded."}}))
	must(s.PutCategories(ctx, msg.Categories{CallID: id, Final: true, Categories: []msg.Category{{Name: "Greeted"}}}))
	ch := msg.Characteristics{CallID: id, Final: true, NonTalkMS: 6000, TalkMS: map[msg.Role]int64{msg.RoleAgent: 20000, msg.RoleCustomer: 30000},
		TalkSpeedWPM: map[msg.Role]float64{msg.RoleAgent: 150}}
	for range interruptions {
		ch.Interruptions = append(ch.Interruptions, msg.Interruption{By: msg.RoleAgent})
	}
	must(s.PutCharacteristics(ctx, ch))
	must(s.PutCall(ctx, msg.CallEvent{CallID: id, Kind: msg.CallEnded, Time: start.Add(time.Minute), StartedAt: start, DurationMS: 60000}))
}

// setup is a manager on a new store, on a clock at t0.
func setup(t *testing.T) (*sqlite.Store, *clock, *evaluate.Manager) {
	t.Helper()
	s := openStore(t)
	c := &clock{now: t0}
	m, err := evaluate.NewManager(evaluate.Config{Store: s, Now: c.Now,
		Redact: func(s string) string { return strings.ReplaceAll(s, "4111", "[PII]") }})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, m
}

func evaluation(t *testing.T, s *sqlite.Store, call, form string) *msg.Evaluation {
	t.Helper()
	rec, err := s.Call(context.Background(), call, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range rec.Evaluations {
		if ev.Form == form {
			return &ev
		}
	}
	return nil
}

func answer(ev *msg.Evaluation, q string) msg.EvaluatedAnswer {
	for _, a := range ev.Answers {
		if a.Question == q {
			return a
		}
	}
	return msg.EvaluatedAnswer{}
}

// TestSaveVersionsAndScoreInForce: an invalid form is refused with its
// line and column and saves nothing; each save is the next version; a
// call is scored with the version in force when it ended, and not at all
// when no form was saved by then.
func TestSaveVersionsAndScoreInForce(t *testing.T) {
	ctx := context.Background()
	s, c, m := setup(t)
	text := formText(t)

	bad := strings.Replace(string(text), "type: choice", "type: colour", 1)
	_, probs, err := m.Save(ctx, []byte(bad), "ann")
	if err != nil || len(probs) != 1 || probs[0].Line != 51 || !strings.Contains(probs[0].Message, `type "colour"`) {
		t.Fatalf("invalid form: %+v %v", probs, err)
	}
	if fs, err := m.Forms(ctx); err != nil || len(fs) != 0 {
		t.Fatalf("an invalid form was saved: %+v %v", fs, err)
	}

	putCall(t, s, "before", t0.Add(-time.Hour), 0) // ended before any form
	c.Set(t0.Add(time.Hour))
	v1, probs, err := m.Save(ctx, text, "ann")
	if err != nil || len(probs) > 0 || v1.Version != 1 || v1.Form != "service-qa" || v1.SavedBy != "ann" {
		t.Fatalf("save: %+v %+v %v", v1, probs, err)
	}
	putCall(t, s, "during-v1", t0.Add(2*time.Hour), 2)
	c.Set(t0.Add(3 * time.Hour))
	strict := strings.Replace(string(text), "at_most: 1", "at_most: 3", 1)
	v2, _, err := m.Save(ctx, []byte(strict), "ann")
	if err != nil || v2.Version != 2 {
		t.Fatalf("second save: %+v %v", v2, err)
	}
	putCall(t, s, "during-v2", t0.Add(4*time.Hour), 2)

	if evs, err := m.ScoreCall(ctx, "before"); err != nil || len(evs) != 0 {
		t.Fatalf("a call that ended before any form: %+v %v", evs, err)
	}
	for call, want := range map[string]int{"during-v1": 1, "during-v2": 2} {
		evs, err := m.ScoreCall(ctx, call)
		if err != nil || len(evs) != 1 {
			t.Fatalf("%s: %+v %v", call, evs, err)
		}
		ev := evaluation(t, s, call, "service-qa")
		if ev == nil || ev.FormRevision != want || ev.FormVersion != evaluate.Version([]byte(map[int]string{1: string(text), 2: strict}[want])) {
			t.Fatalf("%s: scored with %+v, want version %d", call, ev, want)
		}
	}
	// Two interruptions: no under version 1 (at most 1), yes under 2.
	if a := answer(evaluation(t, s, "during-v1", "service-qa"), "no-talkover"); a.Value != "no" {
		t.Errorf("v1 no-talkover: %+v", a)
	}
	if a := answer(evaluation(t, s, "during-v2", "service-qa"), "no-talkover"); a.Value != "yes" {
		t.Errorf("v2 no-talkover: %+v", a)
	}
	vs, err := m.Versions(ctx, "service-qa")
	if err != nil || len(vs) != 2 || vs[0].Version != 2 {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	spec, err := m.Spec(ctx, "service-qa", 1)
	if err != nil || spec.Version != 1 || len(spec.Sections) != 3 || spec.Sections[2].Questions[0].Answers[1] != "Partly" ||
		spec.Sections[2].Questions[0].Auto || !spec.Sections[0].Questions[0].Auto {
		t.Fatalf("spec: %+v %v", spec, err)
	}
	if _, err := m.Spec(ctx, "service-qa", 3); !errors.Is(err, msg.ErrNotFound) {
		t.Errorf("version 3: %v, want ErrNotFound", err)
	}
}

// TestAmend: an analyst's answer with a comment moves the total, keeps
// the automatic answer, who and when; a value the question does not take,
// or no comment, is refused; an empty value goes back to the automatic
// answer.
func TestAmend(t *testing.T) {
	ctx := context.Background()
	s, c, m := setup(t)
	if _, _, err := m.Save(ctx, formText(t), "ann"); err != nil {
		t.Fatal(err)
	}
	putCall(t, s, "k1", t0.Add(time.Hour), 2)
	if _, err := m.ScoreCall(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	before := *evaluation(t, s, "k1", "service-qa")
	c.Set(t0.Add(2 * time.Hour))
	for _, bad := range []msg.AnswerChange{
		{Question: "resolved", Value: "Mostly", Comment: "x"},
		{Question: "resolved", Value: "Fully"},
		{Question: "nope", Value: "yes", Comment: "x"},
		{Question: "pace", Value: "500", Comment: "x"},
	} {
		if _, err := m.Amend(ctx, "k1", "service-qa", []msg.AnswerChange{bad}, "quinn"); !errors.Is(err, msg.ErrBadQuery) {
			t.Errorf("%+v: %v, want ErrBadQuery", bad, err)
		}
	}
	if _, err := m.Amend(ctx, "k1", "other-form", []msg.AnswerChange{{Question: "x", Value: "yes", Comment: "x"}}, "quinn"); !errors.Is(err, msg.ErrNotFound) {
		t.Errorf("another form: %v, want ErrNotFound", err)
	}
	ev, err := m.Amend(ctx, "k1", "service-qa", []msg.AnswerChange{
		{Question: "resolved", Value: "Fully", Comment: "refund issued, card 4111 charged back"},
		{Question: "no-talkover", Value: "yes", Comment: "the customer asked to be stopped"},
	}, "quinn")
	if err != nil {
		t.Fatal(err)
	}
	stored := evaluation(t, s, "k1", "service-qa")
	a := answer(stored, "no-talkover")
	if a.Value != "yes" || a.Auto != "no" || a.By != "quinn" || a.At == nil || !a.At.Equal(t0.Add(2*time.Hour)) || a.Comment != "the customer asked to be stopped" {
		t.Errorf("changed answer: %+v", a)
	}
	if r := answer(stored, "resolved"); r.Value != "Fully" || r.Auto != "" || r.Comment != "refund issued, card [PII] charged back" {
		t.Errorf("analyst's answer: %+v", r)
	}
	if score(ev) <= score(before) || score(*stored) != score(ev) {
		t.Errorf("total: %v before, %v returned, %v stored", score(before), score(ev), score(*stored))
	}
	// Back to the automatic answer.
	if _, err := m.Amend(ctx, "k1", "service-qa", []msg.AnswerChange{{Question: "no-talkover"}}, "quinn"); err != nil {
		t.Fatal(err)
	}
	if a := answer(evaluation(t, s, "k1", "service-qa"), "no-talkover"); a.Value != "no" || a.By != "" || a.Comment != "" {
		t.Errorf("taken back: %+v", a)
	}
	// Scoring again (a redelivered announcement) keeps the analyst's answer.
	if _, err := m.ScoreCall(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if r := answer(evaluation(t, s, "k1", "service-qa"), "resolved"); r.Value != "Fully" || r.By != "quinn" {
		t.Errorf("scored again: %+v", r)
	}
}

// TestRescore: a dry run says how many totals a new version moves and by
// how much and keeps nothing; applying keeps them, with the analysts'
// answers; a dry run after it finds nothing to change.
func TestRescore(t *testing.T) {
	ctx := context.Background()
	s, c, m := setup(t)
	text := formText(t)
	if _, _, err := m.Save(ctx, text, "ann"); err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{0, 2, 2, 5} {
		id := []string{"r0", "r1", "r2", "r3"}[i]
		putCall(t, s, id, t0.Add(time.Duration(i+1)*time.Hour), n)
		if _, err := m.ScoreCall(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	putCall(t, s, "outside", t0.Add(30*time.Hour), 2)
	if _, err := m.Amend(ctx, "r2", "service-qa", []msg.AnswerChange{{Question: "resolved", Value: "Partly", Comment: "half done"}}, "quinn"); err != nil {
		t.Fatal(err)
	}
	before := map[string]float64{}
	for _, id := range []string{"r0", "r1", "r2", "r3"} {
		before[id] = score(*evaluation(t, s, id, "service-qa"))
	}
	c.Set(t0.Add(40 * time.Hour))
	v2, _, err := m.Save(ctx, []byte(strings.Replace(string(text), "at_most: 1", "at_most: 3", 1)), "ann")
	if err != nil {
		t.Fatal(err)
	}
	req := msg.RescoreRequest{Form: "service-qa", From: t0, To: t0.Add(24 * time.Hour), DryRun: true}
	dry, err := m.Rescore(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// r1 and r2 (two interruptions) turn yes; r0 was yes, r3 stays no.
	if dry.Calls != 4 || dry.Changed != 2 || dry.Unchanged != 2 || dry.Up != 2 || dry.Down != 0 || dry.Version != v2.Version ||
		dry.MinDelta == nil || *dry.MinDelta <= 0 || len(dry.Examples) != 2 || dry.Examples[0].CallID != "r1" {
		t.Fatalf("dry run: %+v", dry)
	}
	if got := score(*evaluation(t, s, "r1", "service-qa")); got != before["r1"] {
		t.Fatalf("the dry run changed r1: %v, was %v", got, before["r1"])
	}
	req.DryRun = false
	applied, err := m.Rescore(ctx, req)
	if err != nil || applied.Changed != dry.Changed || *applied.MeanDelta != *dry.MeanDelta {
		t.Fatalf("applied: %+v (dry run %+v) %v", applied, dry, err)
	}
	r2 := evaluation(t, s, "r2", "service-qa")
	if r2.FormRevision != 2 || score(*r2) != before["r2"]+*dry.Examples[1].After-*dry.Examples[1].Before ||
		answer(r2, "resolved").Value != "Partly" || answer(r2, "resolved").By != "quinn" {
		t.Errorf("r2 re-scored: %+v", r2)
	}
	if _, err := m.ScoreCall(ctx, "r2"); err != nil { // announced again
		t.Fatal(err)
	}
	if ev := evaluation(t, s, "r2", "service-qa"); ev.FormRevision != 2 {
		t.Errorf("scored again after re-scoring: version %d, want 2", ev.FormRevision)
	}
	if ev := evaluation(t, s, "outside", "service-qa"); ev != nil {
		t.Errorf("a call outside the range was scored: %+v", ev)
	}
	req.DryRun = true
	if again, err := m.Rescore(ctx, req); err != nil || again.Changed != 0 || again.Unchanged != 4 {
		t.Errorf("dry run after applying: %+v %v", again, err)
	}
	for _, bad := range []msg.RescoreRequest{
		{From: t0, To: t0.Add(time.Hour)},
		{Form: "service-qa", From: t0.Add(time.Hour), To: t0},
		{Form: "service-qa"},
	} {
		if _, err := m.Rescore(ctx, bad); !errors.Is(err, msg.ErrBadQuery) {
			t.Errorf("%+v: %v, want ErrBadQuery", bad, err)
		}
	}
	if _, err := m.Rescore(ctx, msg.RescoreRequest{Form: "service-qa", Version: 9, From: t0, To: t0.Add(time.Hour)}); !errors.Is(err, msg.ErrNotFound) {
		t.Errorf("version 9: %v, want ErrNotFound", err)
	}
}

// TestStageScoresStoredCalls: the stage scores a call when the store
// announces it, over a real NATS.
func TestStageScoresStoredCalls(t *testing.T) {
	ctx := context.Background()
	_, conn := bustest.Start(t)
	s, _, m := setup(t)
	if _, _, err := m.Save(ctx, formText(t), "ann"); err != nil {
		t.Fatal(err)
	}
	scored := make(chan string, 4)
	st, err := evaluate.NewStage(evaluate.StageConfig{Manager: m, OnScored: func(call string, evs []msg.Evaluation) {
		if len(evs) == 1 {
			scored <- call
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx, conn.JS) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	putCall(t, s, "s1", t0.Add(time.Hour), 0)
	b, err := msg.Marshal(msg.CallStored{CallID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Publish(ctx, msg.SubjectStored("s1"), b); err != nil {
		t.Fatal(err)
	}
	select {
	case call := <-scored:
		if ev := evaluation(t, s, call, "service-qa"); call != "s1" || ev == nil || ev.FormRevision != 1 || score(*ev) <= 0 {
			t.Fatalf("scored %s: %+v", call, ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stored call was not scored")
	}
}
