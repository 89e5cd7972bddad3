package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func redactRun(t *testing.T, stdin string, args ...string) (code int, out, errOut string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), append([]string{"redact"}, args...), stdio{strings.NewReader(stdin), &o, &e})
	return code, o.String(), e.String()
}

// redactOut parses earshot redact's output.
func redactOut(t *testing.T, out string) []redactLine {
	t.Helper()
	var res []redactLine
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r redactLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		res = append(res, r)
	}
	return res
}

func TestRedactCmd(t *testing.T) {
	in := []string{
		"제 번호는 공일공에 일이삼사에 오육칠팔이요",
		"my card is four one one one one one one one one one one one one one one one thanks\r",
		"카드 number는 4111-1111-1111-1111", // mixed script: Hangul, so Korean
		"",
		"세 번째로 두 시 삼십 분에 삼만 오천 원, 십 분",
	}
	code, out, errOut := redactRun(t, strings.Join(in, "\n"), "--mask", "entity")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := redactOut(t, out)
	want := []struct {
		text  string
		types []string
		spans []string // the input's runes [start, end) of each entity
	}{
		{"제 번호는 [PHONE]이요", []string{"PHONE"}, []string{"공일공에 일이삼사에 오육칠팔"}},
		{"my card is [CREDIT_DEBIT_NUMBER] thanks", []string{"CREDIT_DEBIT_NUMBER"}, []string{"four one one one one one one one one one one one one one one one"}},
		{"카드 number는 [CREDIT_DEBIT_NUMBER]", []string{"CREDIT_DEBIT_NUMBER"}, []string{"4111-1111-1111-1111"}},
		{"", nil, nil},
		{in[4], nil, nil},
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines out, want %d: %s", len(got), len(want), out)
	}
	for i, w := range want {
		g := got[i]
		if g.Text != w.text || len(g.Entities) != len(w.types) {
			t.Errorf("line %d: %+v, want %q with %v", i+1, g, w.text, w.types)
			continue
		}
		runes := []rune(strings.TrimSuffix(in[i], "\r"))
		for k, e := range g.Entities {
			if string(e.Type) != w.types[k] || e.Start < 0 || e.End > len(runes) || string(runes[e.Start:e.End]) != w.spans[k] {
				t.Errorf("line %d entity %+v, want %s over %q (rune offsets)", i+1, e, w.types[k], w.spans[k])
			}
		}
	}
	if !strings.Contains(out, `"entities":[]`) {
		t.Errorf("a line with nothing masked should say entities: []: %s", out)
	}

	// --language en reads Hangul digits as words, not numbers.
	_, out, _ = redactRun(t, in[0]+"\n", "--language", "en")
	if g := redactOut(t, out); g[0].Text != in[0] || len(g[0].Entities) != 0 {
		t.Errorf("--language en: %+v", g)
	}
	_, out, _ = redactRun(t, "my number is 010 1234 5678\n", "--language", "ko")
	if g := redactOut(t, out); g[0].Text != "my number is [PII]" {
		t.Errorf("--language ko on Latin text: %+v", g)
	}
}

func TestRedactCmdBadInput(t *testing.T) {
	code, out, errOut := redactRun(t, "fine words\n\xff\xfe 4111 1111 1111 1111\nmore")
	if code != 2 || !strings.Contains(errOut, "stdin line 2: not valid UTF-8") || strings.Contains(errOut, "4111") {
		t.Errorf("invalid UTF-8: exit %d, stderr %q; want 2, the line named and none of its text", code, errOut)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("the line before the bad one was not written: %q", out)
	}
	code, _, errOut = redactRun(t, "x\n"+strings.Repeat("a", maxRedactLine+1))
	if code != 2 || !strings.Contains(errOut, "stdin line 2: longer than") {
		t.Errorf("long line: exit %d, stderr %q", code, errOut)
	}
	// A 100 kB line of Korean is read whole; the number at its end is found.
	long := strings.Repeat("상담원 연결 기다리는 중입니다 ", 2500) + "번호는 공일공 일이삼사 오육칠팔"
	code, out, errOut = redactRun(t, long)
	if code != 0 {
		t.Fatalf("100 kB line: exit %d: %s", code, errOut)
	}
	g := redactOut(t, out)
	if len(long) < 100<<10 || len(g[0].Entities) != 1 || !strings.HasSuffix(g[0].Text, "번호는 [PII]") || g[0].Entities[0].End != len([]rune(long)) {
		t.Errorf("100 kB line (%d bytes): entities %+v, text ends %q", len(long), g[0].Entities, g[0].Text[len(g[0].Text)-40:])
	}
	for _, args := range [][]string{{"file.txt"}, {"--language", "fr"}, {"--mask", "stars"}} {
		if code, _, errOut := redactRun(t, "", args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and why", args, code, errOut)
		}
	}
}
