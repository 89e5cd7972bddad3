package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/earshot-dev/earshot/record"
	"github.com/earshot-dev/earshot/rules"
	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/ui"
)

// uiStage is the web view: live board, call view, search, rules, users.
type uiStage struct {
	usersFile     string
	url           string
	secureCookies bool
	lookback      time.Duration
	endedLinger   time.Duration
	sessionTTL    time.Duration
	storeDSN      string
	// store and rules are wired by earshot run (or left nil: the pages then
	// say search and rules are not available).
	store ui.Store
	rules ui.Rules
	// forms is the evaluate stage's (earshot run); earshot ui alone
	// makes its own on the store it reads.
	forms ui.Forms
	// recordings is the capture stage's recording store (earshot run);
	// recordingsAt is --ui-recordings (earshot ui alone).
	recordings   record.Store
	recordingsAt string
	// noTranscription: earshot run --engine none (the call view says so).
	noTranscription bool
	// srv is the started server, for require.
	srv atomic.Pointer[ui.Server]
}

// require puts another stage's handler behind the web view's login with
// one of roles (any role when none). It may be called before the ui stage
// starts (earshot run starts it last); until then it answers 503.
func (s *uiStage) require(h http.Handler, roles ...ui.Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv := s.srv.Load()
		if srv == nil {
			http.Error(w, "the web view is starting", http.StatusServiceUnavailable)
			return
		}
		srv.Require(h, roles...).ServeHTTP(w, r)
	})
}

func (*uiStage) name() string        { return "ui" }
func (*uiStage) summary() string     { return "the web view, search and rules pages" }
func (*uiStage) defaultHTTP() string { return "127.0.0.1:8080" }

func (s *uiStage) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.usersFile, "ui-users", "", "a users file of an earlier earshot, imported once into NATS KV at start and renamed FILE.imported (default DATA/ui-users.json)")
	fs.StringVar(&s.url, "ui-url", "", "the web view's address as people reach it, for the first login message (default: http:// and the --http address; give it behind a proxy)")
	fs.BoolVar(&s.secureCookies, "ui-secure-cookies", false, "mark session cookies Secure (behind a TLS proxy)")
	fs.DurationVar(&s.lookback, "ui-lookback", 4*time.Hour, "on start, rebuild live calls from events this far back")
	fs.DurationVar(&s.endedLinger, "ui-ended-linger", 10*time.Minute, "how long an ended call stays in the web view's memory for its live view (the store has it after that); shorter keeps less memory at many calls an hour")
	fs.DurationVar(&s.sessionTTL, "ui-session-ttl", 12*time.Hour, "how long a login lasts (the sessions bucket's age limit in NATS KV: give every earshot ui the same)")
	fs.StringVar(&s.recordingsAt, "ui-recordings", "", "earshot ui alone: where the recordings are, nats (the JetStream object store) or dir (under --data); empty: no player. earshot run plays the capture stage's")
	fs.StringVar(&s.storeDSN, "ui-store", "", "earshot ui alone: the store to read, a postgres:// DSN (default: the SQLite store in --data); earshot run reads the store stage's")
}

func (s *uiStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	if s.lookback <= 0 {
		return nil, badInputf("--ui-lookback %s: want a positive duration", s.lookback)
	}
	if s.sessionTTL <= 0 {
		return nil, badInputf("--ui-session-ttl %s: want a positive duration", s.sessionTTL)
	}
	if s.endedLinger <= 0 {
		return nil, badInputf("--ui-ended-linger %s: want a positive duration", s.endedLinger)
	}
	users := s.usersFile
	if users == "" {
		users = filepath.Join(e.dataDir, "ui-users.json")
	}
	cfg := ui.Config{
		Out: e.std.out, URL: s.url, SecureCookies: s.secureCookies,
		Lookback: s.lookback, EndedLinger: s.endedLinger, SessionTTL: s.sessionTTL,
		Metrics: e.metrics, Logger: e.log.With("stage", "ui"),
		NoTranscription: s.noTranscription,
		JS:              e.bus.JS,
	}
	var own store.Store // opened here when the ui runs alone
	if e.allIn {
		if s.storeDSN != "" || s.recordingsAt != "" {
			return nil, badInputf("--ui-store and --ui-recordings are for earshot ui alone; earshot run uses the store and recordings of its own stages (--db, --record-store)")
		}
	} else {
		if s.recordingsAt != "" {
			if s.recordingsAt != "dir" && s.recordingsAt != "nats" {
				return nil, badInputf("--ui-recordings %q: want dir or nats", s.recordingsAt)
			}
			st, err := openRecordings(ctx, e, s.recordingsAt, 1)
			if err != nil {
				return nil, err
			}
			s.recordings = st
		}
		// Not read-only: the ui may start before the store stage creates it.
		st, err := openStore(ctx, s.storeDSN, e.dataDir, false)
		if err != nil {
			return nil, err
		}
		own, s.store = st, st
		if s.forms, err = formsManager(st, nil, cfg.Logger); err != nil {
			st.Close()
			return nil, err
		}
		e.protect = s.require
		if err := mountStoreAPI(e, st, cfg.Logger); err != nil {
			st.Close()
			return nil, err
		}
		// The rules page edits the rules in force in NATS KV, which every
		// analyze process watches.
		m, err := sharedRules(ctx, e, st, cfg.Logger)
		if err != nil {
			st.Close()
			return nil, err
		}
		s.rules = m
	}
	// Users, API tokens and sessions live in NATS KV, shared by every ui.
	acc, err := ui.OpenAccounts(ctx, e.bus.JS, ui.AccountsConfig{
		SessionTTL: s.sessionTTL, ImportFile: users, Logger: cfg.Logger,
	})
	if err != nil {
		if own != nil {
			err = errors.Join(err, own.Close())
		}
		if errors.Is(err, ui.ErrBadUser) {
			return nil, badInput(err)
		}
		return nil, err
	}
	cfg.Accounts = acc
	closeOwn := func() error {
		acc.Close()
		if own != nil {
			return own.Close()
		}
		return nil
	}
	if s.store != nil {
		cfg.Store = s.store
	}
	if s.rules != nil {
		cfg.Rules = s.rules
	}
	if s.forms != nil {
		cfg.Forms = s.forms
	}
	if s.recordings != nil {
		cfg.Recordings = s.recordings
	}
	srv, err := ui.New(cfg)
	if err != nil {
		err = errors.Join(err, closeOwn())
		if errors.Is(err, ui.ErrBadUser) {
			return nil, badInput(err)
		}
		return nil, err
	}
	e.mux.Handle("/", srv.Handler())
	e.onServing = append(e.onServing, srv.FirstStart)
	s.srv.Store(srv)
	return func(ctx context.Context) error {
		return errors.Join(srv.Run(ctx), closeOwn())
	}, nil
}

// sharedRules is the rules in force in NATS KV, for the rules page of
// earshot ui alone (dry runs read st).
func sharedRules(ctx context.Context, e *env, st rules.CallReader, log *slog.Logger) (*rules.Manager, error) {
	kv, err := rules.OpenBucket(ctx, e.bus.JS)
	if err != nil {
		return nil, err
	}
	m, err := rules.NewManager(ctx, rules.ManagerConfig{KV: kv, Calls: st, Logger: log})
	if errors.Is(err, rules.ErrInvalid) { // put there past validation: push valid ones
		return nil, badInput(err)
	}
	return m, err
}
