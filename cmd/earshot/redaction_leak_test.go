package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/redact"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// leakCard is a Luhn-valid Visa number, spoken into a call in digits and
// in words.
const leakCard = "4539148803436467"

// leakRules fills every placeholder an alert message has; the alert, the
// category, the rule event and the webhook all carry what was matched.
const leakRules = `version: 1
rules:
  - id: card
    name: Card read out
    repeat: true
    match:
      - words: ["card number is [num]"]
    actions:
      alert: {severity: critical, message: "{rule} on {call} ({queue}, agent {agent}) at {time} [{severity}]: {matched}"}
      category: PCI risk
      publish: {data: {team: compliance}}
      webhook: {url: "WEBHOOK", retries: 0}
`

// leaked reports whether s holds the card number, written (any separators)
// or spoken word by word.
func leaked(s string) bool {
	digits := regexp.MustCompile(`[^0-9]`).ReplaceAllString(s, "")
	return strings.Contains(digits, leakCard[:8]) || strings.Contains(digits, leakCard[8:]) ||
		strings.Contains(strings.ToLower(s), "four five three nine") || strings.Contains(strings.ToLower(s), "zero three four three")
}

// sseStream collects one server-sent event stream until stopped.
type sseStream struct {
	mu     sync.Mutex
	events []string // "kind data"
	got    chan string
	stop   func()
}

func openSSE(t *testing.T, url, token string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	s := &sseStream{got: make(chan string, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		kind := ""
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "event: "); ok {
				kind = k
			} else if d, ok := strings.CutPrefix(line, "data: "); ok {
				ev := kind + " " + d
				s.mu.Lock()
				s.events = append(s.events, ev)
				s.mu.Unlock()
				select {
				case s.got <- ev:
				default:
				}
			}
		}
	}()
	s.stop = func() { cancel(); <-done }
	t.Cleanup(s.stop)
	return s
}

// waitFor returns the first event (already seen or to come) for which ok holds.
func (s *sseStream) waitFor(t *testing.T, what string, ok func(ev string) bool) {
	t.Helper()
	s.mu.Lock()
	for _, ev := range s.events {
		if ok(ev) {
			s.mu.Unlock()
			return
		}
	}
	s.mu.Unlock()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-s.got:
			if ok(ev) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s", what)
		}
	}
}

func (s *sseStream) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

