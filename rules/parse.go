package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"
	"gopkg.in/yaml.v3"

	"github.com/earshot-dev/earshot/internal/yamlfile"
	"github.com/earshot-dev/earshot/msg"
)

// ErrInvalid is wrapped by every error about a rule file's content.
var ErrInvalid = errors.New("invalid rules")

// ProblemsError lists what is wrong with a rule file, each with its line
// and column. It wraps ErrInvalid.
type ProblemsError = yamlfile.ProblemsError

// Limits on a rule file.
const (
	MaxFileBytes = 8 << 20
	maxDuration  = 24 * time.Hour
)

// Check validates a rule file and returns its problems, sorted by line and
// column; none means the file is valid. An empty file is a problem: a
// running engine never loads one (see Manager), though Parse reads it as no
// rules.
func Check(text []byte) []msg.Problem {
	if emptyFile(text) {
		return []msg.Problem{{Line: 1, Column: 1, Message: `the file is empty: a running engine keeps the rules in force rather than load it (write "rules: []" for no rules)`}}
	}
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

// Parse parses and checks a rule file and builds its rule set. An invalid
// file returns a *ProblemsError (errors.Is(err, ErrInvalid)) and no set:
// nothing of it is ever half-applied.
func Parse(text []byte) (*RuleSet, error) {
	p := &parser{rs: &RuleSet{byKey: map[string]*pattern{}}}
	p.rs.text = bytes.Clone(text)
	p.rs.Version = Version(text)
	if len(text) > MaxFileBytes {
		p.probs = append(p.probs, msg.Problem{Line: 1, Message: fmt.Sprintf("file is %d bytes; at most %d", len(text), MaxFileBytes)})
		return nil, p.result()
	}
	root, ok := p.decode(text)
	if !ok {
		return nil, p.result()
	}
	if root == nil {
		return p.rs, p.build()
	}
	p.file(root)
	if len(p.probs) > 0 {
		return nil, p.result()
	}
	return p.rs, p.build()
}

// decode reads the one YAML document of a rule file; nil for an empty file.
func (p *parser) decode(text []byte) (root *yaml.Node, ok bool) {
	root, probs := yamlfile.Decode(text, "rule files")
	p.probs = append(p.probs, probs...)
	return root, len(probs) == 0
}

// Version is the version of a rule file's text: a hash of its content.
func Version(text []byte) string {
	h := sha256.Sum256(text)
	return hex.EncodeToString(h[:8])
}

type parser struct {
	rs    *RuleSet
	probs []msg.Problem
	lang  string // of the rule being parsed
}

func (p *parser) at(n *yaml.Node, format string, args ...any) {
	p.probs = append(p.probs, msg.Problem{Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) result() error {
	yamlfile.Sort(p.probs)
	return &ProblemsError{Problems: p.probs, Kind: ErrInvalid}
}

// emptyFile reports whether a rule file has nothing but white space: what an
// editor leaves between truncating a file and writing it.
func emptyFile(text []byte) bool { return len(bytes.TrimSpace(text)) == 0 }

type field struct{ key, val *yaml.Node }

// fields reads a mapping, reporting keys not in allowed and keys given twice.
func (p *parser) fields(n *yaml.Node, what string, allowed ...string) (map[string]field, bool) {
	if n.Kind != yaml.MappingNode {
		p.at(n, "%s: want a mapping (key: value), got %s", what, yamlfile.Describe(n))
		return nil, false
	}
	m := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.at(k, "%s: a key must be a plain word, got %s", what, yamlfile.Describe(k))
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			p.at(k, "%s: unknown field %q (want one of: %s)", what, k.Value, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := m[k.Value]; dup {
			p.at(k, "%s: field %q given twice", what, k.Value)
			continue
		}
		m[k.Value] = field{k, v}
	}
	return m, true
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

// strList reads one text or a list of texts (alternatives).
func (p *parser) strList(n *yaml.Node, what string) ([]string, []*yaml.Node, bool) {
	if n.Kind == yaml.ScalarNode {
		s, ok := p.str(n, what)
		return []string{s}, []*yaml.Node{n}, ok
	}
	if n.Kind != yaml.SequenceNode {
		p.at(n, "%s: want text or a list of texts, got %s", what, yamlfile.Describe(n))
		return nil, nil, false
	}
	if len(n.Content) == 0 {
		p.at(n, "%s: the list is empty", what)
		return nil, nil, false
	}
	ok := true
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, k := p.str(c, what)
		ok = ok && k
		out = append(out, s)
	}
	return out, n.Content, ok
}

func (p *parser) number(n *yaml.Node, what string) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		p.at(n, "%s: want a number, got %s", what, yamlfile.Describe(n))
		return 0, false
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.at(n, "%s: want a number, got %s", what, yamlfile.Describe(n))
		return 0, false
	}
	return f, true
}

func (p *parser) integer(n *yaml.Node, what string, lo, hi int) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.at(n, "%s: want a whole number from %d to %d, got %s", what, lo, hi, yamlfile.Describe(n))
		return 0, false
	}
	i, err := strconv.Atoi(n.Value)
	if err != nil || i < lo || i > hi {
		p.at(n, "%s: want a whole number from %d to %d, got %s", what, lo, hi, yamlfile.Describe(n))
		return 0, false
	}
	return i, true
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.at(n, "%s: want true or false, got %s", what, yamlfile.Describe(n))
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		p.at(n, "%s: want true or false, got %s", what, yamlfile.Describe(n))
		return false, false
	}
	return b, true
}

