// Package yamlfile reads the YAML files people write for Earshot (rule
// files, evaluation forms) the same way: one document, no anchors or
// aliases, and every problem with its line and column.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/earshot-dev/earshot/msg"
)

// Decode reads the one YAML document of text: nil and no problems for an
// empty document; nil and the problems for text that is not valid YAML,
// holds more than one document, or uses anchors or aliases (what names the
// kind of file in that message, as in "not allowed in rule files").
func Decode(text []byte, what string) (root *yaml.Node, probs []msg.Problem) {
	defer func() {
		// yaml.v3 has panicked on hostile input before; never let a
		// user's file take the process down.
		if r := recover(); r != nil {
			root, probs = nil, []msg.Problem{{Line: 1, Message: fmt.Sprintf("unreadable YAML (%v)", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, []msg.Problem{yamlError(text, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := 0
		if err == nil {
			line = extra.Line
		}
		return nil, []msg.Problem{{Line: line, Message: "only one YAML document is allowed (remove the --- separator)"}}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			probs = append(probs, msg.Problem{Line: n.Line, Column: n.Column,
				Message: "YAML anchors and aliases (&, *) are not allowed in " + what + "; write the value out"})
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc.Content[0])
	if len(probs) > 0 {
		return nil, probs
	}
	return doc.Content[0], nil
}

// Sort orders problems by line, then column.
func Sort(probs []msg.Problem) {
	sort.SliceStable(probs, func(i, j int) bool {
		a, b := probs[i], probs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// Summary is the text of an error listing problems: how many, and the
// first five with their lines and columns.
func Summary(probs []msg.Problem) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s)", len(probs))
	for i, p := range probs {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(probs)-i)
			break
		}
		fmt.Fprintf(&b, "; line %d column %d: %s", p.Line, p.Column, p.Message)
	}
	return b.String()
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlError(text []byte, err error) msg.Problem {
	line, why := splitYAMLError(err)
	column := 0
	if line > 0 {
		column = yamlColumn(text, line, err.Error())
	}
	return msg.Problem{Line: line, Column: column, Message: "not valid YAML: " + why}
}

// splitYAMLError splits yaml.v3's "yaml: line N: why" into N and why (N
// is 0 when the error names no line).
func splitYAMLError(err error) (line int, why string) {
	why = strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(why); m != nil {
		line, _ = strconv.Atoi(m[1])
		why = strings.TrimSpace(strings.Replace(why, m[0]+":", "", 1))
	}
	return line, why
}

// Bounds on the search for a YAML syntax error's column.
const (
	maxColumnSearchLine   = 256
	maxColumnSearchPrefix = 64 << 10
)

// yamlColumn finds the 1-based column of a YAML syntax error on line: yaml.v3
// names only the line. It is where the shortest prefix of the text ending
// on that line fails with the same error; failing that (a long line, a
// large file, or an error only the whole text shows), the line's first
// character that is not a space.
func yamlColumn(text []byte, line int, err string) int {
	start := 0
	for n := 1; n < line; n++ {
		i := bytes.IndexByte(text[start:], '\n')
		if i < 0 {
			return 0 // the error is past the text's last line
		}
		start += i + 1
	}
	end := bytes.IndexByte(text[start:], '\n')
	if end < 0 {
		end = len(text) - start
	}
	lineText := text[start : start+end]
	if len(lineText) <= maxColumnSearchLine && start+end <= maxColumnSearchPrefix {
		for c := 1; c <= len(lineText); c++ {
			if decodeError(text[:start+c]) == err {
				return c
			}
		}
	}
	return len(lineText) - len(bytes.TrimLeft(lineText, " \t")) + 1
}

// decodeError is the error of decoding text's first YAML document, "" if none.
func decodeError(text []byte) (e string) {
	defer func() {
		if r := recover(); r != nil {
			e = fmt.Sprint(r)
		}
	}()
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(text)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return err.Error()
	}
	return ""
}

// Describe names what a node is, for "want X, got Y" messages.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("%q", v)
	}
	return "something else"
}

// ProblemsError lists what is wrong with a file, each problem with its
// line and column. It wraps Kind, the sentinel of the package whose file
// it is (rules.ErrInvalid, evaluate.ErrInvalid, survey.ErrInvalid).
type ProblemsError struct {
	Problems []msg.Problem
	Kind     error
}

func (e *ProblemsError) Error() string { return Summary(e.Problems) }

func (e *ProblemsError) Unwrap() error { return e.Kind }
