package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

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