func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.at(n, "%s: want a duration like 30s or 2m, got %s", what, yamlfile.Describe(n))
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d <= 0 || d > maxDuration {
		hint := ""
		if n.Tag == "!!int" || n.Tag == "!!float" {
			hint = " (give a unit: " + n.Value + "s)"
		}
		p.at(n, "%s: want a duration like 30s or 2m, more than 0 and at most 24h, got %s%s", what, yamlfile.Describe(n), hint)
		return 0, false
	}
	return d, true
}

func (p *parser) oneOf(n *yaml.Node, what string, choices ...string) (string, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return "", false
	}
	if !slices.Contains(choices, s) {
		p.at(n, "%s: %q is not one of: %s", what, s, strings.Join(choices, ", "))
		return "", false
	}
	return s, true
}

func (p *parser) file(root *yaml.Node) {
	f, ok := p.fields(root, "rule file", "version", "rules")
	if !ok {
		return
	}
	if v, ok := f["version"]; ok {
		p.integer(v.val, "version (this build reads version 1)", 1, 1)
	}
	rf, ok := f["rules"]
	if !ok {
		return
	}
	if rf.val.Kind == yaml.ScalarNode && rf.val.Tag == "!!null" {
		return
	}
	if rf.val.Kind != yaml.SequenceNode {
		p.at(rf.val, "rules: want a list of rules, got %s", yamlfile.Describe(rf.val))
		return
	}
	seen := map[string]int{}
	for _, rn := range rf.val.Content {
		r, enabled := p.rule(rn, seen)
		if r != nil && enabled {
			r.index = int32(len(p.rs.rules))
			p.rs.rules = append(p.rs.rules, r)
		}
	}
}

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	langPattern = regexp.MustCompile(`^[a-z]{2,3}$`)
)

func (p *parser) rule(n *yaml.Node, seen map[string]int) (*Rule, bool) {
	f, ok := p.fields(n, "rule", "id", "name", "description", "enabled", "language", "evaluate", "repeat", "match", "actions")
	if !ok {
		return nil, false
	}
	r := &Rule{Line: n.Line}
	before := len(p.probs)
	if v, ok := f["id"]; !ok {
		p.at(n, "rule: id is required (letters, digits, - _ .)")
	} else if id, ok := p.str(v.val, "id"); ok {
		switch {
		case !idPattern.MatchString(id):
			p.at(v.val, "id %q: want 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit", id)
		case seen[id] > 0:
			p.at(v.val, "id %q is already used by the rule at line %d", id, seen[id])
		default:
			seen[id] = v.val.Line
			r.ID = id
		}
	}
	r.Name = r.ID
	if v, ok := f["name"]; ok {
		r.Name, _ = p.str(v.val, "name")
	}
	if v, ok := f["description"]; ok {
		r.Description, _ = p.str(v.val, "description")
	}
	enabled := true
	if v, ok := f["enabled"]; ok {
		enabled, _ = p.boolean(v.val, "enabled")
	}
	if v, ok := f["language"]; ok {
		if s, ok := p.str(v.val, "language"); ok {
			s = strings.ToLower(s)
			if s != "any" && !langPattern.MatchString(s) {
				p.at(v.val, "language: want a language code like en or ko, or any; got %q", s)
			} else if s != "any" {
				r.Language = s
			}
		}
	}
	p.lang = r.Language
	if v, ok := f["evaluate"]; ok {
		s, _ := p.oneOf(v.val, "evaluate", "live", "post_call")
		r.PostCall = s == "post_call"
	}
	if v, ok := f["repeat"]; ok {
		r.Repeat, _ = p.boolean(v.val, "repeat")
	}
	// A rule whose id is missing or wrong is named by its line, which the
	// problem carries.
	label := "rule"
	if r.ID != "" {
		label = "rule " + r.ID
	}
	if v, ok := f["match"]; !ok {
		p.at(n, "%s: match is required (a list of groups that must all hold)", label)
	} else {
		r.groups = p.groups(v.val)
	}
	if v, ok := f["actions"]; !ok {
		p.at(n, "%s: actions is required (alert, category, publish or webhook)", label)
	} else {
		p.actions(v.val, &r.Actions)
	}
	if len(p.probs) > before {
		return nil, false
	}
	return r, enabled
}

