package ui

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"
)

// The NATS KV buckets the web view keeps its accounts in.
const (
	// UsersBucket holds one key per user (the hex of the name): the User,
	// with its password hash, API tokens' SHA-256 and session generation.
	UsersBucket = "EARSHOT_UI_USERS"
	// SessionsBucket holds one key per browser login (the hex SHA-256 of
	// the session cookie); its age limit is the session lifetime.
	SessionsBucket = "EARSHOT_UI_SESSIONS"
	// LoginSubject carries every login's outcome (a loginOutcome: the
	// SHA-256 of the name and of the source address, never either) from
	// the ui process that checked the password to the others, so that
	// each throttles wrong passwords as all of them saw them: behind N ui
	// processes an attacker gets no more attempts than behind one.
	LoginSubject = "earshot.ui.login"
)

// AccountsConfig configures OpenAccounts. The zero value is usable.
type AccountsConfig struct {
	// SessionTTL is how long a login lasts (default 12h); it is the
	// sessions bucket's age limit, so give every ui process the same.
	SessionTTL time.Duration
	// Replicas is the buckets' replica count on a NATS cluster; 0 keeps
	// an existing bucket's (a new one gets 1).
	Replicas int
	// ImportFile is the users file of an earlier earshot (users and API
	// tokens as JSON). When it exists, its users are added to the bucket
	// (a name the bucket has already is kept as the bucket has it) and the
	// file is renamed FILE.imported, so it is read once.
	ImportFile string
	// BcryptCost is the password hash cost (default bcrypt.DefaultCost).
	BcryptCost int
	Logger     *slog.Logger
}

