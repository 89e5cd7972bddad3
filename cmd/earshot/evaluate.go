package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"

	"github.com/earshot-dev/earshot/evaluate"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/redact"
	"github.com/earshot-dev/earshot/store"
)

// evaluateStage scores every call against the evaluation forms once the
// store has all of its analysis. It reads and writes the store (the call
// records, the forms and their evaluations), so it runs beside it: in
// earshot run on the store stage's store, alone (earshot evaluate) on the
// store --evaluate-store names.
type evaluateStage struct {
	storeDSN string
	workers  int
	// st and redactor are the store stage's (earshot run), set before start.
	st       store.Store
	redactor *redact.Redactor
	// manager is set by start: the forms, for the web view.
	manager *evaluate.Manager
	// onScored, when set (tests), is called after a call is scored.
	onScored func(call string)
}

func (*evaluateStage) name() string    { return "evaluate" }
func (*evaluateStage) summary() string { return "scores every ended call against the evaluation forms" }

func (s *evaluateStage) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.storeDSN, "evaluate-store", "", "earshot evaluate alone: the store to score calls in, a postgres:// DSN (default: the SQLite store in --data); earshot run uses the store stage's")
	fs.IntVar(&s.workers, "evaluate-workers", 2, "calls scored at once")
}

func (s *evaluateStage) check() error {
	if s.workers < 1 {
		return badInputf("--evaluate-workers %d: want at least 1", s.workers)
	}
	return nil
}

// formsManager is the forms and evaluations of st, with comments masked
// by r (nil: the default redactor).
func formsManager(st store.Store, r *redact.Redactor, log *slog.Logger) (*evaluate.Manager, error) {
	if r == nil {
		var err error
		if r, err = redact.New(redact.Config{}); err != nil {
			return nil, err
		}
	}
	return evaluate.NewManager(evaluate.Config{Store: st, Logger: log,
		Redact: func(text string) string { out, _ := r.Redact(text); return out }})
}

func (s *evaluateStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	log := e.log.With("stage", "evaluate")
	var own store.Store
	if e.allIn {
		if s.storeDSN != "" {
			return nil, badInputf("--evaluate-store is for earshot evaluate alone; earshot run scores calls in its store (--db)")
		}
	} else {
		st, err := openStore(ctx, s.storeDSN, e.dataDir, false)
		if err != nil {
			return nil, err
		}
		own, s.st = st, st
	}
	closeOwn := func() error {
		if own != nil {
			return own.Close()
		}
		return nil
	}
	m, err := formsManager(s.st, s.redactor, log)
	if err != nil {
		return nil, errors.Join(err, closeOwn())
	}
	stage, err := evaluate.NewStage(evaluate.StageConfig{Manager: m, Workers: s.workers, Metrics: e.metrics,
		OnScored: func(call string, _ []msg.Evaluation) {
			if s.onScored != nil {
				s.onScored(call)
			}
		}})
	if err != nil {
		return nil, errors.Join(err, closeOwn())
	}
	s.manager = m
	return func(ctx context.Context) error {
		return errors.Join(stage.Run(ctx, e.bus.JS), closeOwn())
	}, nil
}