func (p *parser) groups(n *yaml.Node) [][]*line {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.at(n, "match: want a list of one or more groups (each a condition, or any: [conditions]), got %s", yamlfile.Describe(n))
		return nil
	}
	var gs [][]*line
	for _, g := range n.Content {
		anyAt := -1
		if g.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(g.Content); i += 2 {
				if g.Content[i].Value == "any" {
					anyAt = i
				}
			}
		}
		if anyAt >= 0 {
			if len(g.Content) > 2 {
				other := g.Content[0]
				if anyAt == 0 {
					other = g.Content[2]
				}
				p.at(other, "a group with any: holds only its list of conditions; put %q in the conditions (not: negates one condition)", other.Value)
				continue
			}
			lst := g.Content[anyAt+1]
			if lst.Kind != yaml.SequenceNode || len(lst.Content) == 0 {
				p.at(lst, "any: want a list of one or more conditions, got %s", yamlfile.Describe(lst))
				continue
			}
			var ls []*line
			for _, ln := range lst.Content {
				if l := p.line(ln); l != nil {
					ls = append(ls, l)
				}
			}
			gs = append(gs, ls)
			continue
		}
		if l := p.line(g); l != nil {
			gs = append(gs, []*line{l})
		}
	}
	return gs
}

var kinds = map[string]lineKind{
	"words": kWords, "near": kNear, "not_near": kNotNear, "queue": kQueue, "agent": kAgent,
	"attribute": kAttribute, "dtmf": kDTMF, "sentiment": kSentiment, "negative_turns": kNegativeTurns,
	"interruptions": kInterruptions, "non_talk": kNonTalk,
}

var kindNames = []string{"words", "near", "not_near", "queue", "agent", "attribute", "dtmf", "sentiment", "negative_turns", "interruptions", "non_talk"}

var lineFields = append(slices.Clone(kindNames), "not", "by", "first", "last", "after")

