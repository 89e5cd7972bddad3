package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"
)

// Role is what a user may see and do.
type Role string

// The roles, after Contact Lens's security profiles.
const (
	RoleAgent      Role = "agent"
	RoleSupervisor Role = "supervisor"
	RoleAnalyst    Role = "analyst"
	RoleAdmin      Role = "admin"
)

// allRoles lists every role, least to most privileged.
var allRoles = []Role{RoleAgent, RoleSupervisor, RoleAnalyst, RoleAdmin}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	for _, x := range allRoles {
		if r == x {
			return true
		}
	}
	return false
}

// Errors of user management, for errors.Is.
var (
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrUserExists     = errors.New("user exists")
	ErrNoUser         = errors.New("no such user")
	ErrBadUser        = errors.New("invalid user")
)

// The kinds of ErrBadUser that the Users page names in the reader's
// language.
var (
	errBadName       = fmt.Errorf("%w name", ErrBadUser)
	errBadRole       = fmt.Errorf("%w role", ErrBadUser)
	errShortPassword = fmt.Errorf("%w: password must be at least %d characters", ErrBadUser, MinPasswordLen)
	errLastAdmin     = fmt.Errorf("%w", ErrBadUser)
	errBadLanguage   = fmt.Errorf("%w language", ErrBadUser)
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

// User is one person (or machine) who may log in.
type User struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Agent is the agent name on calls that are this user's own (role
	// agent); empty means the user name.
	Agent string `json:"agent,omitempty"`
	// Language is the web view's language for this user (en, ko); empty
	// follows the browser's Accept-Language.
	Language string `json:"language,omitempty"`
	Hash     string `json:"hash"`
	// Gen is the generation of the user's sessions: a session made under
	// another one is over (a new one is drawn to revoke them all).
	Gen     string    `json:"gen,omitempty"`
	Tokens  []Token   `json:"tokens,omitempty"`
	Created time.Time `json:"created"`
}

