package ui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"golang.org/x/crypto/bcrypt"
)

// openTestAccounts opens the accounts on c's NATS, closed when t ends.
func openTestAccounts(t *testing.T, c *bus.Conn, cfg AccountsConfig) *Accounts {
	t.Helper()
	cfg.BcryptCost = bcrypt.MinCost
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := OpenAccounts(ctx, c.JS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// sharedServer is a ui process of its own (its own NATS connection and
// accounts) on srv's NATS.
func sharedServer(t *testing.T, srv *bus.Server) *testServer {
	t.Helper()
	return startTestServer(t, Config{Accounts: openTestAccounts(t, bustest.Connect(t, srv), AccountsConfig{})})
}

// on is c, with its cookies, sending its requests to ts.
func (c *client) on(ts *testServer) *client {
	o := *c
	o.base = ts.http.URL
	return &o
}

// eventually waits until cond holds, or fails saying what.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		<-tick.C
	}
}

// whoAmI is the name and role /api/ui/me answers c with, or the status.
func whoAmI(t *testing.T, c *client) (string, int) {
	t.Helper()
	resp, b := c.do("GET", "/api/ui/me", nil, nil)
	if resp.StatusCode != http.StatusOK {
		return "", resp.StatusCode
	}
	var me struct{ Name, Role string }
	if err := json.Unmarshal(b, &me); err != nil {
		t.Fatal(err)
	}
	return me.Name + "/" + me.Role, resp.StatusCode
}

// TestAccountsShared: two ui processes on one NATS serve the same users:
// a login on one is a login on the other; a role change, a deletion, a
// revoked token or a logout on one ends the sessions and open streams it
// should on the other too; a ui process started again finds the sessions.
func TestAccountsShared(t *testing.T) {
	srv, _ := bustest.Start(t)
	a, b := sharedServer(t, srv), sharedServer(t, srv)
	liveCalls(t, a)
	liveCalls(t, b)

	sueA := a.login(t, "sue")
	sueB := sueA.on(b)
	if who, code := whoAmI(t, sueB); who != "sue/supervisor" {
		t.Fatalf("a's session on b: %q (%d), want sue/supervisor", who, code)
	}
	rootA := a.login(t, "root")
	if resp, body := rootA.do("POST", "/api/ui/users", map[string]string{"name": "sam", "password": testPassword, "role": "supervisor"}, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create sam on a: %d %s", resp.StatusCode, body)
	}
	samB := b.login(t, "sam") // made on a a moment ago
	resp, body := rootA.do("POST", "/api/ui/users/quinn/tokens", map[string]string{}, nil)
	var tok struct{ ID, Token string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("token for quinn on a: %d %s", resp.StatusCode, body)
	}
	quinnB := b.withToken(t, tok.Token)
	eventually(t, "a's new token taken on b", func() bool { _, code := whoAmI(t, quinnB); return code == http.StatusOK })
	annA := a.login(t, "ann")

	revoked := map[string]<-chan sseEvent{
		"demoted sue's board on b":  sueB.opened(t, "/api/ui/live"),
		"deleted sam's board on b":  samB.opened(t, "/api/ui/live"),
		"revoked token's call on b": quinnB.opened(t, "/api/ui/calls/live-other/events"),
		"logged-out ann's board":    annA.on(b).opened(t, "/api/ui/live"),
	}
	others := rootA.on(b).opened(t, "/api/ui/live")

	for _, step := range []struct{ method, path string }{
		{"PUT", "/api/ui/users/sue"}, {"DELETE", "/api/ui/users/sam"},
		{"DELETE", "/api/ui/users/quinn/tokens/" + tok.ID},
	} {
		body := map[string]string{}
		if step.method == "PUT" {
			body["role"] = "agent"
		}
		if resp, b := rootA.do(step.method, step.path, body, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s on a: %d %s", step.method, step.path, resp.StatusCode, b)
		}
	}
	if resp, b := annA.do("POST", "/api/ui/logout", map[string]string{}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("ann's logout on a: %d %s", resp.StatusCode, b)
	}
	// b learns of the changes through its watch of the buckets, a moment
	// after a made them: the streams end then. A call that starts after
	// they ended reaches the admin's board on b, and none of theirs.
	const after = "after-change"
	for name, evs := range revoked {
		endsWithout(t, name, evs, after)
	}
	b.inject(t, msg.SubjectCall(after), msg.CallEvent{CallID: after, Kind: msg.CallStarted, StartedAt: time.Now(), Agent: "bob", Queue: "q"})
	if ev := next(t, others, "row", within); !strings.Contains(ev.data, after) {
		t.Fatalf("the admin's board on b: row %s, want %s", ev.data, after)
	}
	for name, c := range map[string]*client{"sue's old session": sueB, "sam's session": samB, "the revoked token": quinnB, "ann's logged-out session": annA.on(b)} {
		if who, code := whoAmI(t, c); code != http.StatusUnauthorized {
			t.Errorf("%s on b after the change on a: %q %d, want 401", name, who, code)
		}
	}
	sueB = b.login(t, "sue")
	if who, _ := whoAmI(t, sueB); who != "sue/agent" {
		t.Errorf("sue logged in on b after a demoted her: %q, want sue/agent", who)
	}
	if u, err := b.users.get(context.Background(), "sue"); err != nil || u.Role != RoleAgent {
		t.Errorf("b's copy of sue: %+v %v, want role agent", u, err)
	}

	// A ui process started again (a third, like b restarted) finds the
	// logins made before.
	c := sharedServer(t, srv)
	if who, code := whoAmI(t, sueB.on(c)); who != "sue/agent" {
		t.Errorf("sue's session on a ui started later: %q (%d)", who, code)
	}
	if who, code := whoAmI(t, rootA.on(c)); who != "root/admin" {
		t.Errorf("root's session on a ui started later: %q (%d)", who, code)
	}
}