func (p *parser) line(n *yaml.Node) *line {
	f, ok := p.fields(n, "condition", lineFields...)
	if !ok {
		return nil
	}
	before := len(p.probs)
	var kind string
	for _, k := range kindNames {
		if _, ok := f[k]; !ok {
			continue
		}
		if kind != "" {
			p.at(f[k].key, "one test per condition: %q and %q are both here; put them in separate groups (AND) or in an any: group (OR)", kind, k)
			return nil
		}
		kind = k
	}
	if kind == "" {
		p.at(n, "condition: want one of: %s", strings.Join(kindNames, ", "))
		return nil
	}
	l := &line{kind: kinds[kind]}
	v := f[kind].val
	if m, ok := f["not"]; ok {
		l.not, _ = p.boolean(m.val, "not")
	}
	if m, ok := f["by"]; ok {
		switch l.kind {
		case kWords, kNear, kNotNear, kDTMF, kSentiment, kNegativeTurns, kInterruptions:
			l.by = p.role(m.val, "by")
		default:
			p.at(m.key, "by does not apply to a %s condition", kind)
		}
	}
	for _, w := range []string{"first", "last", "after"} {
		if m, ok := f[w]; ok && !l.kind.isText() {
			p.at(m.key, "%s applies only to words, near and not_near conditions, not to %s", w, kind)
		}
	}
	if l.kind.isText() {
		if m, ok := f["first"]; ok {
			l.first, _ = p.duration(m.val, "first")
		}
		if m, ok := f["last"]; ok {
			l.last, _ = p.duration(m.val, "last")
			if _, both := f["first"]; both {
				p.at(m.key, "first and last on one condition contradict each other in a call longer than both; use two conditions in separate groups")
			}
		}
		if m, ok := f["after"]; ok {
			l.after = p.after(m.val)
		}
	}
	switch l.kind {
	case kWords:
		l.pats = p.phrases(v, "words")
	case kNear, kNotNear:
		g, ok := p.fields(v, kind, "a", "b", "within")
		if !ok {
			break
		}
		if a, ok := g["a"]; ok {
			l.pats = p.phrases(a.val, kind+".a")
		} else {
			p.at(v, "%s: a is required (the words to find)", kind)
		}
		if b, ok := g["b"]; ok {
			l.patsB = p.phrases(b.val, kind+".b")
		} else {
			p.at(v, "%s: b is required (the words that must be near a)", kind)
		}
		if w, ok := g["within"]; ok {
			l.within, _ = p.integer(w.val, kind+".within (words between)", 0, 50)
		} else {
			p.at(v, "%s: within is required (at most how many words between a and b)", kind)
		}
	case kQueue, kAgent:
		l.values, _, _ = p.strList(v, kind)
	case kAttribute:
		g, ok := p.fields(v, "attribute", "name", "is", "present")
		if !ok {
			break
		}
		if nm, ok := g["name"]; ok {
			l.attr, _ = p.str(nm.val, "attribute.name")
		} else {
			p.at(v, "attribute: name is required")
		}
		is, hasIs := g["is"]
		pr, hasPr := g["present"]
		switch {
		case hasIs && hasPr:
			p.at(pr.key, "attribute: give is or present, not both")
		case hasIs:
			l.values, _, _ = p.strList(is.val, "attribute.is")
		case hasPr:
			l.present, _ = p.boolean(pr.val, "attribute.present")
			if !l.present {
				p.at(pr.val, "attribute.present: false is written as present: true with not: true")
			}
		default:
			p.at(v, "attribute: want is: (values) or present: true")
		}
	case kDTMF:
		if s, ok := p.str(v, "dtmf"); ok {
			s = strings.ToUpper(strings.TrimSpace(s))
			if strings.Trim(s, "0123456789*#ABCD") != "" {
				p.at(v, "dtmf: want the digits pressed (0-9, *, #, A-D), got %q", s)
			}
			l.digits = s
		}
	case kSentiment:
		g, ok := p.fields(v, "sentiment", "below", "above", "over")
		if !ok {
			break
		}
		for _, k := range []string{"below", "above"} {
			if m, ok := g[k]; ok {
				x, ok := p.number(m.val, "sentiment."+k)
				if ok && (x < -5 || x > 5) {
					p.at(m.val, "sentiment.%s: scores run from -5 to +5, got %v", k, x)
				}
				if k == "below" {
					l.below = &x
				} else {
					l.above = &x
				}
			}
		}
		if l.below == nil && l.above == nil {
			p.at(v, "sentiment: want below: or above: (a score from -5 to +5)")
		}
		if l.below != nil && l.above != nil && *l.below <= *l.above {
			p.at(v, "sentiment: below %v and above %v can never both hold", *l.below, *l.above)
		}
		if m, ok := g["over"]; ok {
			if m.val.Kind == yaml.ScalarNode && m.val.Value == "call" {
				l.over = 0
			} else {
				l.over, _ = p.duration(m.val, "sentiment.over (call, or a trailing window like 60s)")
			}
		}
	case kNegativeTurns:
		l.count, _ = p.integer(v, "negative_turns (consecutive negative turns)", 1, 1000)
	case kInterruptions:
		g, ok := p.fields(v, "interruptions", "count", "time")
		if !ok {
			break
		}
		c, hasC := g["count"]
		t, hasT := g["time"]
		switch {
		case hasC && hasT:
			p.at(t.key, "interruptions: give count or time, not both (use two conditions to require both)")
		case hasC:
			l.count, _ = p.integer(c.val, "interruptions.count", 1, 100000)
		case hasT:
			l.total, _ = p.duration(t.val, "interruptions.time")
		default:
			p.at(v, "interruptions: want count: N or time: DURATION (at least)")
		}
	case kNonTalk:
		g, ok := p.fields(v, "non_talk", "longest", "total")
		if !ok {
			break
		}
		lo, hasL := g["longest"]
		to, hasT := g["total"]
		switch {
		case hasL && hasT:
			p.at(to.key, "non_talk: give longest or total, not both (use two conditions to require both)")
		case hasL:
			l.longest, _ = p.duration(lo.val, "non_talk.longest")
		case hasT:
			l.total, _ = p.duration(to.val, "non_talk.total")
		default:
			p.at(v, "non_talk: want longest: DURATION (one silence) or total: DURATION")
		}
	}
	if len(p.probs) > before {
		return nil
	}
	return l
}

