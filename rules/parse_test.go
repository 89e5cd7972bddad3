package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

func TestParseProblems(t *testing.T) {
	cases := []struct {
		name   string
		text   string
		line   int
		column int
		want   string
	}{
		{"unknown field", `
rules:
  - id: a
    colour: red
    match: [{words: x}]
    actions: {category: c}
`, 4, 5, `unknown field "colour" (want one of: id, name`},
		{"wrong type", `
rules:
  - id: a
    match: [{words: x}]
    repeat: sometimes
    actions: {category: c}
`, 5, 13, `repeat: want true or false, got "sometimes"`},
		{"bad pattern placeholder", `
rules:
  - id: a
    match:
      - words: "card [digits]"
    actions: {category: c}
`, 5, 16, `unknown placeholder "[digits]" (want [num])`},
		{"only wildcards", `
rules:
  - id: a
    match:
      - words: "* *"
    actions: {category: c}
`, 5, 16, "at least one word"},
		{"contradictory windows", `
rules:
  - id: a
    match:
      - words: hello
        first: 10s
        last: 10s
    actions: {category: c}
`, 7, 9, "first and last on one condition contradict"},
		{"contradictory sentiment", `
rules:
  - id: a
    match:
      - sentiment: {below: -2, above: 1}
    actions: {category: c}
`, 5, 20, "can never both hold"},
		{"duration without unit", `
rules:
  - id: a
    match:
      - words: hi
        first: 30
    actions: {category: c}
`, 6, 16, "give a unit: 30s"},
		{"two tests on a line", `
rules:
  - id: a
    match:
      - words: hi
        queue: sales
    actions: {category: c}
`, 6, 9, `one test per condition`},
		{"by on a queue", `
rules:
  - id: a
    match:
      - queue: sales
        by: agent
    actions: {category: c}
`, 6, 9, "by does not apply to a queue condition"},
		{"duplicate id", `
rules:
  - id: a
    match: [{words: x}]
    actions: {category: c}
  - id: a
    match: [{words: y}]
    actions: {category: c}
`, 6, 9, `id "a" is already used by the rule at line 3`},
		{"missing actions", `
rules:
  - id: a
    match: [{words: x}]
`, 3, 5, "actions is required"},
		{"bad severity", `
rules:
  - id: a
    match: [{words: x}]
    actions: {alert: {severity: loud}}
`, 5, 33, `"loud" is not one of: info, warning, critical`},
		{"bad template", `
rules:
  - id: a
    match: [{words: x}]
    actions: {alert: {message: "said {word}"}}
`, 5, 32, "unknown placeholder {word}"},
		{"bad webhook url", `
rules:
  - id: a
    match: [{words: x}]
    actions: {webhook: {url: "ftp://x"}}
`, 5, 30, "want an absolute http:// or https:// URL"},
		// yaml.v3 names only the line; the column is where the text stops being YAML.
		{"yaml syntax", "rules:\n  - id: a\n    match: x: y\n", 3, 13, "not valid YAML: mapping values are not allowed"},
		{"yaml tab", "rules: 1\n\tb: 2\n", 2, 1, "not valid YAML: found a tab character"},
		{"no id", "rules:\n  - match: [{words: x}]\n", 2, 5, "rule: actions is required"},
		{"bad id", "rules:\n  - id: -x\n    match: [{words: x}]\n", 2, 5, "rule: actions is required"},
		{"aliases", "rules:\n  - &r {id: a, match: [{words: x}], actions: {category: c}}\n  - *r\n", 2, 5, "anchors and aliases"},
		{"score range", `
rules:
  - id: a
    match: [{sentiment: {below: -9}}]
    actions: {category: c}
`, 4, 33, "scores run from -5 to +5"},
		{"not on an any group", `
rules:
  - id: a
    match:
      - not: true
        any: [{words: x}]
    actions: {category: c}
`, 5, 9, "a group with any: holds only its list of conditions"},
		{"near without within", `
rules:
  - id: a
    match: [{near: {a: x, b: y}}]
    actions: {category: c}
`, 4, 20, "within is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, err := Parse([]byte(c.text))
			if rs != nil {
				t.Fatal("an invalid file returned a rule set")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			probs := Check([]byte(c.text))
			for _, p := range probs {
				if strings.Contains(p.Message, c.want) {
					if p.Line != c.line || p.Column != c.column {
						t.Fatalf("%q at %d:%d, want %d:%d", p.Message, p.Line, p.Column, c.line, c.column)
					}
					return
				}
			}
			t.Fatalf("problems %+v; want one containing %q", probs, c.want)
		})
	}
}

