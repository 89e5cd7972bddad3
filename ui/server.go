package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"github.com/earshot-dev/earshot/record"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
)

// Store is what the ui reads of past calls; the store stage implements it.
type Store interface {
	// Search answers q; errors.Is(err, msg.ErrBadQuery) for bad syntax.
	Search(ctx context.Context, q msg.SearchQuery) (msg.SearchResults, error)
	// Call returns one call, with original text when original and the
	// redaction policy kept it; errors.Is(err, msg.ErrNotFound) when absent.
	Call(ctx context.Context, callID string, original bool) (msg.CallRecord, error)
	// Dashboard aggregates q's figures; errors.Is(err, msg.ErrBadQuery)
	// for a query to fix.
	Dashboard(ctx context.Context, q msg.DashboardQuery) (msg.Dashboard, error)
}

// Rules is the rule set as the rules page edits it; the rules stage
// implements it.
type Rules interface {
	Source(ctx context.Context) (text []byte, version string, err error)
	Check(text []byte) []msg.Problem
	DryRun(ctx context.Context, text []byte, q msg.SearchQuery) ([]msg.DryRunMatch, error)
	Activate(ctx context.Context, text []byte, who string) ([]msg.Problem, error)
	// History lists the rule sets put in force, newest first.
	History(ctx context.Context) ([]msg.RuleChange, error)
}

// Forms is the evaluation forms as the forms page and the call view use
// them; the evaluate stage implements it. Errors wrap msg.ErrBadQuery for
// a request to fix and msg.ErrNotFound for what is not there.
type Forms interface {
	Forms(ctx context.Context) ([]msg.SavedForm, error)
	Versions(ctx context.Context, form string) ([]msg.SavedForm, error)
	Check(text []byte) []msg.Problem
	Save(ctx context.Context, text []byte, who string) (msg.SavedForm, []msg.Problem, error)
	Spec(ctx context.Context, form string, version int) (msg.FormSpec, error)
	Amend(ctx context.Context, callID, form string, changes []msg.AnswerChange, who string) (msg.Evaluation, error)
	Rescore(ctx context.Context, req msg.RescoreRequest) (msg.RescoreResult, error)
}

// Config configures a Server. The zero value serves the pages with no live
// data, no search and no rules, and keeps users in memory only.
type Config struct {
	// JS is the JetStream the live state follows; nil: no live view.
	JS jetstream.JetStream
	// Store answers search and finished calls; nil: not available.
	Store Store
	// Rules serves the rules page; nil: not available.
	Rules Rules
	// Forms serves the forms page and the call view's evaluations; nil:
	// not available.
	Forms Forms
	// Accounts keeps users, API tokens and sessions where every ui process
	// sees them (OpenAccounts); nil: in this process's memory only. The
	// caller closes it after Run.
	Accounts *Accounts
	// FirstAdmin is the name of the admin FirstStart creates when there
	// are no users (default "admin"). Its random password is printed once
	// to Out.
	FirstAdmin string
	// Out receives the first admin's login (default os.Stdout).
	Out io.Writer
	// URL is where people reach the web view, for the first login message;
	// empty: the URL FirstStart is given.
	URL string
	// SecureCookies marks the session cookie Secure even without TLS here
	// (behind a TLS-terminating proxy).
	SecureCookies bool
	// SessionTTL is how long a login lasts (default 12h); with Accounts,
	// AccountsConfig.SessionTTL is.
	SessionTTL time.Duration
	// Lookback is how far back the live state rebuilds from on start
	// (default 4h): calls older than that are not shown live.
	Lookback time.Duration
	// EndedLinger is how long an ended call stays in memory for its view
	// (default 10m); the store has it after that.
	EndedLinger time.Duration
	// Redact redacts live text for viewers without original access
	// (default RedactLive).
	Redact func(string) string
	// Metrics receives the ui's collectors; nil: none.
	Metrics prometheus.Registerer
	Logger  *slog.Logger
	// BcryptCost is the password hash cost (default bcrypt.DefaultCost);
	// with Accounts, AccountsConfig.BcryptCost is.
	BcryptCost int
	// NoTranscription says no transcription engine runs here (earshot run
	// --engine none): the call view then says why a call has no transcript.
	NoTranscription bool
	// Recordings is where calls' recordings live (package record); nil:
	// the call view has no player.
	Recordings record.Store
}

