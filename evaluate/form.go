package evaluate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/earshot-dev/earshot/internal/yamlfile"
	"github.com/earshot-dev/earshot/msg"
)

// ErrInvalid is wrapped by every error about a form file's content.
var ErrInvalid = errors.New("invalid evaluation form")

// ProblemsError lists what is wrong with a form file, each with its line
// and column. It wraps ErrInvalid.
type ProblemsError = yamlfile.ProblemsError

// Limits on a form file.
const (
	MaxFileBytes = 1 << 20
	maxQuestions = 500
)

// Question types.
const (
	YesNo  = "yes_no"
	Choice = "choice"
	Number = "number"
)

// Form is a parsed evaluation form.
type Form struct {
	ID       string
	Name     string
	Version  string // a hash of the text
	Sections []*Section
}

// Section is a group of questions with its weight in the form's total.
type Section struct {
	ID, Name  string
	Weight    float64
	Questions []*Question
}

// Question is one thing an evaluator answers. Each answer has a score;
// the question counts in its section by Weight, as its answer's score over
// the best score it could have had.
type Question struct {
	ID, Text string
	Type     string
	Weight   float64
	// YesNo: the scores of yes and no.
	Yes, No float64
	// Choice: the answers in order, with their scores.
	Choices []ChoiceAnswer
	// Number: the range an answer must be in, and the scores of bands of
	// it (the first band that holds the number; none: 0).
	Min, Max float64
	Bands    []Band
	// Auto answers the question from what Earshot knows of the call; nil:
	// an analyst answers it.
	Auto *Auto
}

// ChoiceAnswer is one answer of a choice question.
type ChoiceAnswer struct {
	Answer string
	Score  float64
}

// Band scores the numbers in [Min, Max].
type Band struct {
	Min, Max float64
	Score    float64
}

// Auto is how a question is answered automatically: one source, and for a
// yes/no question the condition that makes it yes.
type Auto struct {
	// Exactly one of these is the source.
	Category  string   // yes when the call has the category
	Alert     string   // yes when a rule of this id or name alerted
	Phrases   []string // yes when By said one of them (within First/Last)
	Value     string   // a measure of the call (see values)
	Attribute string   // a call attribute
	DTMF      bool     // the digits By pressed, as a number

	By          msg.Role
	First, Last time.Duration
	// For Value, Attribute and DTMF on a yes/no question: yes when the
	// number is in [AtLeast, AtMost] (either may be open), or the
	// attribute equals Equals.
	AtLeast, AtMost *float64
	Equals          *string
	// Not turns the yes/no answer round.
	Not bool
}

// values are the measures Auto.Value may name, with the leg they are of
// when by is not given.
var values = map[string]msg.Role{
	"sentiment":       msg.RoleCustomer, // overall, -5..+5
	"sentiment_shift": msg.RoleCustomer, // end minus start
	"sentiment_end":   msg.RoleCustomer, // the last quarter's
	"non_talk_share":  "",               // 0..1 of the call
	"non_talk_ms":     "",
	"talk_share":      msg.RoleAgent, // 0..1 of both legs' talk
	"talk_speed":      msg.RoleAgent, // words per minute
	"interruptions":   msg.RoleAgent, // how many times by interrupted
	"duration_s":      "",
}

// Best is the best score an answer to q can get.
func (q *Question) Best() float64 {
	switch q.Type {
	case YesNo:
		return max(q.Yes, q.No)
	case Choice:
		b := 0.0
		for _, c := range q.Choices {
			b = max(b, c.Score)
		}
		return b
	}
	b := 0.0
	for _, band := range q.Bands {
		b = max(b, band.Score)
	}
	return b
}

// Version is the version of a form file's text: a hash of its content.
func Version(text []byte) string {
	h := sha256.Sum256(text)
	return hex.EncodeToString(h[:8])
}

// Check validates a form file and returns its problems, sorted by line
// and column; none means the file is valid.
func Check(text []byte) []msg.Problem {
	_, err := Parse(text)
	var pe *ProblemsError
	if errors.As(err, &pe) {
		return pe.Problems
	}
	if err != nil {
		return []msg.Problem{{Message: err.Error()}}
	}
	return nil
}

// Parse parses and checks a form file. An invalid file returns a
// *ProblemsError (errors.Is(err, ErrInvalid)) and no form.
func Parse(text []byte) (*Form, error) {
	p := &parser{}
	if len(text) > MaxFileBytes {
		p.probs = append(p.probs, msg.Problem{Line: 1, Message: fmt.Sprintf("file is %d bytes; at most %d", len(text), MaxFileBytes)})
		return nil, p.result()
	}
	root, probs := yamlfile.Decode(text, "forms")
	p.probs = append(p.probs, probs...)
	if root == nil {
		if len(p.probs) == 0 {
			p.probs = append(p.probs, msg.Problem{Line: 1, Message: "the file is empty: want form, name and sections"})
		}
		return nil, p.result()
	}
	f := p.form(root)
	if len(p.probs) > 0 {
		return nil, p.result()
	}
	f.Version = Version(text)
	return f, nil
}

