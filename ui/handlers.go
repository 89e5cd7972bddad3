package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// maxBody bounds a JSON request body (a rule file is the largest).
const maxBody = 1 << 20

// maxLoginBody bounds a login's body: a name of at most 64 bytes and a
// password of at most 72, with room for JSON escapes.
const maxLoginBody = 4 << 10

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static := assetFS()

	// Open: the login page, its API and the static assets (no data).
	mux.Handle("GET /login", s.servePage("login.html"))
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", serveAssets(static)))
	mux.HandleFunc("POST /api/ui/login", s.handleLogin)

	// Pages: empty shells that load their data from the API.
	mux.Handle("GET /{$}", s.page(permBoard, s.servePage("board.html")))
	mux.Handle("GET /calls/{id}", s.page(permCall, s.servePage("call.html")))
	mux.Handle("GET /search", s.page(permSearch, s.servePage("search.html")))
	mux.Handle("GET /dashboard", s.page(permDash, s.servePage("dashboard.html")))
	mux.Handle("GET /rules", s.page(permRules, s.servePage("rules.html")))
	mux.Handle("GET /forms", s.page(permForms, s.servePage("forms.html")))
	mux.Handle("GET /users", s.page(permUsers, s.servePage("users.html")))

	// API.
	mux.Handle("POST /api/ui/logout", s.Require(http.HandlerFunc(s.handleLogout)))
	mux.Handle("GET /api/ui/me", s.Require(http.HandlerFunc(s.handleMe)))
	mux.Handle("POST /api/ui/me/password", s.Require(http.HandlerFunc(s.handlePassword)))
	mux.Handle("PUT /api/ui/me/language", s.Require(http.HandlerFunc(s.handleLanguage)))
	mux.Handle("GET /api/ui/live", s.api(permBoard, s.handleBoardEvents))
	mux.Handle("GET /api/ui/calls/{id}", s.api(permCall, s.handleCall))
	mux.Handle("GET /api/ui/calls/{id}/events", s.api(permCall, s.handleCallEvents))
	mux.Handle("GET /api/calls/{id}/recording", s.api(permCall, s.handleRecording))
	mux.Handle("GET /api/ui/search", s.api(permSearch, s.handleSearch))
	mux.Handle("GET /api/ui/dashboard", s.api(permDash, s.handleDashboard))
	mux.Handle("GET /api/ui/rules", s.api(permRules, s.handleRulesSource))
	mux.Handle("GET /api/ui/rules/history", s.api(permRules, s.handleRulesHistory))
	mux.Handle("POST /api/ui/rules/check", s.api(permRules, s.handleRulesCheck))
	mux.Handle("POST /api/ui/rules/dryrun", s.api(permRules, s.handleRulesDryRun))
	mux.Handle("POST /api/ui/rules/activate", s.api(permRules, s.handleRulesActivate))
	mux.Handle("GET /api/ui/forms", s.api(permForms, s.handleForms))
	mux.Handle("GET /api/ui/forms/{form}", s.api(permForms, s.handleFormVersions))
	mux.Handle("POST /api/ui/forms/check", s.api(permForms, s.handleFormCheck))
	mux.Handle("POST /api/ui/forms", s.api(permForms, s.handleFormSave))
	mux.Handle("POST /api/ui/forms/rescore", s.api(permForms, s.handleRescore))
	mux.Handle("GET /api/ui/calls/{id}/evaluations", s.api(permCall, s.handleEvaluations))
	mux.Handle("POST /api/ui/calls/{id}/evaluations/{form}", s.api(permAnswers, s.handleAmend))
	mux.Handle("GET /api/ui/users", s.api(permUsers, s.handleUsers))
	mux.Handle("POST /api/ui/users", s.api(permUsers, s.handleUserCreate))
	mux.Handle("PUT /api/ui/users/{name}", s.api(permUsers, s.handleUserUpdate))
	mux.Handle("DELETE /api/ui/users/{name}", s.api(permUsers, s.handleUserDelete))
	mux.Handle("POST /api/ui/users/{name}/tokens", s.api(permUsers, s.handleTokenCreate))
	mux.Handle("DELETE /api/ui/users/{name}/tokens/{id}", s.api(permUsers, s.handleTokenDelete))

	// Anything else: not found, but only to someone logged in.
	mux.Handle("/", s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such page: "+r.URL.Path)
	})))
	return securityHeaders(mux)
}

