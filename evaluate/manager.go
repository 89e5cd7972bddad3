package evaluate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/earshot-dev/earshot/msg"
)

// Store is what the evaluate stage keeps its forms in and reads and writes
// calls' evaluations in; the store implements it.
type Store interface {
	Call(ctx context.Context, callID string, original bool) (msg.CallRecord, error)
	EndedCalls(ctx context.Context, from, to time.Time, after string, limit int) ([]string, error)
	PutEvaluation(ctx context.Context, ev msg.Evaluation) error
	SaveForm(ctx context.Context, f msg.SavedForm) (msg.SavedForm, error)
	FormVersions(ctx context.Context, form string) ([]msg.SavedForm, error)
	FormsAt(ctx context.Context, at time.Time) ([]msg.SavedForm, error)
}

// Config configures a Manager. Store is required.
type Config struct {
	Store Store
	// Redact masks personal data in analysts' comments before they are
	// kept (the store's redactor); nil keeps them as written.
	Redact func(string) string
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Manager owns the saved evaluation forms and the calls' evaluations:
// it saves a form's new versions (valid ones only), scores a call with
// the versions in force when it ended, takes analysts' changed answers,
// and re-scores a time range with a form's version.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	parsed map[string]*Form // "form@version" -> parsed, saved versions never change
}

// Limits on what an analyst writes.
const (
	MaxComment = 2000
	// rescorePage is how many calls re-scoring reads ids of at a time.
	rescorePage = 200
)

// ErrNotScored: the call has no evaluation of the form to change.
var ErrNotScored = errors.New("the call has no evaluation of this form")

// NewManager checks cfg and returns a Manager.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("evaluate: manager needs a store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Redact == nil {
		cfg.Redact = func(s string) string { return s }
	}
	return &Manager{cfg: cfg, log: cfg.Logger, parsed: map[string]*Form{}}, nil
}

// forever is after every save: FormsAt(forever) is every form's newest.
var forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Forms returns the newest version of every form, by form id.
func (m *Manager) Forms(ctx context.Context) ([]msg.SavedForm, error) {
	fs, err := m.cfg.Store.FormsAt(ctx, forever)
	if fs == nil {
		fs = []msg.SavedForm{}
	}
	return fs, err
}

// Versions returns every saved version of a form, newest first; an
// unknown form is an error wrapping msg.ErrNotFound.
func (m *Manager) Versions(ctx context.Context, form string) ([]msg.SavedForm, error) {
	return m.cfg.Store.FormVersions(ctx, form)
}

// Check validates form text, with the problems earshot forms check reports.
func (m *Manager) Check(text []byte) []msg.Problem { return Check(text) }

// Save validates text and keeps it as its form's next version, saved by
// who. Problems mean nothing was saved.
func (m *Manager) Save(ctx context.Context, text []byte, who string) (msg.SavedForm, []msg.Problem, error) {
	f, err := Parse(text)
	var pe *ProblemsError
	if errors.As(err, &pe) {
		return msg.SavedForm{}, pe.Problems, nil
	}
	if err != nil {
		return msg.SavedForm{}, nil, err
	}
	saved, err := m.cfg.Store.SaveForm(ctx, msg.SavedForm{
		Form: f.ID, Name: f.Name, Hash: f.Version, Text: string(text), SavedBy: who, SavedAt: m.cfg.Now().UTC(),
	})
	if err != nil {
		return msg.SavedForm{}, nil, err
	}
	m.log.Info("form saved", "form", saved.Form, "version", saved.Version, "by", who)
	return saved, nil, nil
}

// version returns a saved version of a form (0: the newest), parsed.
func (m *Manager) version(ctx context.Context, form string, version int) (msg.SavedForm, *Form, error) {
	vs, err := m.cfg.Store.FormVersions(ctx, form)
	if err != nil {
		return msg.SavedForm{}, nil, err
	}
	sf := vs[0]
	if version != 0 {
		i := len(vs) - version
		if version < 0 || i < 0 || vs[i].Version != version {
			return msg.SavedForm{}, nil, fmt.Errorf("form %s has no version %d: %w", form, version, msg.ErrNotFound)
		}
		sf = vs[i]
	}
	f, err := m.parse(sf)
	return sf, f, err
}