type parser struct {
	probs []msg.Problem
	ids   map[string]*yaml.Node
	n     int // questions so far
}

func (p *parser) at(n *yaml.Node, format string, args ...any) {
	p.probs = append(p.probs, msg.Problem{Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) result() error {
	yamlfile.Sort(p.probs)
	return &ProblemsError{Problems: p.probs, Kind: ErrInvalid}
}

type fields map[string]*yaml.Node

// fields reads a mapping, reporting keys not in allowed, keys given twice
// and the required keys missing.
func (p *parser) fields(n *yaml.Node, what string, required []string, allowed ...string) (fields, bool) {
	if n.Kind != yaml.MappingNode {
		p.at(n, "%s: want a mapping (key: value), got %s", what, yamlfile.Describe(n))
		return nil, false
	}
	allowed = append(allowed, required...)
	m := fields{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			p.at(k, "%s: a key must be a plain word, got %s", what, yamlfile.Describe(k))
			ok = false
		case !slices.Contains(allowed, k.Value):
			p.at(k, "%s: unknown field %q (want one of: %s)", what, k.Value, strings.Join(allowed, ", "))
			ok = false
		case m[k.Value] != nil:
			p.at(k, "%s: field %q given twice", what, k.Value)
			ok = false
		default:
			m[k.Value] = v
		}
	}
	for _, r := range required {
		if m[r] == nil {
			p.at(n, "%s: %q is missing", what, r)
			ok = false
		}
	}
	return m, ok
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.at(n, "%s: want text, got %s", what, yamlfile.Describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		p.at(n, "%s: must not be empty", what)
		return "", false
	}
	return n.Value, true
}

func (p *parser) num(n *yaml.Node, what string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!str" {
		if v, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
			return v, true
		}
	}
	p.at(n, "%s: want a number, got %s", what, yamlfile.Describe(n))
	return 0, false
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err == nil {
			return b, true
		}
	}
	p.at(n, "%s: want true or false, got %s", what, yamlfile.Describe(n))
	return false, false
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func (p *parser) id(n *yaml.Node, what string) (string, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return "", false
	}
	if !idRE.MatchString(s) {
		p.at(n, "%s: %q: want lower-case letters, digits, - and _ (at most 64)", what, s)
		return "", false
	}
	if prev := p.ids[s]; prev != nil {
		p.at(n, "%s: id %q is already used on line %d", what, s, prev.Line)
		return "", false
	}
	p.ids[s] = n
	return s, true
}

// duration reads 30s, 1m, or a number of seconds.
func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	if n.Kind == yaml.ScalarNode {
		if v, err := strconv.ParseFloat(n.Value, 64); err == nil && v > 0 && v <= 86400 {
			return time.Duration(v * float64(time.Second)), true
		}
		if d, err := time.ParseDuration(n.Value); err == nil && d > 0 && d <= 24*time.Hour {
			return d, true
		}
	}
	p.at(n, "%s: want a duration like 30s or 2m (at most 24h), got %s", what, yamlfile.Describe(n))
	return 0, false
}

func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.at(n, "%s: want a list, got %s", what, yamlfile.Describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.at(n, "%s: the list is empty", what)
	}
	return n.Content
}

func (p *parser) form(root *yaml.Node) *Form {
	p.ids = map[string]*yaml.Node{}
	f := &Form{}
	m, _ := p.fields(root, "form", []string{"form", "sections"}, "name")
	if m == nil {
		return f
	}
	if n := m["form"]; n != nil {
		f.ID, _ = p.id(n, "form")
	}
	f.Name = f.ID
	if n := m["name"]; n != nil {
		f.Name, _ = p.str(n, "name")
	}
	if n := m["sections"]; n != nil {
		for _, sn := range p.list(n, "sections") {
			if s := p.section(sn); s != nil {
				f.Sections = append(f.Sections, s)
			}
		}
	}
	return f
}

