package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

func TestFormsCommand(t *testing.T) {
	dir := t.TempDir()
	good := "../../evaluate/testdata/quality.yaml"
	code, out, errs := rulesRun(t, "forms", "check", good)
	if code != 0 || !strings.Contains(out, "form service-qa, 3 sections, 8 questions, valid (version ") {
		t.Fatalf("check good: %d %q %q", code, out, errs)
	}
	code, _, errs = rulesRun(t, "forms", "check", good, "../../evaluate/testdata/invalid.yaml")
	if code != 2 || !strings.Contains(errs, "invalid.yaml:9:15: question q1: type \"colour\"") || !strings.Contains(errs, "1 of 2 form files invalid") {
		t.Fatalf("check bad: %d %q", code, errs)
	}
	if code, _, _ := rulesRun(t, "forms", "check", filepath.Join(dir, "missing.yaml")); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
	if code, _, _ := rulesRun(t, "forms", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}
	rec := msg.CallRecord{Call: msg.CallSummary{CallID: "c1", DurationMS: 60000}, Categories: []msg.Category{{Name: "Greeted"}},
		Segments: []msg.StoredSegment{{Segment: msg.Segment{Leg: msg.RoleAgent, StartMS: 1000, EndMS: 3000, Text: "this call may be recorded"}}}}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	calls := rulesWrite(t, dir, "c1.json", string(b))
	code, out, errs = rulesRun(t, "forms", "score", good, "--calls", calls)
	var ev msg.Evaluation
	if code != 0 || json.Unmarshal([]byte(out), &ev) != nil || ev.CallID != "c1" || ev.Score == nil || *ev.Sections[0].Score != 100 {
		t.Fatalf("score: %d %q %q", code, out, errs)
	}
	if code, _, _ := rulesRun(t, "forms", "score", good); code != 2 {
		t.Errorf("score without calls: exit %d, want 2", code)
	}
}

// TestFormsRescoreCommand: a dry run says how many totals a new version
// moves and changes nothing; without it they are kept; bad flags exit 2.
func TestFormsRescoreCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := openStore(ctx, "", dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := formsManager(st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../../evaluate/testdata/quality.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, probs, err := m.Save(ctx, text, "ann"); err != nil || len(probs) > 0 {
		t.Fatalf("save: %v %v", probs, err)
	}
	start := time.Now().UTC() // ends after the form was saved: scored with version 1
	for _, ev := range []msg.CallEvent{
		{CallID: "r1", Kind: msg.CallStarted, Time: start, StartedAt: start, Agent: "ann"},
		{CallID: "r1", Kind: msg.CallEnded, Time: start.Add(time.Minute), StartedAt: start, DurationMS: 60000},
	} {
		if err := st.PutCall(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutCharacteristics(ctx, msg.Characteristics{CallID: "r1", Final: true, NonTalkMS: 30000,
		Interruptions: []msg.Interruption{{By: msg.RoleAgent}, {By: msg.RoleAgent}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ScoreCall(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Save(ctx, []byte(strings.Replace(string(text), "at_most: 1", "at_most: 2", 1)), "ann"); err != nil {
		t.Fatal(err)
	}
	day := start.Format(time.DateOnly)
	next := start.Add(24 * time.Hour).Format(time.DateOnly)
	args := []string{"forms", "rescore", "--form", "service-qa", "--from", day, "--to", next, "--data", dir}
	code, out, errs := rulesRun(t, append(args, "--dry-run")...)
	if code != 0 || !strings.Contains(out, "dry run: would re-score 1 calls with form service-qa version 2: 1 totals change (0 newly scored), 0 unchanged") ||
		!strings.Contains(out, "1 up, 0 down") {
		t.Fatalf("dry run: %d %q %q", code, out, errs)
	}
	rec, err := st.Call(ctx, "r1", false)
	if err != nil || rec.Evaluations[0].FormRevision != 1 {
		t.Fatalf("the dry run changed the call: %+v %v", rec.Evaluations, err)
	}
	code, out, errs = rulesRun(t, append(args, "--json")...)
	var res msg.RescoreResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Changed != 1 || res.DryRun {
		t.Fatalf("apply: %d %q %q", code, out, errs)
	}
	if rec, err := st.Call(ctx, "r1", false); err != nil || rec.Evaluations[0].FormRevision != 2 {
		t.Fatalf("applied: %+v %v", rec.Evaluations, err)
	}
	if code, out, _ := rulesRun(t, append(args, "--dry-run")...); code != 0 || !strings.Contains(out, "0 totals change") {
		t.Errorf("dry run after applying: %d %q", code, out)
	}
	for _, bad := range [][]string{
		{"forms", "rescore", "--from", day, "--to", next, "--data", dir},
		{"forms", "rescore", "--form", "service-qa", "--from", "yesterday", "--to", next, "--data", dir},
		{"forms", "rescore", "--form", "service-qa", "--from", next, "--to", day, "--data", dir},
		{"forms", "rescore", "--form", "nope", "--from", day, "--to", next, "--data", dir},
		{"forms", "rescore", "--form", "service-qa", "--version", "7", "--from", day, "--to", next, "--data", dir},
	} {
		if code, _, errs := rulesRun(t, bad...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d %q, want 2 with a message", bad, code, errs)
		}
	}
}
