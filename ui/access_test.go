package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// accessRecords are two finished calls in the store: one of agent ann (the
// agent test user), one of someone else.
func accessRecords() []msg.CallRecord {
	seg := func(call, text, orig string) msg.StoredSegment {
		return msg.StoredSegment{Segment: msg.Segment{ID: call + "/customer/1/0", CallID: call, Leg: msg.RoleCustomer, Turn: 1, StartMS: 1000, EndMS: 3000, Text: text}, Original: orig}
	}
	return []msg.CallRecord{
		{Call: msg.CallSummary{CallID: "own-1", Agent: "ann", Queue: "billing", StartedAt: time.Now().Add(-time.Hour)},
			Segments: []msg.StoredSegment{seg("own-1", "hello my card is [redacted]", "hello my card is 4111 1111")}},
		{Call: msg.CallSummary{CallID: "other-1", Agent: "bob", Queue: "sales", StartedAt: time.Now().Add(-time.Hour)},
			Segments: []msg.StoredSegment{seg("other-1", "hello there", "hello there")}},
	}
}

// liveCalls puts two live calls in ts: one of ann, one of bob.
func liveCalls(t *testing.T, ts *testServer) {
	for _, c := range []struct{ id, agent string }{{"live-own", "ann"}, {"live-other", "bob"}} {
		ts.inject(t, msg.SubjectCall(c.id), msg.CallEvent{CallID: c.id, Kind: msg.CallStarted, StartedAt: time.Now(), Agent: c.agent, Queue: "q"})
	}
}

const (
	none = Role("")
)