// securityHeaders: no inline script, no framing, no sniffing, no caching
// of API answers.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// serveAssets serves the files of static; a name fs.ValidPath refuses
// (not UTF-8, "..") is not found, where the file server would answer 500.
func serveAssets(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name := strings.TrimSuffix(r.URL.Path, "/"); name != "" && !fs.ValidPath(name) {
			writeError(w, http.StatusNotFound, "no such asset")
			return
		}
		files.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// Encoder escapes <, > and & in strings: JSON is never HTML.
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

// writeErrorKey is writeError with the catalogue key (and placeholders)
// under which a page shows the error in its reader's language.
func writeErrorKey(w http.ResponseWriter, status int, key string, params map[string]any, message string) {
	writeJSON(w, status, map[string]any{"error": message, "key": key, "params": params})
}

// readJSON decodes a JSON request body of at most maxBody bytes into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	return readJSONMax(w, r, v, maxBody)
}

// readJSONMax decodes a JSON request body of at most limit bytes into v;
// only application/json is taken, which a cross-site form cannot send
// without a CORS preflight.
func readJSONMax(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send Content-Type: application/json")
		return false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit)).Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body: more than %d bytes", limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func me(r *http.Request) principal {
	p, _ := principalOf(r.Context())
	return p
}

// --- login -----------------------------------------------------------------

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		writeError(w, http.StatusForbidden, "cross-site login refused")
		return
	}
	var in struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if !readJSONMax(w, r, &in, maxLoginBody) {
		return
	}
	if validName(in.Name) != nil { // no user has it: nothing to count or keep
		writeErrorKey(w, http.StatusUnauthorized, "err.bad_credentials", nil, ErrBadCredentials.Error())
		return
	}
	now, addr := time.Now(), sourceAddr(r)
	if d := s.throttle.wait(in.Name, addr, now); d > 0 {
		secs := int(d/time.Second) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeErrorKey(w, http.StatusTooManyRequests, "err.throttled", map[string]any{"seconds": secs}, fmt.Sprintf("too many wrong passwords: try again in %d s", secs))
		return
	}
	u, err := s.users.check(r.Context(), in.Name, in.Password)
	if err != nil {
		s.accounts.tellLogin(s.throttle.failed(in.Name, s.users.has(r.Context(), in.Name), addr, now))
		s.log.Info("login failed", "user", in.Name, "remote", r.RemoteAddr)
		writeErrorKey(w, http.StatusUnauthorized, "err.bad_credentials", nil, ErrBadCredentials.Error())
		return
	}
	s.accounts.tellLogin(s.throttle.succeeded(in.Name, addr))
	id, sess, err := s.sessions.create(r.Context(), u)
	if err != nil {
		s.log.Error("login: session not kept", "user", u.Name, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the login could not be kept; try again")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: s.cfg.SecureCookies || r.TLS != nil, SameSite: http.SameSiteStrictMode,
		Expires: sess.Expires,
	})
	s.log.Info("login", "user", u.Name, "role", u.Role)
	writeJSON(w, http.StatusOK, map[string]string{"name": u.Name, "role": string(u.Role), "csrf": sess.CSRF, "home": homeOf(u.Role)})
}