// TestNoCardNumberReachesNonAdmins speaks a card number into a call, with
// a rule whose alert message uses every placeholder, and reads every live
// endpoint a supervisor, an analyst and an agent can reach, every webhook
// body and every message the rules publish: the number is nowhere, while
// an admin asking for the original sees it.
func TestNoCardNumberReachesNonAdmins(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore, natsJetStreamLeak) })
	_, conn := bustest.Start(t)
	dir := t.TempDir()

	var hookMu sync.Mutex
	var hookBodies []string
	hookGot := make(chan struct{}, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookBodies = append(hookBodies, string(b))
		hookMu.Unlock()
		hookGot <- struct{}{}
	}))
	defer hook.Close()

	var natsMu sync.Mutex
	var published []string // alerts, categories and rule events as they travel
	sub, err := conn.NC.Subscribe("earshot.>", func(m *nats.Msg) {
		if strings.HasPrefix(m.Subject, "earshot.alert.") || strings.HasPrefix(m.Subject, "earshot.category.") || strings.HasPrefix(m.Subject, "earshot.event.") {
			natsMu.Lock()
			published = append(published, m.Subject+" "+string(m.Data))
			natsMu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	var out bytes.Buffer
	e := newEnv(slog.New(slog.DiscardHandler), conn, dir, stdio{out: &out, err: &out})
	ruleFile := rulesWrite(t, dir, "rules.yaml", strings.Replace(leakRules, "WEBHOOK", hook.URL, 1))
	var ro rulesOptions
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	ro.flags(fs)
	if err := fs.Parse([]string{"--rules", ruleFile, "--rules-grace", "1s"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rulesRun, err := ro.start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	uiRun, err := uiStageFlags(t).start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{rulesRun, uiRun} {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	hs := httptest.NewServer(e.mux)
	defer func() {
		cancel()
		wg.Wait()
		hs.Close()
	}()

	// Served: the first admin, then one user of each other role, each with
	// a token.
	if err := e.served(hs.URL); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`as "admin" with password (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no first admin in %q", out.String())
	}
	adminToken := leakLogin(t, hs.URL, "admin", m[1])
	tokens := map[string]string{}
	for _, u := range []struct{ name, role, agent string }{{"sue", "supervisor", ""}, {"quinn", "analyst", ""}, {"ann", "agent", "ann"}} {
		leakAPI(t, http.MethodPost, hs.URL+"/api/ui/users", adminToken, map[string]string{"name": u.name, "password": "correct-horse-battery", "role": u.role, "agent": u.agent}, http.StatusCreated)
		var tok struct{ Token string }
		json.Unmarshal(leakAPI(t, http.MethodPost, hs.URL+"/api/ui/users/"+u.name+"/tokens", adminToken, nil, http.StatusCreated), &tok)
		tokens[u.role] = tok.Token
	}

	const call = "c-pci"
	boards := map[string]*sseStream{}
	for _, role := range []string{"supervisor", "agent"} { // the analyst has no board
		boards[role] = openSSE(t, hs.URL+"/api/ui/live", tokens[role])
	}
	publishMsg(t, conn, msg.SubjectCall(call), msg.CallEvent{CallID: call, Kind: msg.CallStarted, StartedAt: time.Now(), Agent: "ann", Queue: "billing"})
	for role, b := range boards {
		b.waitFor(t, role+"'s board row for the call", func(ev string) bool { return strings.Contains(ev, call) })
	}
	views := map[string]*sseStream{}
	for _, role := range []string{"supervisor", "analyst", "agent"} {
		views[role] = openSSE(t, hs.URL+"/api/ui/calls/"+call+"/events", tokens[role])
	}

	spoken := "four five three nine one four eight eight zero three four three six four six seven"
	for i, text := range []string{"yes my card number is 4539 1488 0343 6467", "again my card number is " + spoken} {
		s := msg.Segment{ID: call + "/customer/" + string(rune('1'+i)) + "/0", CallID: call, Leg: msg.RoleCustomer, Turn: i + 1,
			StartMS: int64(i) * 5000, EndMS: int64(i)*5000 + 4000, Text: text, Language: "en"}
		publishMsg(t, conn, msg.SubjectTranscript(call), s)
		publishMsg(t, conn, msg.SubjectScoredSegment(call), msg.ScoredSegment{Segment: s, Sentiment: msg.Sentiment{Label: msg.Neutral}})
	}
	for range 2 {
		select {
		case <-hookGot:
		case <-time.After(20 * time.Second):
			t.Fatal("the webhook was not called for both segments")
		}
	}
	for role, v := range views {
		v.waitFor(t, role+"'s second alert", func(ev string) bool { return strings.HasPrefix(ev, "alert ") && strings.Contains(ev, call+"/card/2") })
		v.waitFor(t, role+"'s categories", func(ev string) bool { return strings.HasPrefix(ev, "categories ") })
	}
	for role, b := range boards {
		b.waitFor(t, role+"'s board row with both alerts", func(ev string) bool { return strings.HasPrefix(ev, "row ") && strings.Contains(ev, `"alerts":2`) })
	}

	check := func(where, s string) {
		t.Helper()
		if leaked(s) {
			t.Errorf("%s carries the card number: %s", where, s)
		}
	}
	for role, v := range views {
		for _, ev := range v.all() {
			check(role+"'s call events", ev)
		}
		check(role+"'s call record", string(leakAPI(t, http.MethodGet, hs.URL+"/api/ui/calls/"+call, tokens[role], nil, http.StatusOK)))
	}
	for role, b := range boards {
		for _, ev := range b.all() {
			check(role+"'s board", ev)
		}
	}
	hookMu.Lock()
	for _, b := range hookBodies {
		check("a webhook body", b)
	}
	hookMu.Unlock()
	natsMu.Lock()
	for _, p := range published {
		// Only the alert's original, for admins, may hold it.
		var env struct {
			Data map[string]json.RawMessage `json:"data"`
		}
		json.Unmarshal([]byte(p[strings.IndexByte(p, ' ')+1:]), &env)
		delete(env.Data, "original")
		b, _ := json.Marshal(env.Data)
		check("NATS "+p[:strings.IndexByte(p, ' ')], string(b))
	}
	natsMu.Unlock()

	// The admin asking for the original sees what was said.
	orig := string(leakAPI(t, http.MethodGet, hs.URL+"/api/ui/calls/"+call+"?original=1", adminToken, nil, http.StatusOK))
	var rec struct {
		Record msg.CallRecord `json:"record"`
	}
	json.Unmarshal([]byte(orig), &rec)
	if len(rec.Record.Alerts) != 2 || !leaked(rec.Record.Alerts[0].Message) || !strings.Contains(rec.Record.Alerts[0].Message, "Card read out on c-pci (billing, agent ann) at 0:04 [critical]: ") {
		t.Errorf("the admin's original view of the alerts: %+v", rec.Record.Alerts)
	}
	red := string(leakAPI(t, http.MethodGet, hs.URL+"/api/ui/calls/"+call, adminToken, nil, http.StatusOK))
	check("the admin's redacted call record", red)
}

// leakLogin logs name in and returns an API token made for them.
func leakLogin(t *testing.T, base, name, password string) string {
	t.Helper()
	return uiLogin(t, base, name, password).token(t, base, name)
}

// leakAPI calls the web view's API with a bearer token and wants status.
func leakAPI(t *testing.T, method, url, token string, body any, status int) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %s %s", method, url, resp.Status, b)
	}
	return b
}

// TestRunGivesRulesTheStoreRedactor: in earshot run, the rules mask alert
// text as the store masks stored text (--redact-mask).
func TestRunGivesRulesTheStoreRedactor(t *testing.T) {
	_, conn := bustest.Start(t)
	p := newPipeline()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	p.store.flags(fs)
	if err := fs.Parse([]string{"--redact-mask", "entity"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e := newEnv(slog.New(slog.DiscardHandler), conn, t.TempDir(), stdio{out: &out, err: &out})
	ctx, cancel := context.WithCancel(context.Background())
	run, err := p.store.start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	p.started(p.store)
	cancel()
	_ = run(ctx) // stopped before it began: only closes the store
	if r := p.analyze.rules.redactor; r == nil || r.Token(redact.CardNumber) != "[CREDIT_DEBIT_NUMBER]" {
		t.Fatalf("the rules got redactor %v, want the store's (entity mask)", r)
	}
}