// A file with nothing in it parses as no rules (the engine starts on it),
// but a running engine refuses to load one, so a check calls it a problem.
func TestCheckEmptyFile(t *testing.T) {
	for _, text := range []string{"", "\n", "  \n\t\n"} {
		probs := Check([]byte(text))
		if len(probs) != 1 || probs[0].Line != 1 || probs[0].Column != 1 || !strings.Contains(probs[0].Message, `the file is empty`) || !strings.Contains(probs[0].Message, `rules: []`) {
			t.Fatalf("%q: problems %+v; want one at 1:1 saying the file is empty and what to write", text, probs)
		}
	}
	for _, text := range []string{"# nothing\n", "rules: []\n"} {
		if probs := Check([]byte(text)); len(probs) != 0 {
			t.Fatalf("%q: %+v; want valid", text, probs)
		}
	}
}

func TestParseAllProblemsAtOnce(t *testing.T) {
	probs := Check([]byte(`
rules:
  - id: a
    match: [{words: "[x]"}]
    actions: {category: c}
  - id: b
    match: [{negative_turns: 0}]
    actions: {alert: {severity: huge}}
`))
	if len(probs) != 3 {
		t.Fatalf("got %d problems, want 3: %+v", len(probs), probs)
	}
	for i := 1; i < len(probs); i++ {
		if probs[i].Line < probs[i-1].Line {
			t.Fatalf("problems not sorted by line: %+v", probs)
		}
	}
}

func TestParseEmptyAndDisabled(t *testing.T) {
	for _, text := range []string{"", "# nothing\n", "rules:\n", "rules: []\n"} {
		rs, err := Parse([]byte(text))
		if err != nil || rs.Len() != 0 {
			t.Fatalf("%q: %v, %v", text, rs, err)
		}
	}
	rs := mustParse(t, "rules:\n  - id: a\n    enabled: false\n    match: [{words: x}]\n    actions: {category: c}\n")
	if rs.Len() != 0 {
		t.Fatal("a disabled rule is in force")
	}
	if p := Check([]byte("rules:\n  - id: a\n    enabled: false\n    match: [{words: \"[x]\"}]\n    actions: {category: c}\n")); len(p) != 1 {
		t.Fatalf("a disabled rule was not checked: %+v", p)
	}
}

func TestWebhookSecretFromEnvironment(t *testing.T) {
	text := "rules:\n  - id: a\n    match: [{words: x}]\n    actions: {webhook: {url: \"http://127.0.0.1/h\", secret_env: EARSHOT_TEST_HOOK_SECRET}}\n"
	t.Setenv("EARSHOT_TEST_HOOK_SECRET", "")
	if p := Check([]byte(text)); len(p) != 1 || !strings.Contains(p[0].Message, "EARSHOT_TEST_HOOK_SECRET is not set") {
		t.Fatalf("problems %+v", p)
	}
	t.Setenv("EARSHOT_TEST_HOOK_SECRET", "s3cret")
	rs := mustParse(t, text)
	if got := string(rs.Rules()[0].Actions.Webhook.Secret); got != "s3cret" {
		t.Fatalf("secret %q", got)
	}
}

// TestExamples: every example rule file the project ships is valid.
func TestExamples(t *testing.T) {
	t.Setenv("EARSHOT_WEBHOOK_SECRET", "example")
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, "../examples/rules.yaml")
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f, "invalid") {
			if len(Check(text)) == 0 {
				t.Errorf("%s: want problems", f)
			}
			continue
		}
		if p := Check(text); len(p) > 0 {
			t.Errorf("%s: %+v", f, p)
		}
	}
}

var _ = msg.Problem{}