// safeName is a user name fit for a log line even when it was not valid.
func safeName(n string) string {
	if validName(n) != nil {
		return "(invalid)"
	}
	return n
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		key := sessionKey(c.Value)
		if err := s.sessions.drop(r.Context(), key); err != nil {
			s.log.Error("logout: session not dropped", "user", me(r).Name, "err", err)
			writeError(w, http.StatusServiceUnavailable, "the logout could not be kept; try again")
			return
		}
		s.endStreams(me(r).Name, key)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	p := me(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"name": p.Name, "role": p.Role, "agent": p.agentName(), "csrf": p.csrf,
		"language": p.Language,
		"can": map[string]bool{
			"board": p.Role.can(permBoard), "search": p.Role.can(permSearch),
			"rules": p.Role.can(permRules), "users": p.Role.can(permUsers),
			"original": p.Role.can(permOriginal), "dashboard": p.Role.can(permDash),
			"forms": p.Role.can(permForms), "answers": p.Role.can(permAnswers),
		},
		"store": s.cfg.Store != nil, "rules": s.cfg.Rules != nil, "live": s.cfg.JS != nil, "forms": s.cfg.Forms != nil,
	})
}

func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Old string `json:"old"`
		New string `json:"new"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	p := me(r)
	if _, err := s.users.check(r.Context(), p.Name, in.Old); err != nil {
		writeErrorKey(w, http.StatusForbidden, "err.wrong_password", nil, "the current password is wrong")
		return
	}
	if err := s.users.update(r.Context(), p.Name, "", nil, in.New, false); err != nil {
		writeUserError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// handleLanguage sets the caller's own language (empty: the browser's).
func (s *Server) handleLanguage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Language string `json:"language"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if err := s.users.setLanguage(r.Context(), me(r).Name, in.Language); err != nil {
		writeUserError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// --- live board and call view ----------------------------------------------

// agentFilter is the agent whose calls p may see; empty: all.
func agentFilter(p principal) string {
	if p.Role == RoleAgent {
		return p.agentName()
	}
	return ""
}

func (s *Server) handleBoardEvents(w http.ResponseWriter, r *http.Request) {
	p := me(r)
	sub := &subscriber{agent: agentFilter(p), ch: make(chan []byte, subBuffer)}
	s.mu.Lock()
	if !s.subscribe(r.Context(), p, sub) {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, errRevoked)
		return
	}
	now := time.Now()
	rows := []boardRow{}
	for _, c := range s.live.calls {
		if !c.ended && (sub.agent == "" || c.info.Agent == sub.agent) {
			rows = append(rows, redactAny(c.summary(now), s.cfg.Redact).(boardRow))
		}
	}
	snapshot := sseFrame("snapshot", map[string]any{"rows": rows, "live": s.cfg.JS != nil})
	s.mu.Unlock()
	s.stream(w, r, sub, snapshot)
}

// callRecord finds a call: live from memory while it goes on, else from
// the store, else (an ended call the store does not have yet, or no store)
// from memory. It says whether the call is live.
func (s *Server) callRecord(r *http.Request, id string, original bool) (msg.CallRecord, bool, error) {
	fromMemory := func(activeOnly bool) (msg.CallRecord, bool, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		c, ok := s.live.calls[id]
		if !ok || activeOnly && c.ended {
			return msg.CallRecord{}, false, false
		}
		rec := viewAs(c.record(time.Now()), original, s.cfg.Redact).(msg.CallRecord)
		return rec, !c.ended, true
	}
	if rec, live, ok := fromMemory(true); ok {
		return rec, live, nil
	}
	if s.cfg.Store != nil {
		rec, err := s.cfg.Store.Call(r.Context(), id, original)
		if !errors.Is(err, msg.ErrNotFound) {
			return rec, false, err
		}
	}
	if rec, live, ok := fromMemory(false); ok {
		return rec, live, nil
	}
	return msg.CallRecord{}, false, fmt.Errorf("call %s: %w", id, msg.ErrNotFound)
}

// callAccess checks the call id and the caller's right to original text.
func callAccess(w http.ResponseWriter, r *http.Request) (id string, original, ok bool) {
	id = r.PathValue("id")
	if err := msg.ValidateCallID(id); err != nil {
		writeError(w, http.StatusBadRequest, "call id: "+err.Error())
		return "", false, false
	}
	original = r.URL.Query().Get("original") == "1"
	if original && !me(r).Role.can(permOriginal) {
		writeError(w, http.StatusForbidden, "only an admin may read original text")
		return "", false, false
	}
	return id, original, true
}