// TestAccess walks every endpoint with every role, with no login, with a
// wrong and a missing CSRF token, and with an API token.
func TestAccess(t *testing.T) {
	ts := startTestServer(t, Config{Recordings: recordCalls(t, "own-1", "other-1")}, accessRecords()...)
	liveCalls(t, ts)
	var n atomic.Int64
	uniq := func() string { return fmt.Sprintf("new-%d", n.Add(1)) }

	all := []Role{RoleAgent, RoleSupervisor, RoleAnalyst, RoleAdmin}
	board := []Role{RoleAgent, RoleSupervisor, RoleAdmin}
	notAgent := []Role{RoleSupervisor, RoleAnalyst, RoleAdmin}
	rules := []Role{RoleAnalyst, RoleAdmin}
	admin := []Role{RoleAdmin}

	type endpoint struct {
		method, path string
		body         func() any
		allowed      []Role // nil: open to anyone, logged in or not
		ok           int    // status when allowed
	}
	eps := []endpoint{
		{"GET", "/login", nil, nil, 200},
		{"GET", "/assets/app.js", nil, nil, 200},
		{"GET", "/assets/app.css", nil, nil, 200},
		{"GET", "/assets/%c0%ae%c0%ae/etc/passwd", nil, nil, 404}, // not UTF-8
		{"GET", "/assets/nope.js", nil, nil, 404},
		{"GET", "/", nil, board, 200},
		{"GET", "/calls/own-1", nil, all, 200},
		{"GET", "/search", nil, all, 200},
		{"GET", "/dashboard", nil, all, 200},
		{"GET", "/rules", nil, rules, 200},
		{"GET", "/forms", nil, rules, 200},
		{"GET", "/users", nil, admin, 200},
		{"GET", "/api/ui/nope", nil, all, 404},
		{"GET", "/api/ui/me", nil, all, 200},
		{"POST", "/api/ui/me/password", func() any { return map[string]string{"old": testPassword, "new": testPassword} }, all, 200},
		{"POST", "/api/ui/logout", func() any { return map[string]string{} }, all, 200},
		{"GET", "/api/ui/live", nil, board, 200},
		{"GET", "/api/ui/calls/own-1", nil, all, 200},
		{"GET", "/api/ui/calls/other-1", nil, notAgent, 200},
		{"GET", "/api/ui/calls/other-1?original=1", nil, admin, 200},
		{"GET", "/api/calls/own-1/recording", nil, all, 200},
		{"GET", "/api/calls/other-1/recording", nil, notAgent, 200},
		{"GET", "/api/calls/other-1/recording?original=1", nil, admin, 200},
		{"GET", "/api/ui/calls/live-own", nil, all, 200},
		{"GET", "/api/ui/calls/live-other", nil, notAgent, 200},
		{"GET", "/api/ui/calls/live-own/events", nil, all, 200},
		{"GET", "/api/ui/calls/live-other/events", nil, notAgent, 200},
		{"GET", "/api/ui/calls/live-other/events?original=1", nil, admin, 200},
		{"GET", "/api/ui/search?q=hello", nil, all, 200},
		{"GET", "/api/ui/dashboard", nil, all, 200},
		{"GET", "/api/ui/dashboard?format=csv&agent=bob", nil, all, 200},
		{"GET", "/api/ui/rules", nil, rules, 200},
		{"GET", "/api/ui/rules/history", nil, rules, 200},
		{"POST", "/api/ui/rules/check", func() any { return map[string]string{"text": "rule x"} }, rules, 200},
		{"POST", "/api/ui/rules/dryrun", func() any { return map[string]string{"text": "rule x"} }, rules, 200},
		{"POST", "/api/ui/rules/activate", func() any { return map[string]string{"text": "rule x"} }, rules, 200},
		{"GET", "/api/ui/forms", nil, rules, 200},
		{"POST", "/api/ui/forms", func() any { return map[string]string{"text": "form: qa"} }, rules, 201},
		{"GET", "/api/ui/forms/qa", nil, rules, 200},
		{"POST", "/api/ui/forms/check", func() any { return map[string]string{"text": "form: qa"} }, rules, 200},
		{"POST", "/api/ui/forms/rescore", func() any {
			return map[string]any{"form": "qa", "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "dry_run": true}
		}, rules, 200},
		{"GET", "/api/ui/calls/own-1/evaluations", nil, all, 200},
		{"GET", "/api/ui/calls/other-1/evaluations", nil, notAgent, 200},
		{"POST", "/api/ui/calls/own-1/evaluations/qa", func() any {
			return map[string]any{"changes": []map[string]string{{"question": "q", "value": "yes", "comment": "heard it"}}}
		}, rules, 200},
		{"POST", "/api/ui/calls/other-1/evaluations/qa", func() any {
			return map[string]any{"changes": []map[string]string{{"question": "q", "value": "yes", "comment": "heard it"}}}
		}, rules, 200},
		{"GET", "/api/ui/users", nil, admin, 200},
		{"POST", "/api/ui/users", func() any {
			return map[string]string{"name": uniq(), "password": testPassword, "role": "agent"}
		}, admin, 201},
		{"PUT", "/api/ui/users/ann", func() any { return map[string]string{"agent": "ann"} }, admin, 200},
		{"DELETE", "/api/ui/users/nobody", func() any { return map[string]string{} }, admin, 404},
		{"POST", "/api/ui/users/quinn/tokens", func() any { return map[string]string{} }, admin, 201},
		{"DELETE", "/api/ui/users/quinn/tokens/nope", func() any { return map[string]string{} }, admin, 404},
	}
	covered := map[string]bool{}
	for _, ep := range eps {
		covered[ep.method+" "+strings.SplitN(ep.path, "?", 2)[0]] = true
	}

	may := func(ep endpoint, r Role) bool {
		if ep.allowed == nil {
			return true
		}
		for _, x := range ep.allowed {
			if x == r {
				return true
			}
		}
		return false
	}
	page := func(ep endpoint) bool { return !strings.HasPrefix(ep.path, "/api/") }
	body := func(ep endpoint) any {
		if ep.body == nil {
			return nil
		}
		return ep.body()
	}

	for _, ep := range eps {
		for _, role := range append([]Role{none}, all...) {
			name := fmt.Sprintf("%s %s as %s", ep.method, ep.path, role)
			if role == none {
				name = fmt.Sprintf("%s %s without login", ep.method, ep.path)
			}
			t.Run(name, func(t *testing.T) {
				var c *client
				if role == none {
					c = ts.anonymous(t)
				} else {
					c = ts.login(t, testUsers[role])
				}
				resp, b := c.do(ep.method, ep.path, body(ep), nil)
				switch {
				case ep.allowed == nil:
					if resp.StatusCode != ep.ok {
						t.Fatalf("status %d, want %d (open): %s", resp.StatusCode, ep.ok, b)
					}
				case role == none && page(ep):
					if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
						t.Fatalf("status %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
					}
				case role == none:
					if resp.StatusCode != http.StatusUnauthorized {
						t.Fatalf("status %d, want 401: %s", resp.StatusCode, b)
					}
				case may(ep, role):
					if resp.StatusCode != ep.ok {
						t.Fatalf("status %d, want %d: %s", resp.StatusCode, ep.ok, b)
					}
				case page(ep):
					if resp.StatusCode != http.StatusSeeOther || strings.HasPrefix(resp.Header.Get("Location"), "/login") {
						t.Fatalf("status %d to %q, want 303 to the role's home", resp.StatusCode, resp.Header.Get("Location"))
					}
				default:
					if resp.StatusCode != http.StatusForbidden {
						t.Fatalf("status %d, want 403: %s", resp.StatusCode, b)
					}
				}
			})
		}
		if ep.method == "GET" || ep.allowed == nil {
			continue
		}
		// State-changing requests from a session need the CSRF token,
		// whatever the role.
		for _, role := range ep.allowed {
			for _, tok := range []string{"wrong", ""} {
				t.Run(fmt.Sprintf("%s %s as %s with CSRF %q", ep.method, ep.path, role, tok), func(t *testing.T) {
					c := ts.login(t, testUsers[role])
					c.csrf = ""
					hdr := map[string]string{}
					if tok != "" {
						hdr[csrfHeader] = tok
					}
					resp, b := c.do(ep.method, ep.path, body(ep), hdr)
					if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "CSRF") {
						t.Fatalf("status %d, want 403 for the CSRF token: %s", resp.StatusCode, b)
					}
				})
			}
		}
	}

	// API tokens stand for their user and need no CSRF token.
	for _, role := range all {
		t.Run("bearer "+string(role), func(t *testing.T) {
			tok, err := ts.NewToken(testUsers[role])
			if err != nil {
				t.Fatal(err)
			}
			c := ts.anonymous(t)
			for _, ep := range eps {
				if page(ep) || ep.allowed == nil || ep.path == "/api/ui/logout" {
					continue
				}
				resp, b := c.do(ep.method, ep.path, body(ep), map[string]string{"Authorization": "Bearer " + tok})
				want := http.StatusForbidden
				if may(ep, role) {
					want = ep.ok
				}
				if resp.StatusCode != want {
					t.Errorf("%s %s: status %d, want %d: %s", ep.method, ep.path, resp.StatusCode, want, b)
				}
			}
			resp, _ := c.do("GET", "/api/ui/me", nil, map[string]string{"Authorization": "Bearer " + tok + "x"})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("a wrong token: status %d, want 401", resp.StatusCode)
			}
		})
	}

	// Every route the server has is in the table.
	for _, r := range []string{
		"GET /login", "GET /", "GET /calls/own-1", "GET /search", "GET /dashboard", "GET /rules", "GET /forms", "GET /users",
		"POST /api/ui/logout", "GET /api/ui/me", "POST /api/ui/me/password", "GET /api/ui/live",
		"GET /api/ui/calls/own-1", "GET /api/ui/calls/live-own/events", "GET /api/ui/search", "GET /api/ui/dashboard",
		"GET /api/ui/calls/own-1", "GET /api/ui/calls/live-own/events", "GET /api/calls/own-1/recording", "GET /api/ui/search",
		"GET /api/ui/rules", "GET /api/ui/rules/history", "POST /api/ui/rules/check",
		"POST /api/ui/rules/dryrun", "POST /api/ui/rules/activate", "GET /api/ui/users",
		"POST /api/ui/users", "PUT /api/ui/users/ann", "DELETE /api/ui/users/nobody",
		"POST /api/ui/users/quinn/tokens", "DELETE /api/ui/users/quinn/tokens/nope",
		"GET /api/ui/forms", "POST /api/ui/forms", "GET /api/ui/forms/qa", "POST /api/ui/forms/check", "POST /api/ui/forms/rescore",
		"GET /api/ui/calls/own-1/evaluations", "POST /api/ui/calls/own-1/evaluations/qa",
	} {
		method, path, _ := strings.Cut(r, " ")
		if !covered[r] && !coveredPattern(covered, method, path) {
			t.Errorf("route %s is not in the access table", r)
		}
	}
}

