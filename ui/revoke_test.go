package ui

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// bearerTransport sends an API token with every request.
type bearerTransport string

func (tok bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(tok))
	return http.DefaultTransport.RoundTrip(r)
}

// withToken is a client that authenticates with an API token.
func (ts *testServer) withToken(t testing.TB, tok string) *client {
	c := ts.anonymous(t)
	c.hc.Transport = bearerTransport(tok)
	return c
}

// opened opens an event stream, ended when t ends, and waits for its
// snapshot.
func (c *client) opened(t *testing.T, path string) <-chan sseEvent {
	t.Helper()
	evs, stop := c.events(path)
	t.Cleanup(stop)
	next(t, evs, "snapshot", within)
	return evs
}

// endsWithout waits for evs to end, failing if an event about call comes
// first or it stays open.
func endsWithout(t *testing.T, name string, evs <-chan sseEvent, call string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				return
			}
			if strings.Contains(ev.data, call) {
				t.Fatalf("%s: still open, it got %s %s", name, ev.kind, ev.data)
			}
		case <-deadline:
			t.Fatalf("%s: still open 5 s after the revocation", name)
		}
	}
}

// TestRevocationEndsStreams: deleting a user ends their sessions, API
// tokens and open event streams at once; demoting one ends their streams
// and sessions, and they come back with the new role's rights only.
func TestRevocationEndsStreams(t *testing.T) {
	ts := startTestServer(t, Config{})
	liveCalls(t, ts)
	if err := ts.AddUser("sam", testPassword, RoleSupervisor, ""); err != nil {
		t.Fatal(err)
	}
	tok, err := ts.NewToken("sam")
	if err != nil {
		t.Fatal(err)
	}
	sam, sue, root := ts.login(t, "sam"), ts.login(t, "sue"), ts.login(t, "root")
	revoked := map[string]<-chan sseEvent{
		"deleted user's board":          sam.opened(t, "/api/ui/live"),
		"deleted user's board by token": ts.withToken(t, tok).opened(t, "/api/ui/live"),
		"deleted user's call view":      sam.opened(t, "/api/ui/calls/live-other/events"),
		"demoted user's board":          sue.opened(t, "/api/ui/live"),
		"demoted user's call view":      sue.opened(t, "/api/ui/calls/live-other/events"),
	}
	others := root.opened(t, "/api/ui/live")

	if resp, b := root.do("DELETE", "/api/ui/users/sam", map[string]string{}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("delete sam: %d %s", resp.StatusCode, b)
	}
	if resp, b := root.do("PUT", "/api/ui/users/sue", map[string]string{"role": "agent"}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("demote sue: %d %s", resp.StatusCode, b)
	}
	const after = "after-change"
	ts.inject(t, msg.SubjectCall(after), msg.CallEvent{CallID: after, Kind: msg.CallStarted, StartedAt: time.Now(), Agent: "bob", Queue: "q"})
	if ev := next(t, others, "row", within); !strings.Contains(ev.data, after) {
		t.Fatalf("the admin's board: row %s, want %s", ev.data, after)
	}
	for name, evs := range revoked {
		endsWithout(t, name, evs, after)
	}

	for name, c := range map[string]*client{"sam's session": sam, "sam's token": ts.withToken(t, tok), "sue's old session": sue} {
		if resp, _ := c.do("GET", "/api/ui/me", nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s after the revocation: %d, want 401", name, resp.StatusCode)
		}
	}
	sue = ts.login(t, "sue")
	if resp, _ := sue.do("GET", "/api/ui/calls/live-other/events", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("demoted sue on another agent's call: %d, want 403", resp.StatusCode)
	}
	if resp, _ := sue.do("GET", "/api/ui/live", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("demoted sue's board: %d, want 200", resp.StatusCode)
	}
}

// TestTokenRevocationEndsItsStreams: revoking an API token, or logging
// out, ends the streams opened with it, not the user's others.
func TestTokenRevocationEndsItsStreams(t *testing.T) {
	ts := startTestServer(t, Config{})
	tok, err := ts.NewToken("sue")
	if err != nil {
		t.Fatal(err)
	}
	u, err := ts.users.get(context.Background(), "sue")
	if err != nil || len(u.Tokens) != 1 {
		t.Fatalf("sue's tokens: %+v %v", u.Tokens, err)
	}
	byToken := ts.withToken(t, tok).opened(t, "/api/ui/live")
	first := ts.login(t, "sue")
	byFirst := first.opened(t, "/api/ui/live")
	bySession := ts.login(t, "sue").opened(t, "/api/ui/live")

	root := ts.login(t, "root")
	if resp, b := root.do("DELETE", "/api/ui/users/sue/tokens/"+u.Tokens[0].ID, map[string]string{}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	if resp, b := first.do("POST", "/api/ui/logout", map[string]string{}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d %s", resp.StatusCode, b)
	}
	const after = "after-revoke"
	ts.inject(t, msg.SubjectCall(after), msg.CallEvent{CallID: after, Kind: msg.CallStarted, StartedAt: time.Now(), Agent: "bob", Queue: "q"})
	if ev := next(t, bySession, "row", within); !strings.Contains(ev.data, after) {
		t.Fatalf("the session's stream: row %s, want %s", ev.data, after)
	}
	endsWithout(t, "the revoked token's stream", byToken, after)
	endsWithout(t, "the logged-out session's stream", byFirst, after)
}