func (s *Server) handleCall(w http.ResponseWriter, r *http.Request) {
	id, original, ok := callAccess(w, r)
	if !ok {
		return
	}
	rec, live, err := s.callRecord(r, id, original)
	switch {
	case errors.Is(err, msg.ErrNotFound):
		writeErrorKey(w, http.StatusNotFound, "err.no_call", nil, "no call "+id)
		return
	case err != nil:
		s.log.Error("call view: store failed", "call", id, "err", err)
		writeErrorKey(w, http.StatusBadGateway, "err.store_failed", nil, "the store failed to answer")
		return
	}
	if a := agentFilter(me(r)); a != "" && rec.Call.Agent != a {
		writeError(w, http.StatusForbidden, "agents see only their own calls")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"live": live, "original": original, "record": rec, "transcription": !s.cfg.NoTranscription})
}

func (s *Server) handleCallEvents(w http.ResponseWriter, r *http.Request) {
	id, original, ok := callAccess(w, r)
	if !ok {
		return
	}
	p := me(r)
	s.mu.Lock()
	c, ok := s.live.calls[id]
	if !ok {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "call "+id+" is not live")
		return
	}
	if a := agentFilter(p); a != "" && c.info.Agent != a {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "agents see only their own calls")
		return
	}
	sub := &subscriber{callID: id, agent: agentFilter(p), original: original, ch: make(chan []byte, subBuffer)}
	if !s.subscribe(r.Context(), p, sub) {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, errRevoked)
		return
	}
	rec := c.record(time.Now())
	snapshot := sseFrame("snapshot", map[string]any{"live": !c.ended, "record": s.hub.view(rec, original)})
	s.mu.Unlock()
	s.stream(w, r, sub, snapshot)
}

// stream writes server-sent events to w until the browser leaves, falls
// behind, or the server stops.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, sub *subscriber, first []byte) {
	defer func() {
		s.mu.Lock()
		s.hub.remove(sub)
		s.mu.Unlock()
	}()
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming not supported")
		return
	}
	s.metrics.clients.Inc()
	defer s.metrics.clients.Dec()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(first); err != nil {
		return
	}
	fl.Flush()
	keepAlive := time.NewTicker(20 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case f, ok := <-sub.ch:
			if !ok {
				return
			}
			if _, err := w.Write(f); err != nil {
				return
			}
			// Write what else is queued before flushing.
			for n := len(sub.ch); n > 0; n-- {
				if f, ok = <-sub.ch; !ok {
					break
				}
				if _, err := w.Write(f); err != nil {
					return
				}
			}
			fl.Flush()
		case <-keepAlive.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
}

// --- search ------------------------------------------------------------------

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Store == nil {
		writeErrorKey(w, http.StatusServiceUnavailable, "err.no_store", nil, "search is not available: no store is connected")
		return
	}
	q, err := parseSearch(r.URL.Query())
	if err != nil {
		writeErrorKey(w, http.StatusBadRequest, "err.bad_query", map[string]any{"detail": err.Error()}, "search: "+err.Error())
		return
	}
	if a := agentFilter(me(r)); a != "" {
		q.Agent = a
	}
	res, err := s.cfg.Store.Search(r.Context(), q)
	switch {
	case errors.Is(err, msg.ErrBadQuery):
		writeErrorKey(w, http.StatusBadRequest, "err.bad_query", map[string]any{"detail": err.Error()}, err.Error())
		return
	case err != nil:
		s.log.Error("search failed", "err", err)
		writeErrorKey(w, http.StatusBadGateway, "err.store_failed", nil, "the store failed to answer")
		return
	}
	writeJSON(w, http.StatusOK, viewResults(res))
}

// --- rules -------------------------------------------------------------------

func (s *Server) rulesOr503(w http.ResponseWriter) bool {
	if s.cfg.Rules == nil {
		writeErrorKey(w, http.StatusServiceUnavailable, "err.no_rules", nil, "rules are not available: no rules engine is connected")
		return false
	}
	return true
}