// coveredPattern: a route with a path value counts as covered by any id.
func coveredPattern(covered map[string]bool, method, path string) bool {
	prefix := path[:strings.LastIndex(path, "/")+1]
	for k := range covered {
		m, p, _ := strings.Cut(k, " ")
		if m == method && strings.HasPrefix(p, prefix) && strings.Count(p, "/") == strings.Count(path, "/") {
			return true
		}
	}
	return false
}

// TestCSRFRefusedChangesNothing: a refused request did nothing.
func TestCSRFRefusedChangesNothing(t *testing.T) {
	ts := startTestServer(t, Config{})
	c := ts.login(t, "root")
	c.csrf = "forged"
	resp, _ := c.do("POST", "/api/ui/users", map[string]string{"name": "mallory", "password": testPassword, "role": "admin"}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	if _, err := ts.users.get(context.Background(), "mallory"); err == nil {
		t.Fatal("user created despite the wrong CSRF token")
	}
	if len(ts.rules.history) != 0 {
		t.Fatal("rules changed")
	}
}

func TestLoginRefusals(t *testing.T) {
	ts := startTestServer(t, Config{})
	c := ts.anonymous(t)
	for _, tc := range []struct {
		name string
		body any
		hdr  map[string]string
		want int
	}{
		{"wrong password", map[string]string{"name": "root", "password": "nope-nope-nope"}, nil, 401},
		{"unknown user", map[string]string{"name": "ghost", "password": testPassword}, nil, 401},
		{"cross-site", map[string]string{"name": "root", "password": testPassword}, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"form post", map[string]string{"name": "root", "password": testPassword}, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := c.do("POST", "/api/ui/login", tc.body, tc.hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if len(resp.Cookies()) != 0 {
				t.Fatal("a refused login set a cookie")
			}
		})
	}
	resp, _ := c.do("POST", "/api/ui/login", map[string]string{"name": "root", "password": testPassword}, nil)
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP", ck)
	}
}

