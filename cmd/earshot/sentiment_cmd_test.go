package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
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

// TestSentimentCmdKorean: Korean lines get the Korean model, by their
// Hangul or by -language; the language is printed.
func TestSentimentCmdKorean(t *testing.T) {
	type line struct {
		Label    string  `json:"label"`
		Compound float64 `json:"compound"`
		Language string  `json:"language"`
	}
	parse := func(out string) []line {
		var ls []line
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var got line
			if err := json.Unmarshal([]byte(l), &got); err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			ls = append(ls, got)
		}
		return ls
	}
	code, out, errOut := sentimentRun(t, "너무 화가 나요. 해지해 주세요\n안녕하세요\n감사합니다\nthank you so much\n제 account 해지해 주세요\n")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := []line{{msg.Negative, 0, "ko"}, {msg.Neutral, 0, "ko"}, {msg.Positive, 0, "ko"}, {msg.Positive, 0, "en"}, {msg.Negative, 0, "ko"}}
	got := parse(out)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %s", len(got), len(want), out)
	}
	for i := range want {
		if got[i].Label != want[i].Label || got[i].Language != want[i].Language {
			t.Errorf("line %d: %+v, want %s in %s", i+1, got[i], want[i].Label, want[i].Language)
		}
	}
	if got[0].Compound >= 0 {
		t.Errorf("the issue's example: compound %v, want below 0", got[0].Compound)
	}
	// -language en scores Korean text with the English model: it knows no
	// Hangul, so neutral.
	code, out, _ = sentimentRun(t, "너무 화가 나요. 해지해 주세요\n", "-language", "en")
	if l := parse(out); code != 0 || l[0].Label != msg.Neutral || l[0].Language != "en" {
		t.Errorf("-language en: exit %d, %s", code, out)
	}
	code, out, _ = sentimentRun(t, "thank you\n", "-language", "ko")
	if l := parse(out); code != 0 || l[0].Language != "ko" {
		t.Errorf("-language ko: exit %d, %s", code, out)
	}
	if code, _, errOut := sentimentRun(t, "x\n", "-language", "ja"); code != 2 || !strings.Contains(errOut, `-language "ja"`) {
		t.Errorf("-language ja: exit %d, stderr %q; want 2 and the value named", code, errOut)
	}
	// A 100 kB line scores.
	long := strings.Repeat("서비스가 너무 불친절해요 ", 100<<10/len("서비스가 너무 불친절해요 "))
	code, out, errOut = sentimentRun(t, long+"\n")
	if l := parse(out); code != 0 || len(l) != 1 || l[0].Label != msg.Negative {
		t.Errorf("100 kB line: exit %d, %s %s", code, out, errOut)
	}
}

func TestSentimentTrainCmdBadInput(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := sentimentRun(t, "", "train", "-data", dir, "-out", dir+"/m")
	if code != 2 || !strings.Contains(errOut, "ratings_train.txt") {
		t.Errorf("no data: exit %d, stderr %q; want 2 and the missing file named", code, errOut)
	}
}