// parse parses a saved version once.
func (m *Manager) parse(sf msg.SavedForm) (*Form, error) {
	key := sf.Form + "@" + strconv.Itoa(sf.Version)
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.parsed[key]; f != nil {
		return f, nil
	}
	f, err := Parse([]byte(sf.Text))
	if err != nil {
		// Saved versions were valid; a newer build may refuse one.
		return nil, fmt.Errorf("form %s version %d: %w", sf.Form, sf.Version, err)
	}
	m.parsed[key] = f
	return f, nil
}

// Spec describes a saved version of a form (0: the newest) for a page.
func (m *Manager) Spec(ctx context.Context, form string, version int) (msg.FormSpec, error) {
	sf, f, err := m.version(ctx, form, version)
	if err != nil {
		return msg.FormSpec{}, err
	}
	spec := msg.FormSpec{Form: sf.Form, Version: sf.Version, Name: f.Name, Sections: []msg.SectionSpec{}}
	for _, s := range f.Sections {
		ss := msg.SectionSpec{ID: s.ID, Name: s.Name}
		for _, q := range s.Questions {
			qs := msg.QuestionSpec{ID: q.ID, Text: q.Text, Type: q.Type, Auto: q.Auto != nil}
			switch q.Type {
			case YesNo:
				qs.Answers = []string{"yes", "no"}
			case Choice:
				for _, c := range q.Choices {
					qs.Answers = append(qs.Answers, c.Answer)
				}
			case Number:
				qs.Min, qs.Max = &q.Min, &q.Max
			}
			ss.Questions = append(ss.Questions, qs)
		}
		spec.Sections = append(spec.Sections, ss)
	}
	return spec, nil
}

