package ui

// Revocation: deleting a user, changing their role, agent name or password,
// revoking an API token or logging out takes effect on the event streams
// already open, not only on the next request. The change is made first
// (users file, sessions), then the streams are ended under Server.mu; a
// stream is only added under Server.mu after subscribe has checked its
// login still stands, so none opened during a revocation survives it.

// errRevoked answers a stream whose login was revoked while it opened.
const errRevoked = "log in again: your login was revoked"

// revoke ends every session and open stream of user (deleted, or their
// role or password changed). Their API tokens go with a deleted user;
// after a role change they stand for the new role.
func (s *Server) revoke(user string) {
	s.sessions.dropUser(user)
	s.endStreams(user, "")
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
func (s *Server) subscribe(p principal, sub *subscriber) bool {
	u, err := s.users.get(p.Name)
	if err != nil || u.Role != p.Role || u.agentName() != p.agentName() {
		return false
	}
	ok := false
	if p.bearer {
		for _, t := range u.Tokens {
			ok = ok || t.ID == p.cred
		}
	} else {
		_, ok = s.sessions.get(p.cred)
	}
	if ok {
		sub.user, sub.cred = p.Name, p.cred
		s.hub.add(sub)
	}
	return ok
}
