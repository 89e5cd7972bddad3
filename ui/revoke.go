package ui

import (
	"context"
	"slices"
	"time"
)

// Revocation: deleting a user, changing their role, agent name or password,
// revoking an API token or logging out takes effect on the event streams
// already open, not only on the next request, in every ui process. The
// change is made first (users, sessions), then the streams are ended under
// Server.mu; a stream is only added under Server.mu after subscribe has
// checked its login still stands, so none opened during a revocation
// survives it. A user's sessions end together by a new generation (User.Gen)
// written with the change: a session made under another generation is
// over, wherever it is used. Other processes see the change in the users
// and sessions buckets they watch and end their own streams (userChanged,
// sessionDropped).

// subscribeCheck bounds how long subscribe may take to check a login.
const subscribeCheck = 2 * time.Second

// errRevoked answers a stream whose login was revoked while it opened.
const errRevoked = "log in again: your login was revoked"

// userChanged ends the open streams a change of user made elsewhere
// revoked: all of the user's when they were deleted or their sessions,
// role or agent name changed, else those of each API token taken away.
func (s *Server) userChanged(old, cur *User) {
	if old == nil {
		return
	}
	if cur == nil || cur.Gen != old.Gen || cur.Role != old.Role || cur.agentName() != old.agentName() {
		s.endStreams(old.Name, "")
		return
	}
	for _, t := range old.Tokens {
		if !slices.ContainsFunc(cur.Tokens, func(c Token) bool { return c.ID == t.ID }) {
			s.endStreams(old.Name, t.ID)
		}
	}
}

// sessionDropped ends the open streams of a session logged out elsewhere.
func (s *Server) sessionDropped(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hub.endCred(key)
}

// endStreams ends user's open event streams: all of them when cred is
// empty, else those opened with that session or API token.
func (s *Server) endStreams(user, cred string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hub.end(user, cred)
}

// subscribe adds sub, opened by p, to the hub if p's login still stands:
// the user exists with the same role and agent name, and the session or
// API token is still valid. The caller holds s.mu.
func (s *Server) subscribe(ctx context.Context, p principal, sub *subscriber) bool {
	// The check may read the buckets while s.mu holds the live view up.
	ctx, cancel := context.WithTimeout(ctx, subscribeCheck)
	defer cancel()
	u, err := s.users.get(ctx, p.Name)
	if err != nil || u.Role != p.Role || u.agentName() != p.agentName() {
		return false
	}
	ok := false
	if p.bearer {
		for _, t := range u.Tokens {
			ok = ok || t.ID == p.cred
		}
	} else {
		var su User
		su, _, ok = s.session(ctx, p.cred)
		ok = ok && su.Name == p.Name
	}
	if ok {
		sub.user, sub.cred = p.Name, p.cred
		s.hub.add(sub)
	}
	return ok
}
