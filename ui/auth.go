package ui

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"
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

// session is one browser login.
type session struct {
	user    string
	csrf    string
	expires time.Time
}

type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]*session
}

func (s *sessions) create(user string) (id string, sess session) {
	id = randomString(32)
	sess = session{user: user, csrf: randomString(24), expires: time.Now().Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, v := range s.m { // drop expired ones as we go; logins are rare
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[id] = &sess
	return id, sess
}

func (s *sessions) get(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok || time.Now().After(v.expires) {
		delete(s.m, id)
		return session{}, false
	}
	return *v, true
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// dropUser ends every session of user (deleted, or role changed).
func (s *sessions) dropUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if v.user == user {
			delete(s.m, k)
		}
	}
}

// principal is who made a request, and how.
type principal struct {
	User
	csrf   string // the session's; empty for bearer tokens
	bearer bool
	cred   string // the session ID, or the API token's ID when bearer
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
	sess, ok := s.sessions.get(c.Value)
	if !ok {
		return principal{}, false
	}
	u, err := s.users.get(sess.user)
	if err != nil {
		return principal{}, false
	}
	return principal{User: u, csrf: sess.csrf, cred: c.Value}, true
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
