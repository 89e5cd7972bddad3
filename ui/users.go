package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

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
	Language string    `json:"language,omitempty"`
	Hash     string    `json:"hash"`
	Tokens   []Token   `json:"tokens,omitempty"`
	Created  time.Time `json:"created"`
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

// userDB keeps users in a JSON file (or only in memory when path is empty).
type userDB struct {
	path string
	mu   sync.Mutex
	// users by name
	users map[string]*User
	// bcrypt cost; lowered by tests
	cost int
	// dummy is a hash checked for unknown names, so that a wrong name
	// takes as long as a wrong password.
	dummy []byte
}

type userFile struct {
	Users []*User `json:"users"`
}

func openUserDB(path string, cost int) (*userDB, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte(randomString(12)), cost)
	if err != nil {
		return nil, fmt.Errorf("ui: bcrypt: %w", err)
	}
	db := &userDB{path: path, users: map[string]*User{}, cost: cost, dummy: dummy}
	if path == "" {
		return db, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return db, nil
	}
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
		db.users[u.Name] = u
	}
	return db, nil
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

// save writes the users atomically; the caller holds mu.
func (db *userDB) save() error {
	if db.path == "" {
		return nil
	}
	f := userFile{}
	for _, u := range db.users {
		f.Users = append(f.Users, u)
	}
	sort.Slice(f.Users, func(i, j int) bool { return f.Users[i].Name < f.Users[j].Name })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(db.path), 0o750); err != nil {
		return fmt.Errorf("ui: users file: %w", err)
	}
	tmp := db.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("ui: users file: %w", err)
	}
	if err := os.Rename(tmp, db.path); err != nil {
		return fmt.Errorf("ui: users file: %w", err)
	}
	return nil
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

func (db *userDB) add(name, password string, role Role, agent string) error {
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
	db.users[name] = &User{Name: name, Role: role, Agent: agent, Hash: h, Created: time.Now().UTC()}
	return db.save()
}

// update changes what is non-empty among role, agent and password.
func (db *userDB) update(name string, role Role, agent *string, password string) error {
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
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	if role != "" && role != RoleAdmin && u.Role == RoleAdmin && db.admins() == 1 {
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
	return db.save()
}

// setLanguage sets the web view's language for name (empty: the browser's).
func (db *userDB) setLanguage(name, lang string) error {
	if !validLanguage(lang) {
		return fmt.Errorf("%w: language %q (want %s, or empty for the browser's)", errBadLanguage, lang, strings.Join(languages, ", "))
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	u.Language = lang
	return db.save()
}

func (db *userDB) admins() int {
	n := 0
	for _, u := range db.users {
		if u.Role == RoleAdmin {
			n++
		}
	}
	return n
}

func (db *userDB) remove(name string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	if u.Role == RoleAdmin && db.admins() == 1 {
		return fmt.Errorf("%w: %s is the last admin", errLastAdmin, name)
	}
	delete(db.users, name)
	return db.save()
}

// check returns a copy of the user if password is theirs.
func (db *userDB) check(name, password string) (User, error) {
	db.mu.Lock()
	u, ok := db.users[name]
	hash := db.dummy
	if ok {
		hash = []byte(u.Hash)
	}
	db.mu.Unlock()
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil || !ok {
		return User{}, ErrBadCredentials
	}
	return db.get(name)
}

// has reports whether a user is called name.
func (db *userDB) has(name string) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	_, ok := db.users[name]
	return ok
}

func (db *userDB) get(name string) (User, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[name]
	if !ok {
		return User{}, fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	c := *u
	c.Tokens = append([]Token(nil), u.Tokens...)
	return c, nil
}

func (db *userDB) list() []User {
	db.mu.Lock()
	defer db.mu.Unlock()
	out := make([]User, 0, len(db.users))
	for _, u := range db.users {
		c := *u
		c.Hash = ""
		c.Tokens = append([]Token(nil), u.Tokens...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// tokenPrefix starts every API token, so one found in a log is recognisable.
const tokenPrefix = "est_"

func (db *userDB) newToken(name string) (secret string, tok Token, err error) {
	secret = tokenPrefix + randomString(32)
	sum := sha256.Sum256([]byte(secret))
	tok = Token{ID: randomString(6), SHA256: hex.EncodeToString(sum[:]), Created: time.Now().UTC()}
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[name]
	if !ok {
		return "", Token{}, fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	u.Tokens = append(u.Tokens, tok)
	return secret, tok, db.save()
}

func (db *userDB) revokeToken(name, id string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoUser, name)
	}
	for i, t := range u.Tokens {
		if t.ID == id {
			u.Tokens = append(u.Tokens[:i], u.Tokens[i+1:]...)
			return db.save()
		}
	}
	return fmt.Errorf("%w: token %s of %s", ErrNoUser, id, name)
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
				c := *u
				return c, t.ID, true
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

// ResetPassword gives the user name in the users file at path a new random
// password and returns it (it is not kept: show it once). It is for an
// operator who lost the admin's password; run it while earshot is stopped,
// since a running web view keeps the users it read at start and writes them
// all back on its next change.
func ResetPassword(path, name string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("ui: users file %s: %w: none there (earshot creates it on its first start)", path, ErrNoUser)
		}
		return "", fmt.Errorf("ui: users file: %w", err)
	}
	db, err := openUserDB(path, bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	pw := randomString(15)
	if err := db.update(name, "", nil, pw); err != nil {
		return "", fmt.Errorf("ui: users file %s: %w", path, err)
	}
	return pw, nil
}