func (p *parser) section(n *yaml.Node) *Section {
	m, _ := p.fields(n, "section", []string{"id", "questions"}, "name", "weight")
	if m == nil {
		return nil
	}
	s := &Section{Weight: 1}
	if v := m["id"]; v != nil {
		s.ID, _ = p.id(v, "section id")
	}
	what := "section " + s.ID
	s.Name = s.ID
	if v := m["name"]; v != nil {
		s.Name, _ = p.str(v, what+": name")
	}
	if v := m["weight"]; v != nil {
		if w, ok := p.num(v, what+": weight"); ok {
			if w <= 0 {
				p.at(v, "%s: weight must be above 0", what)
			}
			s.Weight = w
		}
	}
	if v := m["questions"]; v != nil {
		for _, qn := range p.list(v, what+": questions") {
			if p.n++; p.n > maxQuestions {
				p.at(qn, "at most %d questions in a form", maxQuestions)
				return s
			}
			if q := p.question(qn); q != nil {
				s.Questions = append(s.Questions, q)
			}
		}
	}
	return s
}

func (p *parser) question(n *yaml.Node) *Question {
	m, _ := p.fields(n, "question", []string{"id", "text", "type"}, "weight", "yes", "no", "choices", "range", "bands", "auto")
	if m == nil {
		return nil
	}
	q := &Question{Weight: 1, Yes: 1, No: 0}
	if v := m["id"]; v != nil {
		q.ID, _ = p.id(v, "question id")
	}
	what := "question " + q.ID
	if v := m["text"]; v != nil {
		q.Text, _ = p.str(v, what+": text")
	}
	if v := m["weight"]; v != nil {
		if w, ok := p.num(v, what+": weight"); ok {
			if w <= 0 {
				p.at(v, "%s: weight must be above 0", what)
			}
			q.Weight = w
		}
	}
	only := func(typ string, keys ...string) {
		for _, k := range keys {
			if v := m[k]; v != nil {
				p.at(v, "%s: %q is only for %s questions", what, k, typ)
			}
		}
	}
	if v := m["type"]; v != nil {
		q.Type, _ = p.str(v, what+": type")
		switch q.Type {
		case YesNo:
			only("choice", "choices")
			only("number", "range", "bands")
			for _, k := range []string{"yes", "no"} {
				if v := m[k]; v != nil {
					s, _ := p.num(v, what+": "+k)
					if s < 0 {
						p.at(v, "%s: a score must be 0 or more", what)
					}
					if k == "yes" {
						q.Yes = s
					} else {
						q.No = s
					}
				}
			}
		case Choice:
			only("yes_no", "yes", "no")
			only("number", "range", "bands")
			p.choices(q, m["choices"], n, what)
		case Number:
			only("yes_no", "yes", "no")
			only("choice", "choices")
			p.numberRange(q, m["range"], m["bands"], n, what)
		case "":
		default:
			p.at(v, "%s: type %q: want yes_no, choice or number", what, q.Type)
			q.Type = ""
		}
	}
	if q.Type != "" && q.Best() <= 0 {
		p.at(n, "%s: no answer scores above 0", what)
	}
	if v := m["auto"]; v != nil {
		q.Auto = p.auto(v, q, what)
	}
	return q
}

func (p *parser) choices(q *Question, v, n *yaml.Node, what string) {
	if v == nil {
		p.at(n, "%s: a choice question needs choices", what)
		return
	}
	seen := map[string]bool{}
	for _, cn := range p.list(v, what+": choices") {
		cm, _ := p.fields(cn, what+": choice", []string{"answer", "score"})
		if cm == nil || cm["answer"] == nil || cm["score"] == nil {
			continue
		}
		a, _ := p.str(cm["answer"], what+": answer")
		s, ok := p.num(cm["score"], what+": score")
		if ok && s < 0 {
			p.at(cm["score"], "%s: a score must be 0 or more", what)
		}
		if seen[a] {
			p.at(cm["answer"], "%s: answer %q given twice", what, a)
		}
		seen[a] = true
		q.Choices = append(q.Choices, ChoiceAnswer{Answer: a, Score: s})
	}
}

func (p *parser) numberRange(q *Question, rn, bn, n *yaml.Node, what string) {
	if rn == nil || bn == nil {
		p.at(n, "%s: a number question needs range: [min, max] and bands", what)
		return
	}
	if rn.Kind != yaml.SequenceNode || len(rn.Content) != 2 {
		p.at(rn, "%s: range: want [min, max], got %s", what, yamlfile.Describe(rn))
	} else {
		q.Min, _ = p.num(rn.Content[0], what+": range")
		q.Max, _ = p.num(rn.Content[1], what+": range")
		if q.Min > q.Max {
			p.at(rn, "%s: range: min %g is above max %g", what, q.Min, q.Max)
		}
	}
	for _, b := range p.list(bn, what+": bands") {
		bm, _ := p.fields(b, what+": band", []string{"score"}, "min", "max")
		if bm == nil || bm["score"] == nil {
			continue
		}
		band := Band{Min: math.Inf(-1), Max: math.Inf(1)}
		band.Score, _ = p.num(bm["score"], what+": band score")
		if band.Score < 0 {
			p.at(bm["score"], "%s: a score must be 0 or more", what)
		}
		if v := bm["min"]; v != nil {
			band.Min, _ = p.num(v, what+": band min")
		}
		if v := bm["max"]; v != nil {
			band.Max, _ = p.num(v, what+": band max")
		}
		if band.Min > band.Max {
			p.at(b, "%s: band min %g is above its max %g", what, band.Min, band.Max)
		}
		q.Bands = append(q.Bands, band)
	}
}

