package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
)

// natsJetStreamLeak is the goroutine nats.go v1.55.0 leaves after an
// asynchronous publish (ObjectStore.Put, which capture's recorder uses): it
// waits on a nil channel for a reconnect that never comes. One per JetStream
// context, not per publish; not ours to close.
var natsJetStreamLeak = goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect")

// publishMsg publishes m in its envelope on subject and waits for
// JetStream to store it, as a stage would.
func publishMsg(t *testing.T, conn *bus.Conn, subject string, m msg.Message) {
	t.Helper()
	b, err := msg.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Publish(context.Background(), subject, b); err != nil {
		t.Fatal(err)
	}
}

// uiSession is a browser's login: its cookies and CSRF token.
type uiSession struct {
	cookies []*http.Cookie
	csrf    string
}

// uiLogin logs name in on the web view at base.
func uiLogin(t *testing.T, base, name, password string) uiSession {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"name": name, "password": password})
	resp, err := http.Post(base+"/api/ui/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var in struct{ CSRF string }
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s on %s: %s %v", name, base, resp.Status, err)
	}
	return uiSession{cookies: resp.Cookies(), csrf: in.CSRF}
}

func (s uiSession) do(t *testing.T, method, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("X-CSRF-Token", s.csrf)
	for _, c := range s.cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// me wants the session to be logged in on base.
func (s uiSession) me(t *testing.T, base string) {
	t.Helper()
	resp := s.do(t, http.MethodGet, base+"/api/ui/me")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the session on %s: %s, want logged in", base, resp.Status)
	}
}

// token makes an API token for name on base with the session.
func (s uiSession) token(t *testing.T, base, name string) string {
	t.Helper()
	resp := s.do(t, http.MethodPost, base+"/api/ui/users/"+name+"/tokens")
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("a token for %s on %s: %s %v", name, base, resp.Status, err)
	}
	return tok.Token
}