func (p *parser) role(n *yaml.Node, what string) msg.Role {
	s, ok := p.oneOf(n, what, "agent", "customer", "either", "a", "b")
	if !ok || s == "either" {
		return ""
	}
	return msg.Role(s)
}

func (p *parser) after(n *yaml.Node) *afterCond {
	g, ok := p.fields(n, "after", "words", "by", "within")
	if !ok {
		return nil
	}
	a := &afterCond{}
	if w, ok := g["words"]; ok {
		a.pats = p.phrases(w.val, "after.words")
	} else {
		p.at(n, "after: words is required (what must have been said before)")
	}
	if b, ok := g["by"]; ok {
		a.by = p.role(b.val, "after.by")
	}
	if w, ok := g["within"]; ok {
		a.within, _ = p.duration(w.val, "after.within")
	} else {
		p.at(n, "after: within is required (a duration like 10s)")
	}
	return a
}

// phrases compiles a list of alternatives into shared patterns.
func (p *parser) phrases(n *yaml.Node, what string) []int32 {
	ss, nodes, ok := p.strList(n, what)
	if !ok {
		return nil
	}
	ids := make([]int32, 0, len(ss))
	for i, s := range ss {
		toks, err := compilePhrase(s, p.lang)
		if err != nil {
			p.at(nodes[i], "%s: %q: %v", what, s, err)
			continue
		}
		key := phraseKey(toks, p.lang)
		pt, ok := p.rs.byKey[key]
		if !ok {
			pt = &pattern{id: int32(len(p.rs.patterns)), toks: toks, lang: p.lang}
			p.rs.byKey[key] = pt
			p.rs.patterns = append(p.rs.patterns, pt)
		}
		ids = append(ids, pt.id)
	}
	return ids
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

var placeholders = []string{"{rule}", "{matched}", "{call}", "{agent}", "{queue}", "{time}", "{severity}"}

func (p *parser) actions(n *yaml.Node, a *Actions) {
	f, ok := p.fields(n, "actions", "alert", "category", "publish", "webhook")
	if !ok {
		return
	}
	if len(f) == 0 {
		p.at(n, "actions: want at least one of alert, category, publish, webhook")
	}
	if v, ok := f["alert"]; ok {
		al := &AlertAction{Severity: SeverityWarning}
		if g, ok := p.fields(v.val, "alert", "severity", "message"); ok {
			if s, ok := g["severity"]; ok {
				al.Severity, _ = p.oneOf(s.val, "alert.severity", SeverityInfo, SeverityWarning, SeverityCritical)
			}
			if m, ok := g["message"]; ok {
				if s, ok := p.str(m.val, "alert.message"); ok {
					al.Message = s
					p.template(m.val, s)
				}
			}
		}
		a.Alert = al
	}
	if v, ok := f["category"]; ok {
		if s, ok := p.str(v.val, "category"); ok {
			if len(s) > 100 {
				p.at(v.val, "category: at most 100 characters")
			}
			a.Category = strings.TrimSpace(s)
		}
	}
	if v, ok := f["publish"]; ok {
		pa := &PublishAction{}
		if g, ok := p.fields(v.val, "publish", "subject", "data"); ok {
			if s, ok := g["subject"]; ok {
				if subj, ok := p.str(s.val, "publish.subject"); ok {
					check := strings.ReplaceAll(subj, "{call}", "x")
					valid := !strings.ContainsAny(check, " \t\r\n*>{}")
					for _, t := range strings.Split(check, ".") {
						valid = valid && t != ""
					}
					if !valid {
						p.at(s.val, "publish.subject: %q is not a NATS subject (dot-separated tokens, no spaces or wildcards; {call} for the call id)", subj)
					}
					pa.Subject = subj
				}
			}
			if d, ok := g["data"]; ok {
				pa.Data = p.stringMap(d.val, "publish.data")
			}
		}
		a.Publish = pa
	}
	if v, ok := f["webhook"]; ok {
		a.Webhook = p.webhook(v.val)
	}
}

func (p *parser) template(n *yaml.Node, s string) {
	for _, ph := range placeholder.FindAllString(s, -1) {
		if !slices.Contains(placeholders, ph) {
			p.at(n, "alert.message: unknown placeholder %s (want one of: %s)", ph, strings.Join(placeholders, " "))
		}
	}
	rest := placeholder.ReplaceAllString(s, "")
	if strings.ContainsAny(rest, "{}") {
		p.at(n, "alert.message: unbalanced { or } (placeholders look like {matched})")
	}
}

func (p *parser) stringMap(n *yaml.Node, what string) map[string]string {
	if n.Kind != yaml.MappingNode {
		p.at(n, "%s: want a mapping of names to texts, got %s", what, yamlfile.Describe(n))
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ks, ok1 := p.str(k, what+" key")
		vs, ok2 := p.str(v, what+"."+k.Value)
		if ok1 && ok2 {
			m[ks] = vs
		}
	}
	return m
}

func (p *parser) webhook(n *yaml.Node) *WebhookAction {
	g, ok := p.fields(n, "webhook", "url", "secret_env", "timeout", "retries", "backoff", "data")
	if !ok {
		return nil
	}
	w := &WebhookAction{Timeout: 5 * time.Second, Retries: 3, Backoff: 500 * time.Millisecond}
	if u, ok := g["url"]; ok {
		if s, ok := p.str(u.val, "webhook.url"); ok {
			pu, err := url.Parse(s)
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				p.at(u.val, "webhook.url: want an absolute http:// or https:// URL, got %q", s)
			}
			w.URL = s
		}
	} else {
		p.at(n, "webhook: url is required")
	}
	if s, ok := g["secret_env"]; ok {
		if name, ok := p.str(s.val, "webhook.secret_env"); ok {
			w.SecretEnv = name
			w.Secret = []byte(os.Getenv(name))
			if len(w.Secret) == 0 {
				p.at(s.val, "webhook.secret_env: environment variable %s is not set or empty (it holds the signing secret)", name)
			}
		}
	}
	if t, ok := g["timeout"]; ok {
		if d, ok := p.duration(t.val, "webhook.timeout"); ok {
			if d > time.Minute {
				p.at(t.val, "webhook.timeout: at most 1m")
			}
			w.Timeout = d
		}
	}
	if r, ok := g["retries"]; ok {
		w.Retries, _ = p.integer(r.val, "webhook.retries", 0, 10)
	}
	if b, ok := g["backoff"]; ok {
		if d, ok := p.duration(b.val, "webhook.backoff"); ok {
			if d > time.Minute {
				p.at(b.val, "webhook.backoff: at most 1m")
			}
			w.Backoff = d
		}
	}
	if d, ok := g["data"]; ok {
		w.Data = p.stringMap(d.val, "webhook.data")
	}
	return w
}