func (s *Server) handleRulesSource(w http.ResponseWriter, r *http.Request) {
	if !s.rulesOr503(w) {
		return
	}
	text, version, err := s.cfg.Rules.Source(r.Context())
	if err != nil {
		s.log.Error("rules source failed", "err", err)
		writeErrorKey(w, http.StatusBadGateway, "err.rules_failed", nil, "the rules engine failed to answer")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"text": string(text), "version": version})
}

func (s *Server) handleRulesHistory(w http.ResponseWriter, r *http.Request) {
	if !s.rulesOr503(w) {
		return
	}
	h, err := s.cfg.Rules.History(r.Context())
	if err != nil {
		s.log.Error("rules history failed", "err", err)
		writeErrorKey(w, http.StatusBadGateway, "err.rules_failed", nil, "the rules engine failed to answer")
		return
	}
	if h == nil {
		h = []msg.RuleChange{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"changes": h})
}

type rulesIn struct {
	Text  string          `json:"text"`
	Query msg.SearchQuery `json:"query"`
}

func (s *Server) handleRulesCheck(w http.ResponseWriter, r *http.Request) {
	var in rulesIn
	if !s.rulesOr503(w) || !readJSON(w, r, &in) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"problems": nonNil(s.cfg.Rules.Check([]byte(in.Text)))})
}

func nonNil(p []msg.Problem) []msg.Problem {
	if p == nil {
		return []msg.Problem{}
	}
	return p
}

func (s *Server) handleRulesDryRun(w http.ResponseWriter, r *http.Request) {
	var in rulesIn
	if !s.rulesOr503(w) || !readJSON(w, r, &in) {
		return
	}
	if probs := s.cfg.Rules.Check([]byte(in.Text)); len(probs) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"problems": probs})
		return
	}
	if in.Query.Limit <= 0 || in.Query.Limit > 100 {
		in.Query.Limit = 100
	}
	ms, err := s.cfg.Rules.DryRun(r.Context(), []byte(in.Text), in.Query)
	switch {
	case errors.Is(err, msg.ErrBadQuery):
		writeErrorKey(w, http.StatusBadRequest, "err.bad_query", map[string]any{"detail": err.Error()}, err.Error())
		return
	case err != nil:
		s.log.Error("rules dry run failed", "err", err)
		writeErrorKey(w, http.StatusBadGateway, "err.dryrun_failed", map[string]any{"detail": err.Error()}, "the dry run failed: "+err.Error())
		return
	}
	if !me(r).Role.can(permOriginal) {
		for i := range ms {
			ms[i].Matches = redactMatches(ms[i].Matches, s.cfg.Redact)
		}
	}
	if ms == nil {
		ms = []msg.DryRunMatch{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"matches": ms})
}

func (s *Server) handleRulesActivate(w http.ResponseWriter, r *http.Request) {
	var in rulesIn
	if !s.rulesOr503(w) || !readJSON(w, r, &in) {
		return
	}
	if strings.TrimSpace(in.Text) == "" {
		const why = `the rule text is empty; the rules in force stay (activate "rules: []" to remove them all)`
		writeErrorKey(w, http.StatusBadRequest, "err.activate_failed", map[string]any{"detail": why}, "text: "+why)
		return
	}
	p := me(r)
	probs, err := s.cfg.Rules.Activate(r.Context(), []byte(in.Text), p.Name)
	if len(probs) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"problems": probs})
		return
	}
	if err != nil {
		s.log.Error("rules activation failed", "user", p.Name, "err", err)
		writeErrorKey(w, http.StatusBadGateway, "err.activate_failed", map[string]any{"detail": err.Error()}, "activation failed: "+err.Error())
		return
	}
	s.log.Info("rules activated", "user", p.Name)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "problems": []msg.Problem{}})
}

// --- users -------------------------------------------------------------------

type userView struct {
	Name     string      `json:"name"`
	Role     Role        `json:"role"`
	Agent    string      `json:"agent,omitempty"`
	Language string      `json:"language,omitempty"`
	Created  time.Time   `json:"created"`
	Tokens   []tokenView `json:"tokens"`
}

