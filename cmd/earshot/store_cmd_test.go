package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/sqlite"
	"github.com/earshot-dev/earshot/ui"
	"go.uber.org/goleak"
)

var storeT0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// storeTestData makes an SQLite store in a new data directory with two calls.
func storeTestData(t *testing.T) (string, *sqlite.Store) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, sqlite.FileName)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i, c := range []struct{ id, agent, text string }{
		{"c1", "alice", "I want a refund for the double charge"},
		{"c2", "bob", "can I get a refund please"},
	} {
		at := storeT0.Add(time.Duration(i) * time.Hour)
		if err := s.PutCall(ctx, msg.CallEvent{CallID: c.id, Kind: msg.CallStarted, Time: at, StartedAt: at, Agent: c.agent, Queue: "billing"}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSegment(ctx, msg.StoredSegment{Segment: msg.Segment{ID: c.id + "/customer/1/0", CallID: c.id, Leg: msg.RoleCustomer, StartMS: 83000, Text: c.text}}); err != nil {
			t.Fatal(err)
		}
	}
	return dir, s
}

func storeRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdio{strings.NewReader(""), &out, &errb})
	return code, out.String(), errb.String()
}

func TestStoreSearchCommandLocal(t *testing.T) {
	storeNoLeaks(t)
	dir, _ := storeTestData(t)
	code, out, errs := storeRun("search", "--data", dir, "refund", "--agent", "alice")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"1 call matches", "call c1", "agent alice", "01:23 customer: I want a [refund] for the double charge"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = storeRun("search", "--data", dir, "--json", `"a refund"`)
	var res msg.SearchResults
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Total != 2 {
		t.Fatalf("--json: exit %d, %s %s", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"search", "--data", dir, "refund AND"}, "column 11"},
		{[]string{"search", "--data", dir, `"refund`}, "column 1: quote opened here is never closed"},
		{[]string{"search", "--data", dir, "refund", "--leg", "boss"}, `leg "boss"`},
		{[]string{"search", "--data", filepath.Join(dir, "none"), "refund"}, "no store at"},
		{[]string{"search", "--data", dir, "--colour", "red"}, "flag provided but not defined"},
	} {
		code, _, errs := storeRun(c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args[3:], code, errs, c.want)
		}
	}
}

func TestStoreSearchCommandServer(t *testing.T) {
	storeNoLeaks(t)
	_, s := storeTestData(t)
	h, err := store.NewHandler(store.HandlerConfig{Reader: s})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sesame" {
			http.Error(w, `{"error":"login required"}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	code, out, errs := storeRun("search", "--server", srv.URL, "--token", "sesame", "refund", "--agent", "bob")
	if code != 0 || !strings.Contains(out, "call c2") || strings.Contains(out, "call c1") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if code, _, errs := storeRun("search", "--server", srv.URL, "--token", "sesame", "(refund"); code != 2 || !strings.Contains(errs, "column 1") {
		t.Errorf("bad query over http: exit %d %s", code, errs)
	}
	if code, _, errs := storeRun("search", "--server", srv.URL, "refund"); code != 1 || !strings.Contains(errs, "login required") {
		t.Errorf("without the token: exit %d %s", code, errs)
	}
	srv.Client().CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
}

func TestStoreStageArchivesAndServes(t *testing.T) {
	storeNoLeaks(t)
	_, conn := bustest.Start(t)
	dir := t.TempDir()
	stored := make(chan string, 20)
	s := &storeStage{mask: "entity", policy: "redacted", onStored: func(sub string) { stored <- sub }}
	e := newEnv(slog.New(slog.DiscardHandler), conn, dir, stdio{})
	// The API goes behind the web view's login, for the roles that read
	// every call; here the login lets everyone through.
	var guarded [][]ui.Role
	e.protect = func(h http.Handler, roles ...ui.Role) http.Handler {
		guarded = append(guarded, roles)
		return h
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runner, err := s.start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(guarded) != 2 || slices.Contains(guarded[0], ui.RoleAgent) || !slices.Contains(guarded[0], ui.RoleAnalyst) {
		t.Fatalf("store API guarded for %v; want both routes, analysts and not agents", guarded)
	}
	done := make(chan error, 1)
	go func() { done <- runner(ctx) }()
	pub := func(subject string, m msg.Message) { publishMsg(t, conn, subject, m) }
	pub(msg.SubjectCall("s1"), msg.CallEvent{CallID: "s1", Kind: msg.CallStarted, Time: storeT0, StartedAt: storeT0, Agent: "alice"})
	pub(msg.SubjectTranscript("s1"), msg.Segment{ID: "s1/customer/1/0", CallID: "s1", Leg: msg.RoleCustomer, StartMS: 5000, Text: "my social is 123-45-6789 and I need a refund"})
	pub(msg.SubjectCall("s1"), msg.CallEvent{CallID: "s1", Kind: msg.CallEnded, Time: storeT0.Add(time.Minute), StartedAt: storeT0, DurationMS: 60000})
	for n := 0; n < 3; n++ {
		select {
		case <-stored:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of 3 messages stored", n)
		}
	}
	api := httptest.NewServer(e.mux)
	resp, err := http.Get(api.URL + "/api/calls/s1")
	if err != nil {
		t.Fatal(err)
	}
	var rec msg.CallRecord
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	api.Close()
	http.DefaultClient.CloseIdleConnections()
	if len(rec.Segments) != 1 || rec.Segments[0].Text != "my social is [SSN] and I need a refund" || rec.Call.EndedAt == nil {
		t.Fatalf("stored call = %+v", rec)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The store is closed; earshot search reads the file.
	code, out, errs := storeRun("search", "--data", dir, "refund")
	if code != 0 || !strings.Contains(out, "[SSN] and I need a [refund]") {
		t.Fatalf("search after the stage stopped: exit %d %s %s", code, out, errs)
	}
}

func TestStoreStageBadFlags(t *testing.T) {
	_, conn := bustest.Start(t)
	e := newEnv(slog.New(slog.DiscardHandler), conn, t.TempDir(), stdio{})
	for _, s := range []*storeStage{
		{mask: "stars", policy: "redacted"},
		{mask: "pii", policy: "everything"},
		{mask: "pii", policy: "redacted", retentionDays: -3},
		{mask: "pii", policy: "redacted", db: "mysql://x"},
	} {
		if _, err := s.start(context.Background(), e); err == nil || !storeIsUsage(err) {
			t.Errorf("%+v: %v, want a usage error", s, err)
		}
	}
}

func storeIsUsage(err error) bool {
	_, ok := err.(usageError)
	return ok
}

// storeNoLeaks checks, after the test and all its cleanups, that no
// goroutine the test started is left.
func storeNoLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt, natsJetStreamLeak) })
}
