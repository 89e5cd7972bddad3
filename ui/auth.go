package ui

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// sessionCookie names the browser session cookie.
const sessionCookie = "earshot_session"

// csrfHeader carries a session's CSRF token on state-changing requests.
const csrfHeader = "X-CSRF-Token"

// perm is one thing a role may do.
type perm int

const (
	permBoard    perm = iota // the live board
	permCall                 // a call view (agents: their own)
	permSearch               // search (agents: their own calls)
	permRules                // read, check, dry-run and activate rules
	permUsers                // manage users and tokens
	permOriginal             // unredacted text
	permDash                 // dashboards (agents: their own)
	permForms                // read, check, save evaluation forms and re-score calls
	permAnswers              // change the answers of a call's evaluation
)

var rolePerms = map[Role][]perm{
	RoleAgent:      {permBoard, permCall, permSearch, permDash},
	RoleSupervisor: {permBoard, permCall, permSearch, permDash},
	RoleAnalyst:    {permCall, permSearch, permRules, permDash, permForms, permAnswers},
	RoleAdmin:      {permBoard, permCall, permSearch, permRules, permUsers, permOriginal, permDash, permForms, permAnswers},
}

func (r Role) can(p perm) bool {
	for _, x := range rolePerms[r] {
		if x == p {
			return true
		}
	}
	return false
}

// session is one browser login. It is kept under the SHA-256 of its ID
// (the cookie), so what the sessions bucket holds logs nobody in.
type session struct {
	User    string    `json:"user"`
	Gen     string    `json:"gen"` // the user's generation it was made under
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
}

// sessions keeps logins: in memory only, or in a NATS KV bucket every ui
// process shares (kv set), whose age limit drops them when they expire.
type sessions struct {
	ttl time.Duration
	kv  jetstream.KeyValue // nil: in memory only
	mu  sync.Mutex         // guards m
	m   map[string]session // by key, when in memory
}

// sessionKey is where the session with cookie id is kept.
func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func (s *sessions) create(ctx context.Context, u User) (id string, sess session, err error) {
	id = randomString(32)
	sess = session{User: u.Name, Gen: u.Gen, CSRF: randomString(24), Expires: time.Now().Add(s.ttl)}
	if s.kv != nil {
		b, err := json.Marshal(sess)
		if err != nil {
			return "", session{}, err
		}
		if _, err := s.kv.Create(ctx, sessionKey(id), b); err != nil {
			return "", session{}, fmt.Errorf("ui: sessions bucket: %w", err)
		}
		return id, sess, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, v := range s.m { // drop expired ones as we go; logins are rare
		if now.After(v.Expires) {
			delete(s.m, k)
		}
	}
	s.m[sessionKey(id)] = sess
	return id, sess, nil
}

// get returns the session kept under key, if it has not expired.
func (s *sessions) get(ctx context.Context, key string) (session, bool) {
	var sess session
	if s.kv != nil {
		e, err := s.kv.Get(ctx, key)
		if err != nil || json.Unmarshal(e.Value(), &sess) != nil {
			return session{}, false
		}
	} else {
		s.mu.Lock()
		v, ok := s.m[key]
		s.mu.Unlock()
		if !ok {
			return session{}, false
		}
		sess = v
	}
	return sess, time.Now().Before(sess.Expires)
}

func (s *sessions) drop(ctx context.Context, key string) error {
	if s.kv != nil {
		if err := s.kv.Delete(ctx, key); err != nil {
			return fmt.Errorf("ui: sessions bucket: %w", err)
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// principal is who made a request, and how.
type principal struct {
	User
	csrf   string // the session's; empty for bearer tokens
	bearer bool
	cred   string // the session's key, or the API token's ID when bearer
}

type principalKey struct{}

func principalOf(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p, ok
}

// authenticate finds who made r, from a bearer token or a session cookie.
func (s *Server) authenticate(r *http.Request) (principal, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return principal{}, false
		}
		u, id, ok := s.users.byToken(strings.TrimSpace(tok))
		if !ok {
			return principal{}, false
		}
		return principal{User: u, bearer: true, cred: id}, true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return principal{}, false
	}
	key := sessionKey(c.Value)
	u, sess, ok := s.session(r.Context(), key)
	if !ok {
		return principal{}, false
	}
	return principal{User: u, csrf: sess.CSRF, cred: key}, true
}

// session returns the session kept under key and its user, if it stands:
// not expired, and made under the user's generation. A generation the copy
// of the users kept here does not know may be one another process made a
// moment ago: the user is read again before the session is refused.
func (s *Server) session(ctx context.Context, key string) (User, session, bool) {
	sess, ok := s.sessions.get(ctx, key)
	if !ok {
		return User{}, session{}, false
	}
	u, err := s.users.get(ctx, sess.User)
	if err == nil && u.Gen != sess.Gen {
		u, err = s.users.fresh(ctx, sess.User)
	}
	if err != nil || u.Gen != sess.Gen {
		return User{}, session{}, false
	}
	return u, sess, true
}

// safeMethod: requests that change nothing and need no CSRF token.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// guard lets a request through when someone is logged in, holds a role
// for which allowed returns true, and (for sessions) a state-changing
// request carries the session's CSRF token. Pages redirect to /login; the
// API answers 401 or 403.
func (s *Server) guard(page bool, allowed func(Role) bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.authenticate(r)
		if !ok {
			if page {
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="earshot"`)
			writeError(w, http.StatusUnauthorized, "log in first (a session cookie or Authorization: Bearer TOKEN)")
			return
		}
		if !safeMethod(r.Method) && !p.bearer {
			got := r.Header.Get(csrfHeader)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.csrf)) != 1 {
				writeError(w, http.StatusForbidden, "missing or wrong "+csrfHeader+" header")
				return
			}
		}
		if !allowed(p.Role) {
			if page {
				http.Redirect(w, r, homeOf(p.Role), http.StatusSeeOther)
				return
			}
			writeError(w, http.StatusForbidden, "your role ("+string(p.Role)+") may not do this")
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func (s *Server) api(p perm, h http.HandlerFunc) http.Handler {
	return s.guard(false, func(r Role) bool { return r.can(p) }, h)
}

func (s *Server) page(p perm, h http.HandlerFunc) http.Handler {
	return s.guard(true, func(r Role) bool { return r.can(p) }, h)
}

func anyRole(Role) bool { return true }

// Require puts h behind the ui's login: the request must come from a
// session (with the CSRF token on state-changing methods) or carry an API
// token of a user whose role is one of roles (any role when none are given).
// It answers 401 without a login and 403 for another role. cmd/earshot uses
// it for other stages' HTTP handlers (the store's API, capture's announce).
func (s *Server) Require(h http.Handler, roles ...Role) http.Handler {
	allowed := anyRole
	if len(roles) > 0 {
		allowed = func(r Role) bool {
			for _, x := range roles {
				if r == x {
					return true
				}
			}
			return false
		}
	}
	return s.guard(false, allowed, h)
}

// MayReadOriginal reports whether the user of a request that passed
// Require may read original (unredacted) text: only roles that may (admin).
func MayReadOriginal(r *http.Request) bool {
	p, ok := principalOf(r.Context())
	return ok && p.Role.can(permOriginal)
}

// homeOf is the first page a role sees.
func homeOf(r Role) string {
	switch {
	case r.can(permBoard):
		return "/"
	case r.can(permSearch):
		return "/search"
	}
	return "/login"
}
