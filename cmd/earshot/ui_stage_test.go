package main

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/ui"
	"go.uber.org/goleak"
)

// uiStageFlags parses args into a fresh uiStage, as earshot does.
func uiStageFlags(t *testing.T, args ...string) *uiStage {
	t.Helper()
	s := &uiStage{}
	fs := flag.NewFlagSet("ui", flag.ContinueOnError)
	s.flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestUIStageStartsWithoutStoreOrRules: the stage serves its pages on the
// env's mux and, once served, creates the first admin once and prints how
// to log in.
func TestUIStageStartsWithoutStoreOrRules(t *testing.T) {
	// Registered first, so it runs after the NATS server's cleanup.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore, natsJetStreamLeak) })
	_, conn := bustest.Start(t)
	dir := t.TempDir()
	var out bytes.Buffer
	e := newEnv(slog.New(slog.DiscardHandler), conn, dir, stdio{out: &out, err: &out})
	s := uiStageFlags(t, "--ui-url", "http://earshot.example:8080")
	// Another stage's API, registered before the ui starts.
	e.mux.Handle("GET /api/other", s.require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}), ui.RoleAdmin))
	early := httptest.NewRecorder()
	e.mux.ServeHTTP(early, httptest.NewRequest("GET", "/api/other", nil))
	if early.Code != http.StatusServiceUnavailable {
		t.Fatalf("before start: %d, want 503", early.Code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := s.start(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r(ctx) }()
	hs := httptest.NewServer(e.mux)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		hs.Close()
	}()

	// Started but not yet served: no admin, no login printed.
	users := func() []string {
		kv, err := conn.JS.KeyValue(ctx, ui.UsersBucket)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := kv.Keys(ctx) // none: an error saying so
		return keys
	}
	if keys := users(); len(keys) != 0 || out.Len() != 0 {
		t.Fatalf("before serving: users %v, printed %q", keys, out.String())
	}
	if err := e.served(hs.URL); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `log in at http://earshot.example:8080 as "admin" with password `) {
		t.Fatalf("first start printed %q", out.String())
	}
	if keys := users(); len(keys) != 1 {
		t.Fatalf("users after the first start: %v, want the admin", keys)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET / without login: %d, want 303 to /login", resp.StatusCode)
	}
	resp, err = noFollow.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /metrics on the stage's mux alone: %d (serve adds /metrics itself)", resp.StatusCode)
	}
	resp, err = noFollow.Get(hs.URL + "/api/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("another stage's API without login: %d, want 401", resp.StatusCode)
	}
	mfs, err := e.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "earshot_ui_event_streams"
	}
	if !found {
		t.Fatal("the ui's collectors are not on env.metrics")
	}

	// A second start finds the users and prints nothing.
	out.Reset()
	e2 := newEnv(slog.New(slog.DiscardHandler), conn, dir, stdio{out: &out, err: &out})
	r2, err := uiStageFlags(t).start(ctx, e2)
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.served(hs.URL); err != nil {
		t.Fatal(err)
	}
	stopped, stop := context.WithCancel(ctx)
	stop()
	if err := r2(stopped); err != nil { // releases the store it opened
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("second start printed %q", out.String())
	}
}

// TestUIStageBadInput: bad flags and a broken users file exit 2 and say
// what is wrong.
func TestUIStageBadInput(t *testing.T) {
	srv, _ := bustest.Start(t)
	dir := t.TempDir()
	broken := filepath.Join(dir, "users.json")
	if err := os.WriteFile(broken, []byte(`{"users":[{"name":"x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ui-lookback", "-1h"}, "--ui-lookback"},
		{[]string{"--ui-ended-linger", "0s"}, "--ui-ended-linger"},
		{[]string{"--ui-session-ttl", "0s"}, "--ui-session-ttl"},
		{[]string{"--ui-users", broken}, "users.json"},
	} {
		var stderr bytes.Buffer
		// --http on a free port: the default 8080 may be someone else's.
		args := append([]string{"ui", "--nats", srv.ClientURL(), "--data", dir, "--http", "127.0.0.1:0"}, tc.args...)
		code := run(context.Background(), args, stdio{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &stderr})
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestRunWithoutTranscription: earshot run --engine none tells the web
// view, whose call view then says why a call has no transcript.
func TestRunWithoutTranscription(t *testing.T) {
	p := newPipeline()
	p.asr.none = true
	p.started(p.asr)
	if !p.ui.noTranscription {
		t.Fatal("the web view was not told that nothing transcribes")
	}
}