// Server is the web view: pages, JSON API, event streams and login.
type Server struct {
	cfg      Config
	log      *slog.Logger
	accounts *Accounts
	users    *userDB
	sessions *sessions
	throttle throttle
	handler  http.Handler

	catalogues map[string]catalogue // message catalogues by language
	pages      pages                // HTML pages by language and name

	mu    sync.Mutex // guards live and hub
	live  liveState
	hub   hub
	ready chan struct{} // closed when the live state has caught up
	once  sync.Once

	closing   chan struct{} // closed when Run returns: event streams end
	closeOnce sync.Once

	metrics metrics
}

type metrics struct {
	clients  prometheus.Gauge
	pushed   prometheus.Counter
	dropped  prometheus.Counter
	applied  prometheus.Counter
	refused  prometheus.Counter
	liveCall prometheus.Gauge
}

//go:embed assets
var assets embed.FS

// New checks cfg. It creates no user: once the web view is served,
// FirstStart does that on the first start.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.FirstAdmin == "" {
		cfg.FirstAdmin = "admin"
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = 4 * time.Hour
	}
	if cfg.EndedLinger <= 0 {
		cfg.EndedLinger = 10 * time.Minute
	}
	if cfg.Redact == nil {
		cfg.Redact = RedactLive
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("ui: bcrypt cost %d: want %d to %d", cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if err := validName(cfg.FirstAdmin); err != nil {
		return nil, fmt.Errorf("ui: first admin: %w", err)
	}
	cats, err := loadCatalogues(assetFS())
	if err != nil {
		return nil, err
	}
	pg, err := loadPages(assetFS(), cats)
	if err != nil {
		return nil, err
	}
	acc := cfg.Accounts
	if acc == nil {
		if acc, err = memoryAccounts(cfg.BcryptCost, cfg.SessionTTL); err != nil {
			return nil, err
		}
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, accounts: acc, users: acc.users, sessions: acc.sessions, catalogues: cats, pages: pg,
		live:    liveState{calls: map[string]*liveCall{}},
		ready:   make(chan struct{}),
		closing: make(chan struct{}),
	}
	s.initMetrics()
	if cfg.Metrics != nil {
		if err := s.register(cfg.Metrics); err != nil {
			return nil, err
		}
	}
	s.hub = hub{subs: map[*subscriber]struct{}{}, redact: cfg.Redact,
		onDrop: s.metrics.dropped.Inc, onPush: s.metrics.pushed.Inc}
	if cfg.JS == nil {
		s.markReady()
	}
	s.handler = s.routes()
	acc.listen(s.userChanged, s.sessionDropped, func(o loginOutcome) { s.throttle.heard(o, time.Now()) })
	return s, nil
}

func (s *Server) initMetrics() {
	m := &s.metrics
	m.clients = prometheus.NewGauge(prometheus.GaugeOpts{Name: "earshot_ui_event_streams", Help: "Browsers connected to an event stream (board or call view)."})
	m.pushed = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_ui_events_pushed_total", Help: "Events queued to browsers."})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_ui_streams_dropped_total", Help: "Event streams dropped because the browser fell behind."})
	m.applied = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_ui_nats_messages_total", Help: "NATS messages taken into the live state."})
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_ui_nats_refused_total", Help: "NATS messages the live state refused (malformed, wrong call, unknown schema)."})
	m.liveCall = prometheus.NewGauge(prometheus.GaugeOpts{Name: "earshot_ui_live_calls", Help: "Calls the ui holds in memory (active and recently ended)."})
}

// register adds the ui's collectors to reg.
func (s *Server) register(reg prometheus.Registerer) error {
	m := &s.metrics
	for _, c := range []prometheus.Collector{m.clients, m.pushed, m.dropped, m.applied, m.refused, m.liveCall} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("ui: metrics: %w", err)
		}
	}
	return nil
}

// FirstStart is called once the web view takes requests at url. When there
// are no users yet, it creates the admin Config.FirstAdmin with a random
// password and prints how to log in (at Config.URL, or else url) to
// Config.Out, once: the password is not kept. With users, it does nothing.
// Creating the admin only now means a start that fails earlier leaves no
// admin whose password nobody saw.
// With shared Accounts, only the ui process that creates the admin prints
// its password; the others find it there.
func (s *Server) FirstStart(url string) error {
	if !s.users.empty() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	pw := randomString(15)
	err := s.users.add(ctx, s.cfg.FirstAdmin, pw, RoleAdmin, "")
	if errors.Is(err, ErrUserExists) {
		return nil // another ui process made it a moment ago
	}
	if err != nil {
		return fmt.Errorf("ui: first admin: %w", err)
	}
	if s.cfg.URL != "" {
		url = s.cfg.URL
	}
	if url == "" {
		url = "the web view"
	}
	fmt.Fprintf(s.cfg.Out, "earshot: first start: log in at %s as %q with password %s (shown once; change it under Users)\n", url, s.cfg.FirstAdmin, pw)
	return nil
}

