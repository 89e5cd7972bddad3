package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testPassword is every test user's password.
const testPassword = "correct-horse-battery"

// testUsers are one user per role; the agent's calls are agent "ann".
var testUsers = map[Role]string{
	RoleAgent: "ann", RoleSupervisor: "sue", RoleAnalyst: "quinn", RoleAdmin: "root",
}

// memStore is the store interface over records held in memory: search is
// a case-insensitive substring match of q in final segment text.
type memStore struct {
	mu      sync.Mutex
	records map[string]msg.CallRecord
	queries []msg.SearchQuery
}

func newMemStore(recs ...msg.CallRecord) *memStore {
	s := &memStore{records: map[string]msg.CallRecord{}}
	for _, r := range recs {
		s.records[r.Call.CallID] = r
	}
	return s
}

func (s *memStore) Search(_ context.Context, q msg.SearchQuery) (msg.SearchResults, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, q)
	if strings.Contains(q.Text, "((") {
		return msg.SearchResults{}, errors.Join(msg.ErrBadQuery, errors.New("unbalanced parentheses at column 1"))
	}
	var res msg.SearchResults
	ids := make([]string, 0, len(s.records))
	for id := range s.records {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	word := strings.ToLower(strings.Trim(q.Text, `"`))
	for _, id := range ids {
		r := s.records[id]
		if q.Agent != "" && r.Call.Agent != q.Agent {
			continue
		}
		hit := msg.SearchHit{Call: r.Call, Score: 1}
		for _, seg := range r.Segments {
			if i := strings.Index(strings.ToLower(seg.Text), word); word != "" && i >= 0 {
				hit.Snippets = append(hit.Snippets, msg.Snippet{
					SegmentID: seg.ID, Leg: seg.Leg, StartMS: seg.StartMS, Text: seg.Text,
					Highlights: [][2]int{{i, i + len(word)}},
				})
			}
		}
		if word == "" || len(hit.Snippets) > 0 {
			res.Hits = append(res.Hits, hit)
		}
	}
	res.Total = len(res.Hits)
	return res, nil
}

func (s *memStore) Call(_ context.Context, id string, original bool) (msg.CallRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[id]
	if !ok {
		return msg.CallRecord{}, msg.ErrNotFound
	}
	segs := make([]msg.StoredSegment, len(r.Segments))
	for i, seg := range r.Segments {
		if !original {
			seg.Original = ""
		}
		segs[i] = seg
	}
	r.Segments = segs
	return r, nil
}

// Dashboard counts the records of q's agent (all, without one) in one
// overall row; a step other than day or week is a bad query.
func (s *memStore) Dashboard(_ context.Context, q msg.DashboardQuery) (msg.Dashboard, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.Step != "" && q.Step != msg.StepDay && q.Step != msg.StepWeek {
		return msg.Dashboard{}, fmt.Errorf("%w: step %q", msg.ErrBadQuery, q.Step)
	}
	row := msg.DashboardRow{Bucket: q.From, Categories: map[string]float64{}}
	for _, r := range s.records {
		if q.Agent == "" || r.Call.Agent == q.Agent {
			row.Calls++
		}
	}
	row.Categories["refund"] = 1
	return msg.Dashboard{Query: q, Rows: []msg.DashboardRow{row}, Categories: []string{"refund"}, Alerts: []string{}}, nil
}

// memRules is the rules interface over a text held in memory: a line
// with "bad" is a problem; a dry run matches every stored call.
type memRules struct {
	mu      sync.Mutex
	text    string
	history []msg.RuleChange
	store   *memStore
}

func (r *memRules) Source(context.Context) ([]byte, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return []byte(r.text), "v" + string(rune('0'+len(r.history))), nil
}

func (r *memRules) Check(text []byte) []msg.Problem {
	var ps []msg.Problem
	for i, l := range strings.Split(string(text), "\n") {
		if c := strings.Index(l, "bad"); c >= 0 {
			ps = append(ps, msg.Problem{Line: i + 1, Column: c + 1, Message: "unknown word <b>bad</b>"})
		}
	}
	return ps
}