func TestSecureCookies(t *testing.T) {
	ts := startTestServer(t, Config{SecureCookies: true})
	resp, _ := ts.anonymous(t).do("POST", "/api/ui/login", map[string]string{"name": "root", "password": testPassword}, nil)
	if ck := resp.Cookies(); len(ck) != 1 || !ck[0].Secure {
		t.Fatalf("cookie %+v: want Secure", ck)
	}
}

func TestLogoutEndsSession(t *testing.T) {
	ts := startTestServer(t, Config{})
	c := ts.login(t, "sue")
	if resp, _ := c.do("POST", "/api/ui/logout", map[string]string{}, nil); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	if resp, _ := c.do("GET", "/api/ui/me", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after logout: %d, want 401", resp.StatusCode)
	}
}

func TestRoleChangeEndsSessions(t *testing.T) {
	ts := startTestServer(t, Config{})
	sue := ts.login(t, "sue")
	root := ts.login(t, "root")
	if resp, b := root.do("PUT", "/api/ui/users/sue", map[string]string{"role": "agent"}, nil); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if resp, _ := sue.do("GET", "/api/ui/me", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old session after a role change: %d, want 401", resp.StatusCode)
	}
	if resp, b := root.do("DELETE", "/api/ui/users/admin", map[string]string{}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("deleting the first admin: %d %s", resp.StatusCode, b)
	}
	if resp, b := root.do("DELETE", "/api/ui/users/root", map[string]string{}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("deleting the last admin: %d %s, want 400", resp.StatusCode, b)
	}
}

// TestRequire: other stages' handlers behind the ui's login.
func TestRequire(t *testing.T) {
	ts := startTestServer(t, Config{})
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux := http.NewServeMux()
	mux.Handle("/x", ts.Require(inner, RoleAdmin, RoleSupervisor))
	mux.Handle("/", ts.Handler())
	ts.http.Config.Handler = mux
	for _, tc := range []struct {
		user   string
		method string
		want   int
	}{
		{"", "GET", 401}, {"ann", "GET", 403}, {"quinn", "GET", 403},
		{"sue", "GET", 418}, {"root", "GET", 418}, {"root", "POST", 418},
	} {
		var c *client
		if tc.user == "" {
			c = ts.anonymous(t)
		} else {
			c = ts.login(t, tc.user)
		}
		resp, _ := c.do(tc.method, "/x", map[string]string{}, nil)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.user, tc.method, resp.StatusCode, tc.want)
		}
		if tc.method == "POST" {
			resp, _ := c.do(tc.method, "/x", map[string]string{}, map[string]string{csrfHeader: "bad"})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s POST with a wrong CSRF token: %d, want 403", tc.user, resp.StatusCode)
			}
		}
	}
}

// TestAgentSearchIsOwnCalls: an agent's search is limited to their calls
// whatever agent filter they send.
func TestAgentSearchIsOwnCalls(t *testing.T) {
	ts := startTestServer(t, Config{}, accessRecords()...)
	c := ts.login(t, "ann")
	resp, b := c.do("GET", "/api/ui/search?q=hello&agent=bob", nil, nil)
	if resp.StatusCode != 200 || strings.Contains(string(b), "other-1") || !strings.Contains(string(b), "own-1") {
		t.Fatalf("%d %s: want only own-1", resp.StatusCode, b)
	}
	ts.store.mu.Lock()
	defer ts.store.mu.Unlock()
	if q := ts.store.queries[len(ts.store.queries)-1]; q.Agent != "ann" {
		t.Fatalf("store asked for agent %q, want ann", q.Agent)
	}
}