// setupTimeout bounds the set-up calls that take no context (FirstStart,
// AddUser, NewToken) when accounts live in NATS KV.
const setupTimeout = 10 * time.Second

// AddUser creates a user (for set-up and tests; admins use the Users page).
func (s *Server) AddUser(name, password string, role Role, agent string) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	return s.users.add(ctx, name, password, role, agent)
}

// NewToken creates an API token for user and returns its secret, which is
// not kept.
func (s *Server) NewToken(user string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	secret, _, err := s.users.newToken(ctx, user)
	return secret, err
}

// Handler serves the pages, assets and API. Mount it at "/".
func (s *Server) Handler() http.Handler { return s.handler }

// Ready is closed once the live state has caught up with the stream.
func (s *Server) Ready() <-chan struct{} { return s.ready }

func (s *Server) markReady() { s.once.Do(func() { close(s.ready) }) }

// Run follows the live events until ctx is done and
// then ends every event stream. Without Config.JS it only waits.
func (s *Server) Run(ctx context.Context) error {
	defer s.closeOnce.Do(func() {
		close(s.closing)
		s.mu.Lock()
		s.hub.closeAll()
		s.mu.Unlock()
	})
	if s.cfg.JS == nil {
		<-ctx.Done()
		return nil
	}
	if err := s.follow(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// liveSubjects are the subjects the live state follows.
var liveSubjects = []string{
	msg.AllCalls, msg.AllTranscripts, msg.AllAnalysis, msg.AllAlerts,
	msg.AllCategories, msg.AllDTMF, msg.AllTimeline,
}

// follow reads EARSHOT_EVENTS from Lookback ago with an ordered consumer
// (rebuilding the calls still going on), then live.
func (s *Server) follow(ctx context.Context) error {
	start := time.Now().Add(-s.cfg.Lookback)
	stream, err := s.cfg.JS.Stream(ctx, bus.StreamEvents)
	if err != nil {
		return fmt.Errorf("ui: stream %s: %w", bus.StreamEvents, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("ui: stream %s: %w", bus.StreamEvents, err)
	}
	lastSeq := info.State.LastSeq
	if lastSeq == 0 || info.State.LastTime.Before(start) {
		s.markReady()
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: liveSubjects,
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return fmt.Errorf("ui: consumer on %s: %w", bus.StreamEvents, err)
	}
	if ci, err := cons.Info(ctx); err == nil && ci.NumPending == 0 {
		s.markReady() // nothing of ours in the window
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		s.take(m.Subject(), m.Data(), time.Now())
		if md, err := m.Metadata(); err == nil && (md.NumPending == 0 || md.Sequence.Stream >= lastSeq) {
			s.markReady()
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		s.log.Debug("live consumer", "err", err)
	}))
	if err != nil {
		return fmt.Errorf("ui: consume %s: %w", bus.StreamEvents, err)
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			cc.Stop()
			<-cc.Closed()
			return nil
		case now := <-tick.C:
			s.prune(now)
		}
	}
}

// take applies one NATS message and pushes what changed.
func (s *Server) take(subject string, data []byte, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.live.apply(subject, data, now)
	if err != nil {
		s.metrics.refused.Inc()
		// The error names the subject and the problem, never the text.
		s.log.Debug("live event refused", "err", err)
		return
	}
	s.metrics.applied.Inc()
	s.metrics.liveCall.Set(float64(len(s.live.calls)))
	if ch.kind == "" {
		return
	}
	c := s.live.calls[ch.callID]
	s.hub.publish(ch, c.info.Agent, func() boardRow { return c.summary(now) })
}

func (s *Server) prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	agents := map[string]string{}
	for id, c := range s.live.calls {
		agents[id] = c.info.Agent
	}
	for _, id := range s.live.prune(now, s.cfg.EndedLinger, s.cfg.Lookback) {
		s.hub.removed(id, agents[id])
	}
	s.metrics.liveCall.Set(float64(len(s.live.calls)))
}

// assetFS is the embedded assets directory.
func assetFS() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embed directive guarantees it
	}
	return sub
}