// ScoreCall scores a stored call that has ended with the version of every
// form in force when it ended (or the newer one it was re-scored with),
// keeps the evaluations and returns them. An analyst's answers already
// given are kept. A call that has not ended is not scored.
func (m *Manager) ScoreCall(ctx context.Context, callID string) ([]msg.Evaluation, error) {
	rec, err := m.cfg.Store.Call(ctx, callID, true)
	if err != nil {
		return nil, err
	}
	if rec.Call.EndedAt == nil {
		return nil, nil
	}
	forms, err := m.cfg.Store.FormsAt(ctx, *rec.Call.EndedAt)
	if err != nil {
		return nil, err
	}
	var evs []msg.Evaluation
	for _, sf := range forms {
		// A call re-scored with a newer version keeps it when scored again.
		if old := evaluationOf(rec, sf.Form); old != nil && old.FormRevision > sf.Version {
			if sf, _, err = m.version(ctx, sf.Form, old.FormRevision); err != nil {
				return evs, err
			}
		}
		f, err := m.parse(sf)
		if err != nil {
			return evs, err
		}
		ev := m.rescore(f, sf, rec)
		if err := m.cfg.Store.PutEvaluation(ctx, ev); err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// rescore scores rec with f (saved as sf) and keeps the analysts' answers
// of rec's evaluation of the form that f still allows.
func (m *Manager) rescore(f *Form, sf msg.SavedForm, rec msg.CallRecord) msg.Evaluation {
	ev := Score(f, rec, m.cfg.Now())
	ev.FormRevision = sf.Version
	old := evaluationOf(rec, f.ID)
	if old == nil {
		return ev
	}
	byQ := map[string]msg.EvaluatedAnswer{}
	for _, a := range old.Answers {
		if a.By != "" {
			byQ[a.Question] = a
		}
	}
	for i := range ev.Answers {
		a := &ev.Answers[i]
		prev, ok := byQ[a.Question]
		if q := f.question(a.Question); ok && q != nil && q.Allowed(prev.Value) {
			a.Value, a.By, a.At, a.Comment = prev.Value, prev.By, prev.At, prev.Comment
		}
	}
	Total(f, &ev)
	return ev
}

func evaluationOf(rec msg.CallRecord, form string) *msg.Evaluation {
	for i := range rec.Evaluations {
		if rec.Evaluations[i].Form == form {
			return &rec.Evaluations[i]
		}
	}
	return nil
}

// question finds a question by id.
func (f *Form) question(id string) *Question {
	for _, s := range f.Sections {
		for _, q := range s.Questions {
			if q.ID == id {
				return q
			}
		}
	}
	return nil
}

// Amend changes answers of a call's evaluation of a form as analyst who,
// each with a comment (kept, with who and when), recomputes the totals,
// keeps the evaluation and returns it. The automatic answer stays in Auto;
// a change to "" takes the answer back to it. A change the form does not
// allow is an error wrapping msg.ErrBadQuery; a call or evaluation that
// is not there, msg.ErrNotFound.
func (m *Manager) Amend(ctx context.Context, callID, form string, changes []msg.AnswerChange, who string) (msg.Evaluation, error) {
	if len(changes) == 0 {
		return msg.Evaluation{}, fmt.Errorf("%w: no answer to change", msg.ErrBadQuery)
	}
	rec, err := m.cfg.Store.Call(ctx, callID, false)
	if err != nil {
		return msg.Evaluation{}, err
	}
	old := evaluationOf(rec, form)
	if old == nil {
		return msg.Evaluation{}, fmt.Errorf("call %s, form %s: %w: %w", callID, form, ErrNotScored, msg.ErrNotFound)
	}
	if old.FormRevision == 0 {
		return msg.Evaluation{}, fmt.Errorf("%w: call %s was scored with form %s from a file, not a saved version: re-score it first", msg.ErrBadQuery, callID, form)
	}
	_, f, err := m.version(ctx, form, old.FormRevision)
	if err != nil {
		return msg.Evaluation{}, err
	}
	ev := *old
	ev.Answers = append([]msg.EvaluatedAnswer(nil), old.Answers...)
	now := m.cfg.Now().UTC()
	for _, c := range changes {
		q := f.question(c.Question)
		i := answerIndex(ev.Answers, c.Question)
		switch {
		case q == nil || i < 0:
			return msg.Evaluation{}, fmt.Errorf("%w: form %s version %d has no question %q", msg.ErrBadQuery, form, old.FormRevision, c.Question)
		case c.Value != "" && !q.Allowed(c.Value):
			return msg.Evaluation{}, fmt.Errorf("%w: question %s: %q is not an answer it allows%s", msg.ErrBadQuery, q.ID, c.Value, allowedHint(q))
		case c.Value != "" && strings.TrimSpace(c.Comment) == "":
			return msg.Evaluation{}, fmt.Errorf("%w: question %s: say why in a comment", msg.ErrBadQuery, q.ID)
		case utf8.RuneCountInString(c.Comment) > MaxComment || !utf8.ValidString(c.Comment):
			return msg.Evaluation{}, fmt.Errorf("%w: question %s: a comment is UTF-8 text of at most %d characters", msg.ErrBadQuery, q.ID, MaxComment)
		}
		a := &ev.Answers[i]
		if c.Value == "" { // back to the automatic answer
			a.Value, a.By, a.At, a.Comment = a.Auto, "", nil, ""
			continue
		}
		at := now
		a.Value, a.By, a.At, a.Comment = c.Value, who, &at, m.cfg.Redact(strings.TrimSpace(c.Comment))
	}
	Total(f, &ev)
	ev.ScoredAt = now
	if err := m.cfg.Store.PutEvaluation(ctx, ev); err != nil {
		return msg.Evaluation{}, err
	}
	m.log.Info("evaluation changed", "call", callID, "form", form, "answers", len(changes), "by", who)
	return ev, nil
}

func answerIndex(as []msg.EvaluatedAnswer, question string) int {
	for i, a := range as {
		if a.Question == question {
			return i
		}
	}
	return -1
}

func allowedHint(q *Question) string {
	switch q.Type {
	case YesNo:
		return " (want yes or no)"
	case Choice:
		var as []string
		for _, c := range q.Choices {
			as = append(as, strconv.Quote(c.Answer))
		}
		return " (want one of " + strings.Join(as, ", ") + ")"
	}
	return fmt.Sprintf(" (want a number from %g to %g)", q.Min, q.Max)
}

// Rescore scores the ended calls that started in [req.From, req.To) again
// with a version of a form (0: the newest), keeping analysts' answers the
// version allows, and says how many totals change and by how much. A dry
// run keeps nothing. A request to fix is an error wrapping
// msg.ErrBadQuery; an unknown form or version, msg.ErrNotFound.
func (m *Manager) Rescore(ctx context.Context, req msg.RescoreRequest) (msg.RescoreResult, error) {
	switch {
	case req.Form == "":
		return msg.RescoreResult{}, fmt.Errorf("%w: which form? (form is empty)", msg.ErrBadQuery)
	case req.From.IsZero() || req.To.IsZero():
		return msg.RescoreResult{}, fmt.Errorf("%w: want a time range: from and to", msg.ErrBadQuery)
	case !req.From.Before(req.To):
		return msg.RescoreResult{}, fmt.Errorf("%w: from %s is not before to %s", msg.ErrBadQuery, req.From.Format(time.RFC3339), req.To.Format(time.RFC3339))
	}
	sf, f, err := m.version(ctx, req.Form, req.Version)
	if err != nil {
		return msg.RescoreResult{}, err
	}
	res := msg.RescoreResult{Form: sf.Form, Version: sf.Version, DryRun: req.DryRun, Examples: []msg.RescoreChange{}}
	var sum float64
	var deltas int
	after := ""
	for {
		ids, err := m.cfg.Store.EndedCalls(ctx, req.From, req.To, after, rescorePage)
		if err != nil {
			return res, err
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		for _, id := range ids {
			rec, err := m.cfg.Store.Call(ctx, id, true)
			if errors.Is(err, msg.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return res, err
			}
			res.Calls++
			ev := m.rescore(f, sf, rec)
			var before *float64
			if old := evaluationOf(rec, f.ID); old != nil {
				before = old.Score
			}
			switch {
			case sameScore(before, ev.Score):
				res.Unchanged++
			default:
				res.Changed++
				if len(res.Examples) < msg.MaxRescoreExamples {
					res.Examples = append(res.Examples, msg.RescoreChange{CallID: id, Before: before, After: ev.Score})
				}
				if before == nil {
					res.Scored++
				}
			}
			if before != nil && ev.Score != nil && !sameScore(before, ev.Score) {
				d := round2(*ev.Score - *before)
				sum += d
				deltas++
				switch {
				case d > 0:
					res.Up++
				case d < 0:
					res.Down++
				}
				if res.MinDelta == nil || d < *res.MinDelta {
					res.MinDelta = &d
				}
				if res.MaxDelta == nil || d > *res.MaxDelta {
					res.MaxDelta = &d
				}
			}
			if !req.DryRun {
				if err := m.cfg.Store.PutEvaluation(ctx, ev); err != nil {
					return res, err
				}
			}
		}
	}
	if deltas > 0 {
		mean := round2(sum / float64(deltas))
		res.MeanDelta = &mean
	}
	if !req.DryRun {
		m.log.Info("calls re-scored", "form", sf.Form, "version", sf.Version, "calls", res.Calls, "changed", res.Changed)
	}
	return res, nil
}

func sameScore(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return round2(*a) == round2(*b)
}