type tokenView struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	out := []userView{}
	for _, u := range s.users.list() {
		v := userView{Name: u.Name, Role: u.Role, Agent: u.Agent, Language: u.Language, Created: u.Created, Tokens: []tokenView{}}
		for _, t := range u.Tokens {
			v.Tokens = append(v.Tokens, tokenView{t.ID, t.Created})
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

// userErrorKeys are the catalogue keys of user management's errors, most
// specific first.
var userErrorKeys = []struct {
	err error
	key string
}{
	{errBadName, "err.bad_name"}, {errBadRole, "err.bad_role"}, {errShortPassword, "err.short_password"},
	{errLastAdmin, "err.last_admin"}, {errBadLanguage, "err.bad_language"},
	{ErrNoUser, "err.no_user"}, {ErrUserExists, "err.user_exists"}, {ErrBadUser, "err.bad_user"},
}

func writeUserError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNoUser):
		status = http.StatusNotFound
	case errors.Is(err, ErrUserExists):
		status = http.StatusConflict
	case errors.Is(err, ErrBadUser):
		status = http.StatusBadRequest
	}
	for _, k := range userErrorKeys {
		if errors.Is(err, k.err) {
			writeErrorKey(w, status, k.key, map[string]any{"detail": err.Error(), "min": MinPasswordLen}, err.Error())
			return
		}
	}
	writeError(w, status, err.Error())
}

func (s *Server) handleUserCreate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name     string `json:"name"`
		Password string `json:"password"`
		Role     Role   `json:"role"`
		Agent    string `json:"agent"`
		Language string `json:"language"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if !validLanguage(in.Language) {
		writeUserError(w, fmt.Errorf("%w: %q", errBadLanguage, in.Language))
		return
	}
	if err := s.users.add(r.Context(), in.Name, in.Password, in.Role, in.Agent); err != nil {
		writeUserError(w, err)
		return
	}
	if err := s.users.setLanguage(r.Context(), in.Name, in.Language); err != nil {
		writeUserError(w, err)
		return
	}
	s.log.Info("user created", "user", in.Name, "role", in.Role, "by", me(r).Name)
	writeJSON(w, http.StatusCreated, map[string]bool{"ok": true})
}

func (s *Server) handleUserUpdate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Role     Role    `json:"role"`
		Agent    *string `json:"agent"`
		Password string  `json:"password"`
		Language *string `json:"language"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	name := r.PathValue("name")
	if in.Language != nil && !validLanguage(*in.Language) {
		writeUserError(w, fmt.Errorf("%w: %q", errBadLanguage, *in.Language))
		return
	}
	revoke := in.Role != "" || in.Password != ""
	if err := s.users.update(r.Context(), name, in.Role, in.Agent, in.Password, revoke); err != nil {
		writeUserError(w, err)
		return
	}
	if in.Language != nil {
		if err := s.users.setLanguage(r.Context(), name, *in.Language); err != nil {
			writeUserError(w, err)
			return
		}
	}
	if revoke || in.Agent != nil {
		// Their sessions ended with the new generation (revoke); streams
		// opened after an agent change reopen with the new agent's calls.
		s.endStreams(name, "")
	}
	s.log.Info("user changed", "user", safeName(name), "by", me(r).Name)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) handleUserDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.users.remove(r.Context(), name); err != nil {
		writeUserError(w, err)
		return
	}
	s.endStreams(name, "")
	s.log.Info("user deleted", "user", safeName(name), "by", me(r).Name)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) handleTokenCreate(w http.ResponseWriter, r *http.Request) {
	secret, tok, err := s.users.newToken(r.Context(), r.PathValue("name"))
	if err != nil {
		writeUserError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": tok.ID, "token": secret})
}

func (s *Server) handleTokenDelete(w http.ResponseWriter, r *http.Request) {
	name, id := r.PathValue("name"), r.PathValue("id")
	if err := s.users.revokeToken(r.Context(), name, id); err != nil {
		writeUserError(w, err)
		return
	}
	s.endStreams(name, id)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