// TestAccountsKeepNoSecret: what the buckets hold logs nobody in: no
// password, token or session cookie in plain.
func TestAccountsKeepNoSecret(t *testing.T) {
	srv, conn := bustest.Start(t)
	ts := sharedServer(t, srv)
	tok, err := ts.NewToken("sue")
	if err != nil {
		t.Fatal(err)
	}
	c := ts.login(t, "sue")
	u, err := neturl.Parse(ts.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	var cookie string
	for _, k := range c.hc.Jar.Cookies(u) {
		if k.Name == sessionCookie {
			cookie = k.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	ctx := context.Background()
	for _, bucket := range []string{UsersBucket, SessionsBucket} {
		kv, err := conn.JS.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := kv.Keys(ctx)
		if err != nil || len(keys) == 0 {
			t.Fatalf("%s: keys %v %v", bucket, keys, err)
		}
		for _, k := range keys {
			e, err := kv.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			for what, secret := range map[string]string{"password": testPassword, "token": tok, "session cookie": cookie} {
				if strings.Contains(k+string(e.Value()), secret) {
					t.Errorf("%s key %s holds a %s in plain", bucket, k, what)
				}
			}
		}
	}
}

// TestAccountsImportFile: the users file of an earlier earshot is added to
// the bucket once, at start, and renamed; a name the bucket has is kept.
func TestAccountsImportFile(t *testing.T) {
	srv, _ := bustest.Start(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	path := filepath.Join(t.TempDir(), "ui-users.json")
	f := userFile{Users: []*User{
		{Name: "old-admin", Role: RoleAdmin, Hash: string(hash), Tokens: []Token{{ID: "t1", SHA256: strings.Repeat("ab", 32)}}},
		{Name: "kim@example.com", Role: RoleAgent, Agent: "kim", Hash: string(hash)},
	}}
	b, _ := json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// A user of one of the file's names is in the bucket already.
	first := openTestAccounts(t, bustest.Connect(t, srv), AccountsConfig{})
	if err := first.users.add(context.Background(), "kim@example.com", "another-password", RoleSupervisor, ""); err != nil {
		t.Fatal(err)
	}
	a := openTestAccounts(t, bustest.Connect(t, srv), AccountsConfig{ImportFile: path})
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the users file is still there after the import: %v", err)
	}
	if _, err := os.Stat(path + ".imported"); err != nil {
		t.Errorf("the users file was not renamed: %v", err)
	}
	ctx := context.Background()
	u, err := a.users.check(ctx, "old-admin", testPassword)
	if err != nil || u.Role != RoleAdmin || len(u.Tokens) != 1 {
		t.Errorf("imported admin: %+v %v", u, err)
	}
	if u, err := a.users.get(ctx, "kim@example.com"); err != nil || u.Role != RoleSupervisor {
		t.Errorf("a user the bucket had: %+v %v, want kept as the bucket had it (supervisor)", u, err)
	}
	eventually(t, "the import seen by another process", func() bool { return first.users.has(ctx, "old-admin") })

	// A broken file is refused with its name, and nothing is imported.
	bad := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(bad, []byte(`{"users": [{"name": "x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenAccounts(ctx, bustest.Connect(t, srv).JS, AccountsConfig{ImportFile: bad})
	if !errors.Is(err, ErrBadUser) || !strings.Contains(err.Error(), bad) {
		t.Errorf("broken users file: %v, want ErrBadUser naming it", err)
	}
}

// TestResetPassword: an operator who lost the admin's password gets a new
// one (from another process, as earshot users reset-password); the old one
// stops working and the admin's sessions end everywhere; the role and API
// tokens stay.
func TestResetPassword(t *testing.T) {
	srv, _ := bustest.Start(t)
	ts := sharedServer(t, srv)
	tok, err := ts.NewToken("root")
	if err != nil {
		t.Fatal(err)
	}
	root := ts.login(t, "root")
	op := openTestAccounts(t, bustest.Connect(t, srv), AccountsConfig{})
	ctx := context.Background()
	pw, err := op.ResetPassword(ctx, "root", false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new password taken by the web view", func() bool {
		_, err := ts.users.check(ctx, "root", pw)
		return err == nil
	})
	if _, err := ts.users.check(ctx, "root", testPassword); err == nil {
		t.Error("the old password still works")
	}
	if _, code := whoAmI(t, root); code != http.StatusUnauthorized {
		t.Errorf("root's session after the reset: %d, want 401", code)
	}
	if u, _, ok := ts.users.byToken(tok); !ok || u.Role != RoleAdmin {
		t.Errorf("after the reset: token %v, role %q", ok, u.Role)
	}
	if _, err := op.ResetPassword(ctx, "nobody", false); !errors.Is(err, ErrNoUser) || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("unknown user: %v", err)
	}

	// Users left without an admin (a bucket restored from an old backup,
	// say): the operator makes one again.
	for _, name := range []string{"root", "admin"} { // admin: FirstStart's
		if err := op.users.change(ctx, name, func(u *User) error { u.Role = RoleAgent; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the web view left without an admin", func() bool {
		ts.users.mu.Lock()
		defer ts.users.mu.Unlock()
		return ts.users.admins() == 0
	})
	pw, err = op.ResetPassword(ctx, "sue", true)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "sue an admin on the web view", func() bool {
		u, err := ts.users.check(ctx, "sue", pw)
		return err == nil && u.Role == RoleAdmin
	})
}

// TestAccountsConcurrentChange: a process whose copy of a user is behind
// another's change does not undo it: its write is refused, it reads the
// user again and makes its change on that.
func TestAccountsConcurrentChange(t *testing.T) {
	srv, conn := bustest.Start(t)
	a := openTestAccounts(t, conn, AccountsConfig{})
	ctx := context.Background()
	if err := a.users.add(ctx, "sue", testPassword, RoleSupervisor, ""); err != nil {
		t.Fatal(err)
	}
	// behind reads the bucket but does not watch it: its copy stays old.
	kv, err := bustest.Connect(t, srv).JS.KeyValue(ctx, UsersBucket)
	if err != nil {
		t.Fatal(err)
	}
	behind, err := newUserDB(kv, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := behind.get(ctx, "sue"); err != nil {
		t.Fatal(err)
	}
	if err := a.users.setLanguage(ctx, "sue", "ko"); err != nil {
		t.Fatal(err)
	}
	agent := "sue-agent"
	if err := behind.update(ctx, "sue", "", &agent, "", false); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, userKey("sue"))
	if err != nil {
		t.Fatal(err)
	}
	if u, err := decodeUser(e.Value()); err != nil || u.Language != "ko" || u.Agent != agent {
		t.Errorf("the bucket has %+v %v, want both changes", u, err)
	}
	eventually(t, "both changes seen by a", func() bool {
		u, err := a.users.get(ctx, "sue")
		return err == nil && u.Language == "ko" && u.Agent == agent
	})
}

// TestBrowserSharedAccounts: in headless Chromium, a login on one ui is a
// login on another (the cookie is the host's, whatever the port); a user
// the admin creates on one is there on the other; a ui started later
// knows the login.
func TestBrowserSharedAccounts(t *testing.T) {
	ctx := browser(t)
	srv, _ := bustest.Start(t)
	a, b := sharedServer(t, srv), sharedServer(t, srv)
	do(t, ctx, "open the login page on a", chromedp.Navigate(a.http.URL+"/login?next=/users"), chromedp.WaitVisible("#name"))
	screenshot(t, ctx, "shared-login")
	do(t, ctx, "log in on a",
		chromedp.SendKeys("#name", "root"),
		chromedp.SendKeys("#password", testPassword),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#create"),
	)
	do(t, ctx, "the users page on b", chromedp.Navigate(b.http.URL+"/users"))
	waitFor(t, ctx, "b's users page, logged in", `location.pathname === '/users' && document.querySelector('tr[data-user="sue"]') !== null`)
	do(t, ctx, "create a user on b",
		chromedp.SendKeys("#new-name", "dana"),
		chromedp.SetValue("#new-role", "analyst"),
		chromedp.SendKeys("#new-password", "dana-password-1"),
		chromedp.Click(`#create button[type=submit]`),
	)
	waitFor(t, ctx, "the new user on b", `document.querySelector('tr[data-user="dana"]') !== null`)
	eventually(t, "dana on a", func() bool { _, err := a.users.get(context.Background(), "dana"); return err == nil })
	c := sharedServer(t, srv)
	do(t, ctx, "the users page on a ui started later", chromedp.Navigate(c.http.URL+"/users"))
	waitFor(t, ctx, "c's users page, logged in, with dana", `location.pathname === '/users' && document.querySelector('tr[data-user="dana"] select')?.value === 'analyst'`)
	screenshot(t, ctx, "shared-users")
}

// FuzzUsersBucket: whatever a users bucket key or value holds (anything
// with NATS access may write one), it is a user with a valid name, role and
// hash, or refused; a valid name's key gives the name back.
func FuzzUsersBucket(f *testing.F) {
	f.Add("616e6e", []byte(`{"name":"ann","role":"agent","hash":"$2a$04$abc","gen":"g"}`))
	f.Add("zz", []byte(`{"name":"x","role":"root","hash":""}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		if u, err := decodeUser(value); err == nil {
			if validName(u.Name) != nil || !u.Role.Valid() || u.Hash == "" {
				t.Fatalf("taken: %+v", u)
			}
			if name, ok := keyUser(userKey(u.Name)); !ok || name != u.Name {
				t.Fatalf("key of %q gives %q %v", u.Name, name, ok)
			}
		}
		if name, ok := keyUser(key); ok && (validName(name) != nil || userKey(name) != strings.ToLower(key)) {
			t.Fatalf("key %q taken as %q", key, name)
		}
	})
}

// wrongPasswords logs name in n times on ts with a wrong password, each
// refused as such.
func wrongPasswords(t *testing.T, ts *testServer, name string, n int) {
	t.Helper()
	wrong := map[string]string{"name": name, "password": "not " + testPassword}
	for range n {
		if resp, body := ts.anonymous(t).do("POST", "/api/ui/login", wrong, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password for %s: %d %s", name, resp.StatusCode, body)
		}
	}
}

// TestLoginThrottleShared: wrong passwords on one ui process count on the
// others, so that behind two an attacker gets no more attempts than behind
// one: after the free ones on a, b refuses the next attempt; a right
// password on b once the lockout is over clears the name on a too.
func TestLoginThrottleShared(t *testing.T) {
	srv, _ := bustest.Start(t)
	a, b := sharedServer(t, srv), sharedServer(t, srv)
	wrongPasswords(t, a, "sue", freeFailures)
	local := netip.MustParseAddr("127.0.0.1")
	eventually(t, "b throttles sue after her wrong passwords on a", func() bool { return b.throttle.wait("sue", local, time.Now()) > 0 })
	right := map[string]string{"name": "sue", "password": testPassword}
	if resp, body := b.anonymous(t).do("POST", "/api/ui/login", right, nil); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("sue's next attempt, on b: %d %s, want 429 with Retry-After", resp.StatusCode, body)
	}
	eventually(t, "sue's lockout over on b", func() bool { return b.throttle.wait("sue", local, time.Now()) == 0 })
	b.login(t, "sue")
	counted := func(ts *testServer) bool {
		ts.throttle.mu.Lock()
		defer ts.throttle.mu.Unlock()
		_, ok := ts.throttle.accounts.m[nameKey("sue")]
		return ok
	}
	eventually(t, "sue's failures forgotten on a after her login on b", func() bool { return !counted(a) })
}

// FuzzLoginOutcome: whatever a message on LoginSubject holds (anything
// with NATS access may publish one), it is an outcome with an origin and
// both hashes, or refused.
func FuzzLoginOutcome(f *testing.F) {
	o := loginOutcome{Origin: "0a1b", Name: nameKey("sue"), Addr: addrKey(netip.MustParseAddr("10.0.0.1")), Known: true}
	b, _ := json.Marshal(o)
	f.Add(b)
	f.Add([]byte(`{"origin":"x","name":"00","addr":"zz"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeLoginOutcome(b)
		if err != nil {
			return
		}
		if o.Origin == "" || o.Name == (throttleKey{}) || o.Addr == (throttleKey{}) {
			t.Fatalf("taken: %+v", o)
		}
		again, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := decodeLoginOutcome(again); err != nil || back != o {
			t.Fatalf("%+v round-trips to %+v, %v", o, back, err)
		}
	})
}

// TestLastAdminAcrossProcesses: two admins demote each other at the same
// instant, each on its own ui process; each process's copy still shows
// the other admin, so each alone would allow it. However the two
// interleave, the users keep an admin: a demotion that left none is
// taken back and refused.
func TestLastAdminAcrossProcesses(t *testing.T) {
	srv, _ := bustest.Start(t)
	a := openTestAccounts(t, bustest.Connect(t, srv), AccountsConfig{})
	b := openTestAccounts(t, bustest.Connect(t, srv), AccountsConfig{})
	ctx := context.Background()
	for _, n := range []string{"x", "y"} {
		if err := a.users.add(ctx, n, testPassword, RoleAdmin, ""); err != nil {
			t.Fatal(err)
		}
	}
	admins := func(acc *Accounts) int {
		acc.users.mu.Lock()
		defer acc.users.mu.Unlock()
		return acc.users.admins()
	}
	role := func(acc *Accounts, name string) Role {
		acc.users.mu.Lock()
		defer acc.users.mu.Unlock()
		return acc.users.users[name].Role
	}
	refused := 0
	for round := range 20 {
		eventually(t, "both processes see two admins", func() bool { return admins(a) == 2 && admins(b) == 2 })
		start := make(chan struct{})
		errs := make(chan error, 2)
		go func() { <-start; errs <- a.users.update(ctx, "y", RoleAgent, nil, "", false) }()
		go func() { <-start; errs <- b.users.update(ctx, "x", RoleAgent, nil, "", false) }()
		close(start)
		for range 2 {
			if err := <-errs; errors.Is(err, errLastAdmin) {
				refused++
			} else if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		eventually(t, "both processes agree", func() bool {
			return admins(a) == admins(b) && role(a, "x") == role(b, "x") && role(a, "y") == role(b, "y")
		})
		if n := admins(a); n == 0 {
			t.Fatalf("round %d: no admin left", round)
		}
		for _, n := range []string{"x", "y"} {
			if err := a.users.update(ctx, n, RoleAdmin, nil, "", false); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("20 rounds: %d demotions refused", refused)

	// The same with deletions: an admin deleted and taken back is back,
	// with its sessions ended.
	for round := range 5 {
		eventually(t, "both processes see two admins", func() bool { return admins(a) == 2 && admins(b) == 2 })
		start := make(chan struct{})
		errs := make(chan error, 2)
		go func() { <-start; errs <- a.users.remove(ctx, "y") }()
		go func() { <-start; errs <- b.users.remove(ctx, "x") }()
		close(start)
		for range 2 {
			if err := <-errs; err != nil && !errors.Is(err, errLastAdmin) {
				t.Fatalf("deletion round %d: %v", round, err)
			}
		}
		eventually(t, "both processes agree", func() bool { return admins(a) == admins(b) && a.users.has(ctx, "x") == b.users.has(ctx, "x") })
		if n := admins(a); n == 0 {
			t.Fatalf("deletion round %d: no admin left", round)
		}
		for _, n := range []string{"x", "y"} {
			if !a.users.has(ctx, n) {
				if err := a.users.add(ctx, n, testPassword, RoleAdmin, ""); err != nil && !errors.Is(err, ErrUserExists) {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestBrowserSharedThrottleAndLastAdmin: in headless Chromium, in English
// and Korean, the login page of one ui refuses a user whose wrong
// passwords were counted on another, with the wait; the users page
// refuses to demote the last admin.
func TestBrowserSharedThrottleAndLastAdmin(t *testing.T) {
	ctx := browser(t)
	srv, _ := bustest.Start(t)
	a, b := sharedServer(t, srv), sharedServer(t, srv)
	wrongPasswords(t, a, "sue", freeFailures)
	// Further wrong passwords, counted on a as its login handler counts
	// them, so that the lockout outlasts the browser's steps (it doubles
	// from 1 s with each).
	local := netip.MustParseAddr("127.0.0.1")
	for range 7 {
		a.accounts.tellLogin(a.throttle.failed("sue", true, local, time.Now()))
	}
	eventually(t, "b throttles sue for a minute or more", func() bool { return b.throttle.wait("sue", local, time.Now()) > time.Minute })
	for _, lang := range []struct{ accept, shot, want string }{
		{"en-US,en;q=0.9", "shared-login-throttled", "Too many wrong passwords"},
		{"ko-KR,ko;q=0.9", "ko-shared-login-throttled", "비밀번호를 너무 많이 틀렸습니다"},
	} {
		do(t, ctx, "a browser in "+lang.accept, setAcceptLanguage(lang.accept))
		do(t, ctx, "sue logs in on b with her right password",
			chromedp.Navigate(b.http.URL+"/login"), chromedp.WaitVisible("#name"),
			chromedp.SendKeys("#name", "sue"), chromedp.SendKeys("#password", testPassword),
			chromedp.Click("#login-submit"))
		waitFor(t, ctx, "the throttle's message on b", `document.querySelector('#error').textContent.includes(`+jsString(lang.want)+`)`)
		fullShot(t, ctx, lang.shot)
	}

	if err := a.users.update(context.Background(), "admin", RoleAgent, nil, "", false); err != nil { // FirstStart's admin
		t.Fatal(err)
	}
	eventually(t, "root the only admin on b", func() bool {
		b.users.mu.Lock()
		defer b.users.mu.Unlock()
		return b.users.admins() == 1
	})
	for _, lang := range []struct{ accept, shot, want string }{
		{"en-US,en;q=0.9", "shared-users-last-admin", "This is the last admin"},
		{"ko-KR,ko;q=0.9", "ko-shared-users-last-admin", "마지막 관리자입니다"},
	} {
		do(t, ctx, "a browser in "+lang.accept, setAcceptLanguage(lang.accept))
		browserLogin(t, ctx, b.http.URL, "root", "/users")
		waitFor(t, ctx, "b's users page", `document.querySelector('tr[data-user="root"] select.role') !== null`)
		do(t, ctx, "root demotes themself", chromedp.SetValue(`tr[data-user="root"] select.role`, "agent"),
			chromedp.Click(`tr[data-user="root"] button.plain`))
		waitFor(t, ctx, "the last admin's refusal", `document.querySelector('#status').textContent.includes(`+jsString(lang.want)+`)`)
		fullShot(t, ctx, lang.shot)
		do(t, ctx, "log out", chromedp.Click("#logout"), chromedp.WaitVisible("#name"))
	}
	if u, err := b.users.get(context.Background(), "root"); err != nil || u.Role != RoleAdmin {
		t.Fatalf("root after the refusals: %+v, %v", u, err)
	}
}
