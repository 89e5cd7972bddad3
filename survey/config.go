// Package survey recognises post-call surveys: the questions a contact
// centre asks the customer after the agent has left, answered with DTMF
// digits. A configuration (YAML, checked like a rule file: every problem
// with its line and column) names each survey, how it is recognised (the
// agent leg ended while the customer stayed on the line, or an announce
// that says the survey started) and its questions in the order the prompts
// ask them, each on a scale of 1-5 (CSAT) or 0-10 (NPS). A Recorder turns
// one call's digits into a msg.SurveyResult; capture keeps one per call.
// The digits of a survey are answers, never transcript text.
package survey

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/earshot-dev/earshot/internal/yamlfile"
	"github.com/earshot-dev/earshot/msg"
	"gopkg.in/yaml.v3"
)

// How a survey is recognised (Survey.Start).
const (
	// StartAgentLeft: the customer presses digits after the agent leg
	// ended (RTCP BYE, or the intake's leg closed) and the call goes on.
	StartAgentLeft = "agent_leg_ends"
	// StartAnnounce: an announce for the call names the survey
	// (msg.CallAnnounce.Survey).
	StartAnnounce = "announce"
)

// ErrInvalid is wrapped by every error about a survey file's content.
var ErrInvalid = errors.New("invalid survey configuration")

// ProblemsError lists what is wrong with a survey file, each with its line
// and column. It wraps ErrInvalid.
type ProblemsError = yamlfile.ProblemsError

// MaxFileBytes bounds a survey file.
const MaxFileBytes = 1 << 16

// Config is a parsed survey file.
type Config struct {
	Surveys []Survey
}

// Survey is one survey: its name, how it starts, its questions in order.
type Survey struct {
	Name      string
	Start     string // StartAgentLeft or StartAnnounce
	Questions []Question
}

// Question is one prompt: what it asks and on which scale.
type Question struct {
	ID, Prompt string
	Scale      string // msg.ScaleCSAT or msg.ScaleNPS
}

// Named returns the survey called name, or nil (also when c is nil).
func (c *Config) Named(name string) *Survey {
	if c == nil {
		return nil
	}
	for i := range c.Surveys {
		if c.Surveys[i].Name == name {
			return &c.Surveys[i]
		}
	}
	return nil
}

// OnAgentLeft returns the survey that starts when the agent leg ends, or
// nil (also when c is nil).
func (c *Config) OnAgentLeft() *Survey {
	if c == nil {
		return nil
	}
	for i := range c.Surveys {
		if c.Surveys[i].Start == StartAgentLeft {
			return &c.Surveys[i]
		}
	}
	return nil
}

// Parse parses and checks a survey file. An invalid file returns a
// *ProblemsError (errors.Is(err, ErrInvalid)).
func Parse(text []byte) (*Config, error) {
	p := &parser{}
	if len(text) > MaxFileBytes {
		return nil, &ProblemsError{Problems: []msg.Problem{{Line: 1, Message: fmt.Sprintf("file is %d bytes; at most %d", len(text), MaxFileBytes)}}, Kind: ErrInvalid}
	}
	root, probs := yamlfile.Decode(text, "survey files")
	p.probs = probs
	if root == nil && len(probs) == 0 {
		p.probs = append(p.probs, msg.Problem{Line: 1, Message: "the file is empty: want surveys"})
	}
	var c Config
	if root != nil {
		c = p.config(root)
	}
	if len(p.probs) > 0 {
		yamlfile.Sort(p.probs)
		return nil, &ProblemsError{Problems: p.probs, Kind: ErrInvalid}
	}
	return &c, nil
}

type parser struct{ probs []msg.Problem }

func (p *parser) at(n *yaml.Node, format string, args ...any) {
	p.probs = append(p.probs, msg.Problem{Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)})
}

// fields reads a mapping of the keys in keys (each required), reporting
// others, repeated and missing ones.
func (p *parser) fields(n *yaml.Node, what string, keys ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.at(n, "%s: want a mapping (key: value), got %s", what, yamlfile.Describe(n))
		return nil
	}
	m := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch {
		case k.Kind != yaml.ScalarNode || !slices.Contains(keys, k.Value):
			p.at(k, "%s: unknown field %s (want %s)", what, yamlfile.Describe(k), strings.Join(keys, ", "))
		case m[k.Value] != nil:
			p.at(k, "%s: field %q given twice", what, k.Value)
		default:
			m[k.Value] = n.Content[i+1]
		}
	}
	for _, k := range keys {
		if m[k] == nil {
			p.at(n, "%s: %q is missing", what, k)
		}
	}
	return m
}

func (p *parser) str(n *yaml.Node, what string) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		p.at(n, "%s: want text, got %s", what, yamlfile.Describe(n))
		return ""
	}
	return n.Value
}

func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.at(n, "%s: want a list of at least one, got %s", what, yamlfile.Describe(n))
		return nil
	}
	return n.Content
}

func (p *parser) config(root *yaml.Node) Config {
	var c Config
	m := p.fields(root, "the file", "surveys")
	names := map[string]bool{}
	var onLeft *yaml.Node
	for i, sn := range p.list(m["surveys"], "surveys") {
		what := fmt.Sprintf("surveys[%d]", i)
		f := p.fields(sn, what, "name", "start", "questions")
		s := Survey{Name: p.str(f["name"], what+".name"), Start: p.str(f["start"], what+".start")}
		if s.Name != "" && names[s.Name] {
			p.at(f["name"], "%s.name: %q is given twice", what, s.Name)
		}
		names[s.Name] = true
		switch {
		case s.Start == StartAgentLeft && onLeft != nil:
			p.at(f["start"], "%s.start: only one survey can start when the agent leg ends (line %d has one)", what, onLeft.Line)
		case s.Start == StartAgentLeft:
			onLeft = f["start"]
		case s.Start != StartAnnounce && s.Start != "":
			p.at(f["start"], "%s.start: %q (want %s or %s)", what, s.Start, StartAgentLeft, StartAnnounce)
		}
		ids := map[string]bool{}
		for j, qn := range p.list(f["questions"], what+".questions") {
			qwhat := fmt.Sprintf("%s.questions[%d]", what, j)
			qf := p.fields(qn, qwhat, "id", "prompt", "scale")
			q := Question{ID: p.str(qf["id"], qwhat+".id"), Prompt: p.str(qf["prompt"], qwhat+".prompt"), Scale: p.str(qf["scale"], qwhat+".scale")}
			if q.ID != "" && ids[q.ID] {
				p.at(qf["id"], "%s.id: %q is given twice", qwhat, q.ID)
			}
			ids[q.ID] = true
			if _, _, err := msg.ScaleRange(q.Scale); err != nil && q.Scale != "" {
				p.at(qf["scale"], "%s.scale: %q (want %s or %s)", qwhat, q.Scale, msg.ScaleCSAT, msg.ScaleNPS)
			}
			s.Questions = append(s.Questions, q)
		}
		c.Surveys = append(c.Surveys, s)
	}
	return c
}