func (r *memRules) DryRun(_ context.Context, text []byte, _ msg.SearchQuery) ([]msg.DryRunMatch, error) {
	var out []msg.DryRunMatch
	for id, rec := range r.store.records {
		m := msg.DryRunMatch{CallID: id, RuleID: "r1", RuleName: `<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=1">`}
		for _, s := range rec.Segments {
			m.Matches = append(m.Matches, msg.Match{SegmentID: s.ID, Leg: s.Leg, Text: s.Text, StartMS: s.StartMS, EndMS: s.EndMS})
		}
		out = append(out, m)
	}
	return out, nil
}

func (r *memRules) Activate(_ context.Context, text []byte, who string) ([]msg.Problem, error) {
	if ps := r.Check(text); len(ps) > 0 {
		return ps, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.text = string(text)
	r.history = append(r.history, msg.RuleChange{Version: "v", By: who, At: time.Now(), Rules: 1, Text: string(text)})
	return nil, nil
}

// History lists the activations newest first, as the rules stage does.
func (r *memRules) History(context.Context) ([]msg.RuleChange, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := slices.Clone(r.history)
	slices.Reverse(h)
	return h, nil
}

// testServer is a Server on httptest with a user per role.
type testServer struct {
	*Server
	http  *httptest.Server
	store *memStore
	rules *memRules
}

// startTestServer starts a Server (with cfg's JS, if any) and runs it until
// the test ends.
func startTestServer(t testing.TB, cfg Config, recs ...msg.CallRecord) *testServer {
	t.Helper()
	st := newMemStore(recs...)
	rl := &memRules{text: "rule greeting: agent says hello\n", store: st}
	if cfg.Store == nil {
		cfg.Store = st
	}
	if cfg.Rules == nil {
		cfg.Rules = rl
	}
	if cfg.Forms == nil {
		cfg.Forms = &memForms{}
	}
	cfg.BcryptCost = bcrypt.MinCost
	if cfg.Out == nil {
		cfg.Out = &bytes.Buffer{}
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.FirstStart("http://127.0.0.1:8080"); err != nil { // as served: the first admin
		t.Fatal(err)
	}
	for role, name := range testUsers {
		// With shared accounts another test server may have added them.
		if err := srv.AddUser(name, testPassword, role, ""); err != nil && !(cfg.Accounts != nil && errors.Is(err, ErrUserExists)) {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		hs.Close()
	})
	return &testServer{Server: srv, http: hs, store: st, rules: rl}
}

// client is a logged-in browser-like client.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
	csrf string
}

func (ts *testServer) anonymous(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: ts.http.URL, hc: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (ts *testServer) login(t testing.TB, name string) *client {
	t.Helper()
	c := ts.anonymous(t)
	resp, body := c.do("POST", "/api/ui/login", map[string]string{"name": name, "password": testPassword}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %s", name, resp.StatusCode, body)
	}
	var out struct{ CSRF string }
	if err := json.Unmarshal(body, &out); err != nil || out.CSRF == "" {
		t.Fatalf("login %s: no csrf in %s", name, body)
	}
	c.csrf = out.CSRF
	return c
}

// do sends a request with the session's CSRF token (unless hdr sets one)
// and returns the response and its body.
func (c *client) do(method, path string, body any, hdr map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set(csrfHeader, c.csrf)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if strings.HasSuffix(strings.SplitN(path, "?", 2)[0], "/events") || strings.HasPrefix(path, "/api/ui/live") {
		// An event stream: take the status and first frame, then leave.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req = req.WithContext(ctx)
		resp, err := c.hc.Do(req)
		if err != nil {
			c.t.Fatal(err)
		}
		defer resp.Body.Close()
		var first bytes.Buffer
		if resp.StatusCode == http.StatusOK {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() && sc.Text() != "" {
				first.WriteString(sc.Text() + "\n")
			}
		} else {
			_, _ = first.ReadFrom(resp.Body)
		}
		return resp, first.Bytes()
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp, out.Bytes()
}

// sseEvent is one server-sent event.
type sseEvent struct {
	kind string
	data string
}

// events opens an event stream and delivers its events on the returned
// channel until stop is called (which waits for the reader to end).
func (c *client) events(path string) (evs <-chan sseEvent, stop func()) {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		c.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		c.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	ch := make(chan sseEvent, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.kind != "" {
					select {
					case ch <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.kind = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			}
		}
	}()
	return ch, func() {
		cancel()
		resp.Body.Close()
		<-done
	}
}

// next waits for the next event of kind (skipping others) or fails.
func next(t *testing.T, evs <-chan sseEvent, kind string, within time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("event stream ended while waiting for %q", kind)
			}
			if ev.kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %q event within %s", kind, within)
		}
	}
}

