package evaluate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// StageConfig configures a Stage. Manager is required.
type StageConfig struct {
	Manager *Manager
	// Durable is the JetStream consumer's name; default "evaluate".
	Durable string
	// Workers is how many calls are scored at once; default 2.
	Workers int
	// Metrics, when set, gets the stage's collectors.
	Metrics prometheus.Registerer
	// OnScored, when set, is called after a call's evaluations are kept
	// (tests wait on it).
	OnScored func(call string, evs []msg.Evaluation)
}

// Stage scores every call once the store says it keeps all of the call's
// analysis (msg.CallStored): each form's version in force when the call
// ended answers what it can, and the evaluations are kept in the store.
type Stage struct {
	cfg    StageConfig
	scored *prometheus.CounterVec
}

// NewStage checks cfg and returns a Stage.
func NewStage(cfg StageConfig) (*Stage, error) {
	if cfg.Manager == nil {
		return nil, errors.New("evaluate: stage needs a manager")
	}
	if cfg.Durable == "" {
		cfg.Durable = "evaluate"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	s := &Stage{cfg: cfg, scored: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "earshot_evaluate_calls_total", Help: "Calls the evaluate stage handled, by result (scored, no_form, not_found, failed).",
	}, []string{"result"})}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(s.scored); err != nil {
			return nil, fmt.Errorf("evaluate: metrics: %w", err)
		}
	}
	return s, nil
}

// Run consumes stored calls until ctx is done.
func (s *Stage) Run(ctx context.Context, js jetstream.JetStream) error {
	return bus.Consume(ctx, js, bus.ConsumerConfig{
		Stream: bus.StreamEvents, Durable: s.cfg.Durable, Filter: []string{msg.AllStored},
		Workers: s.cfg.Workers, Key: bus.ByCall, AckWait: time.Minute, Logger: s.cfg.Manager.log,
	}, func(ctx context.Context, m jetstream.Msg) error {
		var cs msg.CallStored
		if err := msg.Unmarshal(m.Data(), &cs); err != nil {
			s.scored.WithLabelValues("failed").Inc()
			return bus.Permanent(fmt.Errorf("evaluate: %s: %w", m.Subject(), err))
		}
		if err := msg.ValidateCallID(cs.CallID); err != nil {
			s.scored.WithLabelValues("failed").Inc()
			return bus.Permanent(fmt.Errorf("evaluate: %s: %w", m.Subject(), err))
		}
		evs, err := s.cfg.Manager.ScoreCall(ctx, cs.CallID)
		switch {
		case errors.Is(err, msg.ErrNotFound):
			s.scored.WithLabelValues("not_found").Inc() // deleted since
			return nil
		case err != nil:
			s.scored.WithLabelValues("failed").Inc()
			return fmt.Errorf("evaluate: call %s: %w", cs.CallID, err)
		case len(evs) == 0:
			s.scored.WithLabelValues("no_form").Inc()
		default:
			s.scored.WithLabelValues("scored").Inc()
		}
		if s.cfg.OnScored != nil {
			s.cfg.OnScored(cs.CallID, evs)
		}
		return nil
	})
}