// Accounts is where the web view keeps users, API tokens and sessions:
// NATS KV buckets that every earshot ui process on the same NATS shares,
// so any of them serves any user and a restart logs nobody out. Each
// process keeps a copy of the users, kept up to date by watching the
// bucket, and reads sessions from their bucket on every request.
type Accounts struct {
	users    *userDB
	sessions *sessions
	log      *slog.Logger

	mu        sync.Mutex // guards onUser, onSession, onLogin
	onUser    func(old, cur *User)
	onSession func(key string)
	onLogin   func(loginOutcome)

	nc     *nats.Conn // nil: accounts in memory, nothing to tell
	origin string     // this process, in the logins it tells
	logins *nats.Subscription

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// memoryAccounts keeps accounts in this process only (Config.Accounts nil).
func memoryAccounts(cost int, ttl time.Duration) (*Accounts, error) {
	users, err := newUserDB(nil, cost)
	if err != nil {
		return nil, err
	}
	return &Accounts{users: users, sessions: &sessions{ttl: ttl, m: map[string]session{}},
		log: slog.New(slog.DiscardHandler), stop: func() {}}, nil
}

// OpenAccounts creates or updates the buckets on js, imports
// cfg.ImportFile if it exists, reads the users and watches both buckets
// until Close.
func OpenAccounts(ctx context.Context, js jetstream.JetStream, cfg AccountsConfig) (*Accounts, error) {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("ui: bcrypt cost %d: want %d to %d", cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ukv, err := bus.KeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket: UsersBucket, Description: "Earshot web view users and API tokens",
		History: 1, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	skv, err := bus.KeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket: SessionsBucket, Description: "Earshot web view logins",
		History: 1, TTL: cfg.SessionTTL, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	users, err := newUserDB(ukv, cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	a := &Accounts{users: users, sessions: &sessions{ttl: cfg.SessionTTL, kv: skv}, log: cfg.Logger}
	if cfg.ImportFile != "" {
		if err := a.importFile(ctx, cfg.ImportFile); err != nil {
			return nil, err
		}
	}
	// The watches outlive ctx, which bounds the opening only.
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	uw, err := ukv.WatchAll(wctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("ui: watch %s: %w", UsersBucket, err)
	}
	// Only deletes matter: a logout elsewhere ends this process's streams.
	sw, err := skv.WatchAll(wctx, jetstream.UpdatesOnly(), jetstream.MetaOnly())
	if err != nil {
		stop()
		_ = uw.Stop()
		return nil, fmt.Errorf("ui: watch %s: %w", SessionsBucket, err)
	}
	a.stop = stop
	var b [8]byte
	_, _ = rand.Read(b[:])
	a.nc, a.origin = js.Conn(), hex.EncodeToString(b[:])
	if a.logins, err = a.nc.Subscribe(LoginSubject, a.loginHeard); err != nil {
		stop()
		_ = uw.Stop()
		_ = sw.Stop()
		return nil, fmt.Errorf("ui: subscribe %s: %w", LoginSubject, err)
	}
	loaded := make(chan struct{})
	a.wg.Go(func() { bus.Watch(wctx, uw, func(e jetstream.KeyValueEntry) { a.userChanged(e, loaded) }) })
	a.wg.Go(func() { bus.Watch(wctx, sw, a.sessionChanged) })
	select {
	case <-loaded:
		return a, nil
	case <-ctx.Done():
		a.Close()
		return nil, fmt.Errorf("ui: read %s: %w", UsersBucket, ctx.Err())
	}
}

// Close stops watching the buckets. It is safe to call more than once.
func (a *Accounts) Close() {
	a.closeOnce.Do(func() {
		if a.logins != nil {
			_ = a.logins.Unsubscribe()
		}
		a.stop()
		a.wg.Wait()
	})
}

// listen tells the server of changes other processes make, and of the
// logins they checked.
func (a *Accounts) listen(onUser func(old, cur *User), onSession func(key string), onLogin func(loginOutcome)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onUser, a.onSession, a.onLogin = onUser, onSession, onLogin
}

// loginOutcome is a login checked by one ui process, told to the others
// on LoginSubject.
type loginOutcome struct {
	Origin string      `json:"origin"`
	Name   throttleKey `json:"name"`
	Addr   throttleKey `json:"addr"`
	Known  bool        `json:"known,omitempty"` // a user has the name
	OK     bool        `json:"ok,omitempty"`    // the password was right
}

// tellLogin tells the other ui processes of a login this one checked.
func (a *Accounts) tellLogin(o loginOutcome) {
	if a.nc == nil {
		return
	}
	o.Origin = a.origin
	b, _ := json.Marshal(o) // never fails
	if err := a.nc.Publish(LoginSubject, b); err != nil {
		a.log.Warn("ui: a login's outcome not told to the other ui processes", "err", err)
	}
}

// loginHeard takes a login another ui process checked.
func (a *Accounts) loginHeard(m *nats.Msg) {
	o, err := decodeLoginOutcome(m.Data)
	if err != nil {
		a.log.Warn("ui: a login outcome on "+LoginSubject+" is unreadable; ignored", "err", err)
		return
	}
	if o.Origin == a.origin {
		return
	}
	a.mu.Lock()
	f := a.onLogin
	a.mu.Unlock()
	if f != nil {
		f(o)
	}
}

// decodeLoginOutcome reads a loginOutcome: its origin and both hashes
// must be there.
func decodeLoginOutcome(b []byte) (loginOutcome, error) {
	var o loginOutcome
	if err := json.Unmarshal(b, &o); err != nil {
		return o, err
	}
	if o.Origin == "" || o.Name == (throttleKey{}) || o.Addr == (throttleKey{}) {
		return o, errors.New("want an origin, a name and an address")
	}
	return o, nil
}

// userChanged takes a change of the users bucket (nil: the users there
// were when the watch began are in, and loaded is closed) and tells the
// server of a change another process made.
func (a *Accounts) userChanged(e jetstream.KeyValueEntry, loaded chan<- struct{}) {
	if e == nil {
		close(loaded)
		return
	}
	old, cur, changed := a.users.apply(e)
	if !changed {
		return
	}
	a.mu.Lock()
	f := a.onUser
	a.mu.Unlock()
	if f != nil {
		f(old, cur)
	}
}

// sessionChanged tells the server of a session dropped (a logout) by
// another process.
func (a *Accounts) sessionChanged(e jetstream.KeyValueEntry) {
	if e == nil || e.Operation() == jetstream.KeyValuePut {
		return
	}
	a.mu.Lock()
	f := a.onSession
	a.mu.Unlock()
	if f != nil {
		f(e.Key())
	}
}

// apply takes a change of the users bucket into the copy kept here,
// unless the copy already has it (this process made it). It returns the
// user before and after (nil: none) and whether anything changed.
func (db *userDB) apply(e jetstream.KeyValueEntry) (old, cur *User, changed bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.saw(e.Revision())
	name, ok := keyUser(e.Key())
	if !ok {
		return nil, nil, false
	}
	if e.Operation() == jetstream.KeyValuePut {
		u, err := decodeUser(e.Value())
		if err != nil || u.Name != name {
			return nil, nil, false // written by something else; refused on read too
		}
		cur = u
	}
	if e.Revision() <= db.revs[name] {
		return nil, nil, false
	}
	db.revs[name] = e.Revision()
	old = db.users[name]
	if cur == nil {
		delete(db.users, name)
	} else {
		db.users[name] = cur
	}
	return old, cur, true
}

// importFile adds the users of an earlier earshot's users file to the
// bucket and renames the file, so it is imported once.
func (a *Accounts) importFile(ctx context.Context, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	us, err := readUsersFile(path)
	if err != nil {
		return err
	}
	added := 0
	a.users.mu.Lock()
	for _, u := range us {
		if u.Gen == "" {
			u.Gen = randomString(9)
		}
		err := a.users.store(ctx, u, true)
		if errors.Is(err, ErrUserExists) {
			a.log.Warn("users file: a user of that name is in the bucket already; kept as it is there", "file", path, "user", u.Name)
			continue
		}
		if err != nil {
			a.users.mu.Unlock()
			return fmt.Errorf("ui: import users file %s: %w", path, err)
		}
		added++
	}
	a.users.mu.Unlock()
	if err := os.Rename(path, path+".imported"); err != nil {
		return fmt.Errorf("ui: import users file %s: imported, but not renamed (it would be read again): %w", path, err)
	}
	a.log.Info("users file imported", "file", path, "users", added, "bucket", UsersBucket, "renamed", path+".imported")
	return nil
}

// ResetPassword gives user name a new random password and returns it (it is
// not kept: show it once), and ends the user's sessions; with admin, the
// user becomes an admin too. It is for an operator who lost the admin's
// password, or whose users were left without an admin; every ui process
// sees it at once.
func (a *Accounts) ResetPassword(ctx context.Context, name string, admin bool) (string, error) {
	pw := randomString(15)
	var role Role
	if admin {
		role = RoleAdmin
	}
	if err := a.users.update(ctx, name, role, nil, pw, true); err != nil {
		return "", err
	}
	return pw, nil
}