// publishTo marshals m and hands it to the server as if from NATS.
func (ts *testServer) inject(t *testing.T, subject string, m msg.Message) {
	t.Helper()
	b, err := msg.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ts.take(subject, b, time.Now())
}

// memForms is the forms interface over one form held in memory, for the
// access table: every call has its evaluation of form "qa", whose one
// question takes yes or no. The real one (package evaluate over a store)
// drives the browser test.
type memForms struct {
	mu    sync.Mutex
	saved []msg.SavedForm
}

func (f *memForms) Forms(context.Context) ([]msg.SavedForm, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.saved) == 0 {
		return []msg.SavedForm{}, nil
	}
	return f.saved[len(f.saved)-1:], nil
}

func (f *memForms) Versions(_ context.Context, form string) ([]msg.SavedForm, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if form != "qa" || len(f.saved) == 0 {
		return nil, msg.ErrNotFound
	}
	return slices.Clone(f.saved), nil
}

func (f *memForms) Check(text []byte) []msg.Problem {
	if strings.Contains(string(text), "bad") {
		return []msg.Problem{{Line: 1, Column: 1, Message: "bad form"}}
	}
	return nil
}

func (f *memForms) Save(_ context.Context, text []byte, who string) (msg.SavedForm, []msg.Problem, error) {
	if ps := f.Check(text); len(ps) > 0 {
		return msg.SavedForm{}, ps, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sf := msg.SavedForm{Form: "qa", Version: len(f.saved) + 1, Name: "QA", Text: string(text), SavedBy: who, SavedAt: time.Now()}
	f.saved = append(f.saved, sf)
	return sf, nil, nil
}

func (f *memForms) Spec(_ context.Context, form string, version int) (msg.FormSpec, error) {
	return msg.FormSpec{Form: form, Version: version, Name: "QA", Sections: []msg.SectionSpec{{ID: "s", Name: "S",
		Questions: []msg.QuestionSpec{{ID: "q", Text: "Greeted?", Type: "yes_no", Answers: []string{"yes", "no"}, Auto: true}}}}}, nil
}

func (f *memForms) Amend(_ context.Context, callID, form string, changes []msg.AnswerChange, who string) (msg.Evaluation, error) {
	if form != "qa" || len(changes) != 1 || changes[0].Question != "q" {
		return msg.Evaluation{}, msg.ErrBadQuery
	}
	now := time.Now()
	return msg.Evaluation{CallID: callID, Form: form, FormRevision: 1, Answers: []msg.EvaluatedAnswer{
		{Question: "q", Section: "s", Value: changes[0].Value, Auto: "no", By: who, At: &now, Comment: changes[0].Comment}}}, nil
}

func (f *memForms) Rescore(_ context.Context, req msg.RescoreRequest) (msg.RescoreResult, error) {
	if req.Form == "" {
		return msg.RescoreResult{}, msg.ErrBadQuery
	}
	return msg.RescoreResult{Form: req.Form, Version: 1, DryRun: req.DryRun, Examples: []msg.RescoreChange{}}, nil
}