// Token is a machine's API token; only its SHA-256 is kept.
type Token struct {
	ID      string    `json:"id"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// agentName is the agent name whose calls are u's own.
func (u *User) agentName() string {
	if u.Agent != "" {
		return u.Agent
	}
	return u.Name
}

// userDB keeps users: in memory only, or in a NATS KV bucket every ui
// process shares (kv set). With the bucket, users holds a copy kept up to
// date by watching it (accounts.go); every change is written to the bucket
// first, with the revision it was made on, so two processes changing one
// user at once never lose either change.
type userDB struct {
	mu sync.Mutex // guards users and revs; held across bucket writes
	// users by name
	users map[string]*User
	// revs is each name's last bucket revision seen (also after a delete)
	revs map[string]uint64
	// kv is the users bucket; nil: in memory only
	kv jetstream.KeyValue
	// bcrypt cost; lowered by tests
	cost int
	// dummy is a hash checked for unknown names, so that a wrong name
	// takes as long as a wrong password.
	dummy []byte
	// seen is the bucket's last revision the watch has brought into this
	// copy; seenCh is closed, and replaced, when it moves.
	seen   uint64
	seenCh chan struct{}
}

// errStale: another process changed the user since this one read it.
var errStale = errors.New("user changed meanwhile")

// changeTries bounds how often a change is retried on errStale.
const changeTries = 5

type userFile struct {
	Users []*User `json:"users"`
}

func newUserDB(kv jetstream.KeyValue, cost int) (*userDB, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte(randomString(12)), cost)
	if err != nil {
		return nil, fmt.Errorf("ui: bcrypt: %w", err)
	}
	return &userDB{users: map[string]*User{}, revs: map[string]uint64{}, kv: kv, cost: cost, dummy: dummy, seenCh: make(chan struct{})}, nil
}

// readUsersFile reads the users file of an earlier earshot (before users
// lived in NATS KV).
func readUsersFile(path string) ([]*User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ui: users file: %w", err)
	}
	var f userFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("ui: users file %s: %w: %w", path, ErrBadUser, err)
	}
	for i, u := range f.Users {
		if u == nil || validName(u.Name) != nil || !u.Role.Valid() || u.Hash == "" {
			return nil, fmt.Errorf("ui: users file %s: user %d: %w: needs a valid name, role and password hash", path, i+1, ErrBadUser)
		}
	}
	return f.Users, nil
}

func validName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: name must be 1 to 64 characters", errBadName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@+", r)) {
			return fmt.Errorf("%w: name %q: only letters, digits and . _ - @ +", errBadName, name)
		}
	}
	return nil
}

// userKey is name's key in the users bucket: hex, since names may hold
// characters (@, +) that keys may not.
func userKey(name string) string { return hex.EncodeToString([]byte(name)) }

// keyUser is userKey's inverse; ok is false for a key that is none of ours.
func keyUser(key string) (string, bool) {
	b, err := hex.DecodeString(key)
	return string(b), err == nil && validName(string(b)) == nil
}

// clone copies u with its own token slice.
func (u *User) clone() *User {
	c := *u
	c.Tokens = slices.Clone(u.Tokens)
	return &c
}

// store keeps u, in the bucket first when there is one: created when
// create (ErrUserExists if a user has the name), else over the revision
// last seen (errStale if another process changed it since). The caller
// holds mu.
func (db *userDB) store(ctx context.Context, u *User, create bool) error {
	if db.kv != nil {
		b, err := json.Marshal(u)
		if err != nil {
			return err
		}
		var rev uint64
		if create {
			rev, err = db.kv.Create(ctx, userKey(u.Name), b)
			if errors.Is(err, jetstream.ErrKeyExists) {
				return fmt.Errorf("%w: %s", ErrUserExists, u.Name)
			}
		} else {
			rev, err = db.kv.Update(ctx, userKey(u.Name), b, db.revs[u.Name])
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				return errStale
			}
		}
		if err != nil {
			return fmt.Errorf("ui: users bucket: %w", err)
		}
		db.revs[u.Name] = max(db.revs[u.Name], rev)
	}
	db.users[u.Name] = u
	return nil
}

// refresh reads user name from the bucket into users (or drops it when
// the bucket has none). The caller holds mu.
func (db *userDB) refresh(ctx context.Context, name string) error {
	if db.kv == nil {
		return nil
	}
	e, err := db.kv.Get(ctx, userKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		delete(db.users, name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("ui: users bucket: %w", err)
	}
	u, err := decodeUser(e.Value())
	if err != nil || u.Name != name {
		return fmt.Errorf("ui: users bucket: key %s: %w", e.Key(), errors.Join(ErrBadUser, err))
	}
	db.users[name], db.revs[name] = u, e.Revision()
	return nil
}

func decodeUser(b []byte) (*User, error) {
	var u User
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, err
	}
	if validName(u.Name) != nil || !u.Role.Valid() || u.Hash == "" {
		return nil, fmt.Errorf("%w: needs a valid name, role and password hash", ErrBadUser)
	}
	return &u, nil
}

// edit runs do on user name as kept here. When do finds that another
// process changed the user meanwhile (errStale), it reads the user again
// and runs do again, so do's checks see what is kept.
func (db *userDB) edit(ctx context.Context, name string, do func(u *User) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	for try := 1; ; try++ {
		u, ok := db.users[name]
		if !ok {
			return fmt.Errorf("%w: %s", ErrNoUser, name)
		}
		err := do(u)
		if !errors.Is(err, errStale) {
			return err
		}
		if try == changeTries {
			return fmt.Errorf("ui: user %s: %w %d times; try again", name, errStale, try)
		}
		if err := db.refresh(ctx, name); err != nil {
			return err
		}
	}
}

// change runs f on a copy of user name and keeps the result (see edit).
func (db *userDB) change(ctx context.Context, name string, f func(u *User) error) error {
	return db.edit(ctx, name, func(u *User) error {
		c := u.clone()
		if err := f(c); err != nil {
			return err
		}
		return db.store(ctx, c, false)
	})
}

func (db *userDB) empty() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.users) == 0
}

func (db *userDB) hash(password string) (string, error) {
	if len(password) < MinPasswordLen {
		return "", errShortPassword
	}
	if len(password) > 72 {
		return "", fmt.Errorf("%w: password must be at most 72 bytes", ErrBadUser)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), db.cost)
	if err != nil {
		return "", fmt.Errorf("ui: hash password: %w", err)
	}
	return string(h), nil
}

func (db *userDB) add(ctx context.Context, name, password string, role Role, agent string) error {
	if err := validName(name); err != nil {
		return err
	}
	if !role.Valid() {
		return fmt.Errorf("%w: role %q (want agent, supervisor, analyst or admin)", errBadRole, role)
	}
	h, err := db.hash(password)
	if err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, ok := db.users[name]; ok {
		return fmt.Errorf("%w: %s", ErrUserExists, name)
	}
	return db.store(ctx, &User{Name: name, Role: role, Agent: agent, Hash: h, Gen: randomString(9), Created: time.Now().UTC()}, true)
}

// update changes what is non-empty among role, agent and password. With
// revoke, the user's sessions end (see revoke.go).
func (db *userDB) update(ctx context.Context, name string, role Role, agent *string, password string, revoke bool) error {
	if role != "" && !role.Valid() {
		return fmt.Errorf("%w: role %q (want agent, supervisor, analyst or admin)", errBadRole, role)
	}
	var h string
	if password != "" {
		var err error
		if h, err = db.hash(password); err != nil {
			return err
		}
	}
	demoted := false
	err := db.change(ctx, name, func(u *User) error {
		demoted = role != "" && role != RoleAdmin && u.Role == RoleAdmin
		if demoted && db.admins() == 1 {
			return fmt.Errorf("%w: %s is the last admin", errLastAdmin, name)
		}
		if role != "" {
			u.Role = role
		}
		if agent != nil {
			u.Agent = *agent
		}
		if h != "" {
			u.Hash = h
		}
		if revoke {
			u.Gen = randomString(9)
		}
		return nil
	})
	if err != nil || !demoted {
		return err
	}
	return db.keptAnAdmin(ctx, name, func() error {
		return db.change(ctx, name, func(u *User) error { u.Role = RoleAdmin; return nil })
	})
}

// keptAnAdmin checks, after admin name was demoted or deleted, that the
// users still have an admin once every process's writes up to now are in
// this copy: each process checks its own copy before it writes, so two
// admins demoting each other at once on two ui processes would both pass.
// If none is left, undo takes this change back (the other process's may
// be taken back too: both are refused, and either may be made again).
func (db *userDB) keptAnAdmin(ctx context.Context, name string, undo func() error) error {
	if db.kv == nil {
		return nil // one process: its own check held
	}
	if err := db.settle(ctx); err != nil {
		return nil // the change stands on this process's check, as it did before
	}
	db.mu.Lock()
	n := db.admins()
	db.mu.Unlock()
	if n > 0 {
		return nil
	}
	if err := undo(); err != nil {
		return fmt.Errorf("ui: %s was the last admin, and the change could not be taken back: %w", name, err)
	}
	return fmt.Errorf("%w: %s is the last admin (another ui process changed the other admins at the same time)", errLastAdmin, name)
}

// settleWait bounds how long settle waits for the watch.
const settleWait = 5 * time.Second

// settle waits until this copy holds every write made to the bucket
// before it was called: until the watch has brought the bucket's last
// revision.
func (db *userDB) settle(ctx context.Context) error {
	st, err := db.kv.Status(ctx)
	if err != nil {
		return err
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return errors.New("ui: users bucket: no stream state")
	}
	last := bs.StreamInfo().State.LastSeq
	timeout := time.NewTimer(settleWait)
	defer timeout.Stop()
	for {
		db.mu.Lock()
		seen, moved := db.seen, db.seenCh
		db.mu.Unlock()
		if seen >= last {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return fmt.Errorf("ui: users bucket: the watch is at revision %d of %d after %s", seen, last, settleWait)
		}
	}
}

// saw notes that the watch brought revision rev; the caller holds mu.
func (db *userDB) saw(rev uint64) {
	if rev > db.seen {
		db.seen = rev
		close(db.seenCh)
		db.seenCh = make(chan struct{})
	}
}

// setLanguage sets the web view's language for name (empty: the browser's).
func (db *userDB) setLanguage(ctx context.Context, name, lang string) error {
	if !validLanguage(lang) {
		return fmt.Errorf("%w: language %q (want %s, or empty for the browser's)", errBadLanguage, lang, strings.Join(languages, ", "))
	}
	return db.change(ctx, name, func(u *User) error { u.Language = lang; return nil })
}

// admins counts the admins; the caller holds mu.
func (db *userDB) admins() int {
	n := 0
	for _, u := range db.users {
		if u.Role == RoleAdmin {
			n++
		}
	}
	return n
}

func (db *userDB) remove(ctx context.Context, name string) error {
	var admin *User // the admin removed, to put back if none is left
	err := db.edit(ctx, name, func(u *User) error {
		if u.Role == RoleAdmin {
			if db.admins() == 1 {
				return fmt.Errorf("%w: %s is the last admin", errLastAdmin, name)
			}
			admin = u.clone()
		}
		if db.kv != nil {
			err := db.kv.Delete(ctx, userKey(name), jetstream.LastRevision(db.revs[name]))
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				return errStale
			}
			if err != nil {
				return fmt.Errorf("ui: users bucket: %w", err)
			}
		}
		delete(db.users, name)
		return nil
	})
	if err != nil || admin == nil {
		return err
	}
	return db.keptAnAdmin(ctx, name, func() error {
		admin.Gen = randomString(9) // the sessions the deletion ended stay ended
		db.mu.Lock()
		defer db.mu.Unlock()
		if err := db.store(ctx, admin, true); err != nil && !errors.Is(err, ErrUserExists) {
			return err
		}
		return nil
	})
}

// check returns a copy of the user if password is theirs.
func (db *userDB) check(ctx context.Context, name, password string) (User, error) {
	u, err := db.get(ctx, name)
	hash := db.dummy
	if err == nil {
		hash = []byte(u.Hash)
	}
	if cerr := bcrypt.CompareHashAndPassword(hash, []byte(password)); cerr != nil || err != nil {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

// has reports whether a user is called name.
func (db *userDB) has(ctx context.Context, name string) bool {
	_, err := db.get(ctx, name)
	return err == nil
}

// get returns a copy of user name. A name not in the copy kept here is
// looked up in the bucket: it may have been created by another process a
// moment ago.
func (db *userDB) get(ctx context.Context, name string) (User, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[name]
	if !ok && db.kv != nil && validName(name) == nil {
		if err := db.refresh(ctx, name); err != nil {
			return User{}, err
		}
		u, ok = db.users[name]
	}
	if !ok {
		return User{}, fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	return *u.clone(), nil
}

// fresh returns user name as the bucket has it now, for a session whose
// generation the copy kept here does not know yet.
func (db *userDB) fresh(ctx context.Context, name string) (User, error) {
	db.mu.Lock()
	err := db.refresh(ctx, name)
	db.mu.Unlock()
	if err != nil {
		return User{}, err
	}
	return db.get(ctx, name)
}

func (db *userDB) list() []User {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := make([]User, 0, len(db.users))
	for _, u := range db.users {
		c := *u.clone()
		c.Hash, c.Gen = "", ""
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// tokenPrefix starts every API token, so one found in a log is recognisable.
const tokenPrefix = "est_"

func (db *userDB) newToken(ctx context.Context, name string) (secret string, tok Token, err error) {
	secret = tokenPrefix + randomString(32)
	sum := sha256.Sum256([]byte(secret))
	tok = Token{ID: randomString(6), SHA256: hex.EncodeToString(sum[:]), Created: time.Now().UTC()}
	err = db.change(ctx, name, func(u *User) error { u.Tokens = append(u.Tokens, tok); return nil })
	if err != nil {
		return "", Token{}, err
	}
	return secret, tok, nil
}

func (db *userDB) revokeToken(ctx context.Context, name, id string) error {
	return db.change(ctx, name, func(u *User) error {
		for i, t := range u.Tokens {
			if t.ID == id {
				u.Tokens = slices.Delete(u.Tokens, i, i+1)
				return nil
			}
		}
		return fmt.Errorf("%w: token %s of %s", ErrNoUser, id, name)
	})
}

// byToken finds the user who owns secret, and the token's ID.
func (db *userDB) byToken(secret string) (User, string, bool) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return User{}, "", false
	}
	sum := sha256.Sum256([]byte(secret))
	want := hex.EncodeToString(sum[:])
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, u := range db.users {
		for _, t := range u.Tokens {
			if subtle.ConstantTimeCompare([]byte(t.SHA256), []byte(want)) == 1 {
				return *u.clone(), t.ID, true
			}
		}
	}
	return User{}, "", false
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