// build makes the automaton and the gates once the file is known valid.
func (p *parser) build() error {
	rs := p.rs
	keys := map[string]int{}
	var anchorKeys []string
	for _, pt := range rs.patterns {
		start, n, key := anchor(pt.toks)
		pt.start, pt.n = start, n
		if start < 0 {
			pt.alt = -1
			rs.unanchored = append(rs.unanchored, pt.id)
			continue
		}
		i, ok := keys[key]
		if !ok {
			i = len(anchorKeys)
			keys[key] = i
			anchorKeys = append(anchorKeys, key)
			rs.anchors = append(rs.anchors, nil)
		}
		pt.alt = i
		rs.anchors[i] = append(rs.anchors[i], pt.id)
	}
	if len(anchorKeys) > 0 {
		b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{MatchKind: ahocorasick.StandardMatch, DFA: false})
		rs.ac = b.Build(anchorKeys)
	}
	rs.gates = make([][]int32, len(rs.patterns))
	for _, r := range rs.rules {
		if r.PostCall {
			continue
		}
		gate := gatePatterns(r)
		if gate == nil {
			rs.ungated = append(rs.ungated, r.index)
			continue
		}
		for _, id := range gate {
			rs.gates[id] = append(rs.gates[id], r.index)
		}
	}
	return nil
}

// gatePatterns returns patterns one of which must have matched for r to
// hold: those of a group made only of positive text conditions. nil means
// r can hold without any words (it is evaluated on every event).
func gatePatterns(r *Rule) []int32 {
	for _, g := range r.groups {
		var ids []int32
		all := true
		for _, l := range g {
			if l.not || !l.kind.isText() {
				all = false
				break
			}
			ids = append(ids, l.pats...)
		}
		if all && len(ids) > 0 {
			slices.Sort(ids)
			return slices.Compact(ids)
		}
	}
	return nil
}