func (p *parser) auto(n *yaml.Node, q *Question, what string) *Auto {
	what += ": auto"
	m, _ := p.fields(n, what, nil, "category", "alert", "phrase", "value", "attribute", "dtmf",
		"by", "first", "last", "at_least", "at_most", "equals", "not")
	if m == nil {
		return nil
	}
	a := &Auto{}
	var sources []string
	for _, k := range []string{"category", "alert", "phrase", "value", "attribute", "dtmf"} {
		if m[k] != nil {
			sources = append(sources, k)
		}
	}
	if len(sources) != 1 {
		p.at(n, "%s: want exactly one of category, alert, phrase, value, attribute, dtmf; got %d", what, len(sources))
		return nil
	}
	src := sources[0]
	v := m[src]
	switch src {
	case "category":
		a.Category, _ = p.str(v, what+": category")
	case "alert":
		a.Alert, _ = p.str(v, what+": alert")
	case "phrase":
		if v.Kind == yaml.SequenceNode {
			for _, pn := range p.list(v, what+": phrase") {
				if s, ok := p.str(pn, what+": phrase"); ok {
					a.Phrases = append(a.Phrases, s)
				}
			}
		} else if s, ok := p.str(v, what+": phrase"); ok {
			a.Phrases = []string{s}
		}
	case "value":
		a.Value, _ = p.str(v, what+": value")
		if _, ok := values[a.Value]; !ok && a.Value != "" {
			p.at(v, "%s: value %q: want one of: %s", what, a.Value, strings.Join(slices.Sorted(maps.Keys(values)), ", "))
		}
	case "attribute":
		a.Attribute, _ = p.str(v, what+": attribute")
	case "dtmf":
		a.DTMF, _ = p.boolean(v, what+": dtmf")
		if !a.DTMF {
			p.at(v, "%s: dtmf: false answers nothing; leave it out", what)
		}
	}
	if v := m["by"]; v != nil {
		s, _ := p.str(v, what+": by")
		a.By = msg.Role(s)
		if a.By != msg.RoleAgent && a.By != msg.RoleCustomer {
			p.at(v, "%s: by %q: want agent or customer", what, s)
		}
	}
	for _, k := range []string{"first", "last"} {
		if v := m[k]; v != nil {
			if src != "phrase" {
				p.at(v, "%s: %q is only for phrase", what, k)
				continue
			}
			d, _ := p.duration(v, what+": "+k)
			if k == "first" {
				a.First = d
			} else {
				a.Last = d
			}
		}
	}
	if a.First > 0 && a.Last > 0 {
		p.at(n, "%s: first and last together: keep one", what)
	}
	for _, k := range []string{"at_least", "at_most"} {
		if v := m[k]; v != nil {
			if src != "value" && src != "attribute" && src != "dtmf" {
				p.at(v, "%s: %q is only for value, attribute and dtmf", what, k)
				continue
			}
			x, _ := p.num(v, what+": "+k)
			if k == "at_least" {
				a.AtLeast = &x
			} else {
				a.AtMost = &x
			}
		}
	}
	if v := m["equals"]; v != nil {
		if src != "attribute" {
			p.at(v, "%s: equals is only for attribute", what)
		} else if s, ok := p.str(v, what+": equals"); ok {
			a.Equals = &s
		}
	}
	if v := m["not"]; v != nil {
		a.Not, _ = p.boolean(v, what+": not")
	}
	cond := a.AtLeast != nil || a.AtMost != nil || a.Equals != nil
	switch q.Type {
	case YesNo:
		if (src == "value" || src == "attribute" || src == "dtmf") && !cond {
			p.at(n, "%s: a yes/no question from %s needs at_least, at_most (or equals, for an attribute)", what, src)
		}
	case Number:
		if src != "value" && src != "attribute" && src != "dtmf" {
			p.at(n, "%s: a number question is answered from value, attribute or dtmf, not %s", what, src)
		}
		if cond || a.Not {
			p.at(n, "%s: at_least, at_most, equals and not are for yes/no questions", what)
		}
	case Choice:
		p.at(n, "%s: a choice question is answered by an analyst; automatic answers are for yes/no and number questions", what)
	}
	return a
}
