package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func sentimentRun(t *testing.T, stdin string, args ...string) (code int, out, errOut string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), append([]string{"sentiment"}, args...), stdio{strings.NewReader(stdin), &o, &e})
	return code, o.String(), e.String()
}

func TestSentimentCmd(t *testing.T) {
	code, out, errOut := sentimentRun(t, "I want to cancel my account, this is ridiculous.\r\nthank you so much\n\nOkay, let me check.")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"negative", "positive", "neutral", "neutral"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines out, want %d: %s", len(lines), len(want), out)
	}
	for i, l := range lines {
		var got struct {
			Label    string   `json:"label"`
			Compound *float64 `json:"compound"`
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		if got.Label != want[i] || got.Compound == nil {
			t.Errorf("line %d: %s, want label %s and a compound", i+1, l, want[i])
		}
	}
}

func TestSentimentCmdBadInput(t *testing.T) {
	code, out, errOut := sentimentRun(t, "fine words\n\xff\xfe\nmore")
	if code != 2 || !strings.Contains(errOut, "stdin line 2: not valid UTF-8") {
		t.Errorf("invalid UTF-8: exit %d, stderr %q; want 2 and the line named", code, errOut)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("the line before the bad one was not written: %q", out)
	}
	code, _, errOut = sentimentRun(t, "x\n"+strings.Repeat("a", maxSentimentLine+1))
	if code != 2 || !strings.Contains(errOut, "stdin line 2: longer than") {
		t.Errorf("long line: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := sentimentRun(t, "", "file.txt"); code != 2 {
		t.Errorf("an argument: exit %d, want 2", code)
	}
}