func TestChangeOwnPassword(t *testing.T) {
	ts := startTestServer(t, Config{})
	c := ts.login(t, "ann")
	for _, tc := range []struct {
		old, new string
		want     int
	}{
		{"wrong-password", "a-new-password", 403},
		{testPassword, "short", 400},
		{testPassword, "a-new-password", 200},
	} {
		if resp, b := c.do("POST", "/api/ui/me/password", map[string]string{"old": tc.old, "new": tc.new}, nil); resp.StatusCode != tc.want {
			t.Errorf("%s -> %s: %d %s, want %d", tc.old, tc.new, resp.StatusCode, b, tc.want)
		}
	}
	if _, err := ts.users.check(context.Background(), "ann", "a-new-password"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := ts.users.check(context.Background(), "ann", testPassword); err == nil {
		t.Fatal("old password still works")
	}
}

// TestLoginThrottled: wrong passwords in a row make the next attempts
// wait, even with the right password; other users are not affected.
func TestLoginThrottled(t *testing.T) {
	ts := startTestServer(t, Config{})
	c := ts.anonymous(t)
	for i := 0; i < freeFailures; i++ {
		if resp, _ := c.do("POST", "/api/ui/login", map[string]string{"name": "sue", "password": "guess-guess-guess"}, nil); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, b := c.do("POST", "/api/ui/login", map[string]string{"name": "sue", "password": testPassword}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d %s, want 429 with Retry-After", freeFailures, resp.StatusCode, b)
	}
	ts.login(t, "ann")

	var th throttle
	now := time.Now()
	// Each failure from its own address: only the name's count matters.
	from := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}) }
	for i := 0; i < freeFailures+3; i++ {
		th.failed("x", true, from(i), now)
	}
	if d := th.wait("x", from(0), now); d != 8*time.Second {
		t.Fatalf("after %d failures wait %s, want 8s", freeFailures+3, d)
	}
	if d := th.wait("x", from(0), now.Add(9*time.Second)); d != 0 {
		t.Fatalf("wait after the lockout %s", d)
	}
	for i := 0; i < 100; i++ {
		th.failed("x", true, from(i), now)
	}
	if d := th.wait("x", from(0), now); d != maxLockout {
		t.Fatalf("wait %s, want the cap %s", d, maxLockout)
	}
	th.succeeded("x", from(0))
	if d := th.wait("x", from(0), now); d != 0 {
		t.Fatalf("wait after success %s", d)
	}
}

// TestActivateEmptyRefused: an activation without rule text (a body of
// null or {}) is refused with the reason and changes nothing.
func TestActivateEmptyRefused(t *testing.T) {
	ts := startTestServer(t, Config{})
	c := ts.login(t, "quinn")
	for _, body := range []string{`null`, `{}`, `{"text": ""}`, `{"text": " \n "}`, `{"text": null}`} {
		resp, b := c.do("POST", "/api/ui/rules/activate", json.RawMessage(body), nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "empty") || !strings.Contains(string(b), "rules: []") {
			t.Errorf("activate %s: %d %s, want 400 saying the rule text is empty", body, resp.StatusCode, b)
		}
	}
	text, _, _ := ts.rules.Source(context.Background())
	if h, _ := ts.rules.History(context.Background()); string(text) != "rule greeting: agent says hello\n" || len(h) != 0 {
		t.Fatalf("a refused activation changed the rules: %q, history %+v", text, h)
	}
}

// TestFirstStartOnlyOnceServed: New writes no user and prints nothing (a
// start that fails later must not leave an admin whose password nobody
// saw); FirstStart creates the admin and prints the login at the URL it is
// given, unless Config.URL says otherwise.
func TestFirstStartOnlyOnceServed(t *testing.T) {
	for _, tc := range []struct{ cfgURL, served, want string }{
		{"", "http://127.0.0.1:9123", "log in at http://127.0.0.1:9123 as"},
		{"https://earshot.example", "http://127.0.0.1:9123", "log in at https://earshot.example as"},
	} {
		var out strings.Builder
		s, err := New(Config{BcryptCost: 4, Out: &out, URL: tc.cfgURL})
		if err != nil {
			t.Fatal(err)
		}
		if !s.users.empty() || out.Len() != 0 {
			t.Fatalf("New made a user or printed %q before the web view is served", out.String())
		}
		if err := s.FirstStart(tc.served); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("Config.URL %q, served at %s: printed %q, want %q", tc.cfgURL, tc.served, out.String(), tc.want)
		}
		if s.users.empty() {
			t.Error("no user after the first start")
		}
	}
}
