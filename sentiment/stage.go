package sentiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/sentiment/characteristics"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Publisher publishes one message and returns once it is stored.
type Publisher interface {
	Publish(ctx context.Context, subject string, data []byte) error
}

// Config configures the analyzer; the zero value is usable once a model is
// chosen by default.
type Config struct {
	// Models picks a model per segment language; default: English for all.
	Models *Models
	// Tracker sets the call scores (periods, window, streaks).
	Tracker TrackerConfig
	// Characteristics sets the conversation characteristics' thresholds.
	Characteristics characteristics.Config
	// Grace is how long after a call's end the analyzer waits for the final
	// segments the ended event announced before it publishes the final
	// results without them. Default 2 minutes.
	Grace time.Duration
	// Idle finishes a call that never ended (its capture died) after this
	// long without any event. Default 1 hour.
	Idle time.Duration
	// Durable names the JetStream consumer; default "analyze-sentiment".
	Durable string
	// Metrics, when set, gets the analyzer's collectors.
	Metrics prometheus.Registerer
	Logger  *slog.Logger
}

// Analyzer is the sentiment part of the analyze stage. It consumes
// transcripts, timeline spans and call events, and publishes per final
// segment a ScoredSegment and an updated CallSentiment, per timeline span
// updated Characteristics, and once a call has ended and all its final
// segments are in (or Grace has passed), the Final CallSentiment and
// Characteristics. Interim segments are not scored: they are replaced by
// their final, and rules and the board act on finals.
type Analyzer struct {
	cfg Config
	pub Publisher
	log *slog.Logger

	mu       sync.Mutex
	calls    map[string]*callState
	finished map[string]time.Time // recently finished calls, for late messages

	scored   *prometheus.CounterVec
	finishes *prometheus.CounterVec
	active   prometheus.Gauge
}

type callState struct {
	tracker   *Tracker
	chars     *characteristics.Call
	finals    map[string]bool  // final segment ids seen
	perLeg    map[msg.Role]int // final segments seen per leg
	finalJobs map[msg.Role]int // from the ended event
	ended     bool
	endedAt   time.Time
	duration  int64
	lastSeen  time.Time
	atMS      int64 // latest call-clock time seen
}

// Why a call's results were made final.
const (
	finishComplete = "complete" // ended, every final segment in
	finishGrace    = "grace"    // ended, segments still missing after Grace
	finishIdle     = "idle"     // never ended
)

// NewAnalyzer returns an analyzer that publishes through pub.
func NewAnalyzer(pub Publisher, cfg Config) (*Analyzer, error) {
	if pub == nil {
		return nil, errors.New("sentiment: analyzer needs a publisher")
	}
	if cfg.Grace < 0 || cfg.Idle < 0 {
		return nil, fmt.Errorf("sentiment: grace %v and idle %v must not be negative", cfg.Grace, cfg.Idle)
	}
	if err := cfg.Tracker.validate(); err != nil {
		return nil, err
	}
	if _, err := characteristics.New("check", cfg.Characteristics); err != nil {
		return nil, fmt.Errorf("sentiment: %w", err)
	}
	if cfg.Models == nil {
		cfg.Models = &Models{Default: NewEnglish(EnglishConfig{})}
	}
	if cfg.Models.Default == nil {
		return nil, errors.New("sentiment: models need a default model")
	}
	if cfg.Grace == 0 {
		cfg.Grace = 2 * time.Minute
	}
	if cfg.Idle == 0 {
		cfg.Idle = time.Hour
	}
	if cfg.Durable == "" {
		cfg.Durable = "analyze-sentiment"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Analyzer{
		cfg: cfg, pub: pub, log: cfg.Logger,
		calls: map[string]*callState{}, finished: map[string]time.Time{},
		scored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_sentiment_segments_scored_total", Help: "Final segments scored, by label.",
		}, []string{"label"}),
		finishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_sentiment_calls_finished_total",
			Help: "Calls whose final sentiment and characteristics were published, by why: complete, grace (segments missing), idle (never ended).",
		}, []string{"reason"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "earshot_sentiment_active_calls", Help: "Calls the analyzer keeps state for.",
		}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{a.scored, a.finishes, a.active} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("sentiment: metrics: %w", err)
			}
		}
	}
	return a, nil
}

// Run consumes StreamEvents durably (one worker, so each call's events keep
// their order) and finishes calls whose grace or idle time has passed, until
// ctx is done. It returns after everything it started has stopped.
func (a *Analyzer) Run(ctx context.Context, js jetstream.JetStream) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(min(a.cfg.Grace/4, time.Second))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				a.Sweep(ctx, now)
			}
		}
	}()
	err := bus.Consume(ctx, js, bus.ConsumerConfig{
		Stream:  bus.StreamEvents,
		Durable: a.cfg.Durable,
		Filter:  []string{msg.AllCalls, msg.AllTimeline, msg.AllTranscripts},
		Logger:  a.log,
	}, func(ctx context.Context, m jetstream.Msg) error {
		return a.Handle(ctx, m.Subject(), m.Data())
	})
	cancel()
	wg.Wait()
	return err
}

// Handle applies one message from subject and publishes what it changes.
// A message that cannot be decoded is a permanent error (bus.Permanent).
func (a *Analyzer) Handle(ctx context.Context, subject string, data []byte) error {
	name, _, err := msg.SchemaOf(data)
	if err != nil {
		return bus.Permanent(fmt.Errorf("sentiment: %s: %w", subject, err))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch name {
	case "segment":
		var seg msg.Segment
		if err := msg.Unmarshal(data, &seg); err != nil {
			return bus.Permanent(fmt.Errorf("sentiment: %s: %w", subject, err))
		}
		return a.segment(ctx, seg)
	case "timeline":
		var ev msg.TimelineEvent
		if err := msg.Unmarshal(data, &ev); err != nil {
			return bus.Permanent(fmt.Errorf("sentiment: %s: %w", subject, err))
		}
		return a.timeline(ctx, ev)
	case "call":
		var ev msg.CallEvent
		if err := msg.Unmarshal(data, &ev); err != nil {
			return bus.Permanent(fmt.Errorf("sentiment: %s: %w", subject, err))
		}
		return a.callEvent(ctx, ev)
	}
	return nil // another schema on these subjects: not ours
}

// state returns the call's state, creating it; nil when the call has
// already finished.
func (a *Analyzer) state(callID string) *callState {
	if st, ok := a.calls[callID]; ok {
		st.lastSeen = time.Now()
		return st
	}
	if _, done := a.finished[callID]; done {
		return nil
	}
	tr, _ := NewTracker(a.cfg.Tracker)                          // validated in NewAnalyzer
	ch, _ := characteristics.New(callID, a.cfg.Characteristics) // likewise
	st := &callState{tracker: tr, chars: ch, finals: map[string]bool{}, perLeg: map[msg.Role]int{}, lastSeen: time.Now()}
	a.calls[callID] = st
	a.active.Set(float64(len(a.calls)))
	return st
}

func (a *Analyzer) segment(ctx context.Context, seg msg.Segment) error {
	if seg.Interim {
		return nil
	}
	if err := msg.ValidateCallID(seg.CallID); err != nil {
		return bus.Permanent(fmt.Errorf("sentiment: segment %q: %w", seg.ID, err))
	}
	if !seg.Leg.Valid() {
		return bus.Permanent(fmt.Errorf("sentiment: segment %q: %w: leg %q", seg.ID, msg.ErrInvalidField, seg.Leg))
	}
	st := a.state(seg.CallID)
	if st != nil && st.finals[seg.ID] {
		return a.maybeFinish(ctx, seg.CallID, st) // redelivered: results already out
	}
	s := a.cfg.Models.For(seg.Language).Score(seg.Text)
	if err := a.publish(ctx, msg.SubjectScoredSegment(seg.CallID), msg.ScoredSegment{Segment: seg, Sentiment: s}); err != nil {
		return err
	}
	a.scored.WithLabelValues(s.Label).Inc()
	if st == nil {
		a.log.Debug("final segment after the call's results were final; scored, not counted", "call", seg.CallID, "segment", seg.ID)
		return nil
	}
	st.finals[seg.ID] = true
	st.perLeg[seg.Leg]++
	st.atMS = max(st.atMS, seg.EndMS)
	st.chars.AddSegment(seg)
	if hasText(seg) {
		st.tracker.Add(seg.Leg, Turn{StartMS: seg.StartMS, EndMS: seg.EndMS, Label: s.Label})
		if err := a.publish(ctx, msg.SubjectCallSentiment(seg.CallID), st.tracker.Snapshot(seg.CallID, st.atMS, st.duration, false)); err != nil {
			return err
		}
	}
	return a.maybeFinish(ctx, seg.CallID, st)
}

// hasText reports whether a final segment holds speech to count as a turn.
func hasText(seg msg.Segment) bool {
	return seg.Error == "" && seg.Dropped == "" && countWords(seg.Text) > 0
}

func countWords(s string) int {
	n, in := 0, false
	for _, r := range s {
		word := r > ' ' && r != 0x85 && r != 0xA0
		if word && !in {
			n++
		}
		in = word
	}
	return n
}

func (a *Analyzer) timeline(ctx context.Context, ev msg.TimelineEvent) error {
	if err := msg.ValidateCallID(ev.CallID); err != nil {
		return bus.Permanent(fmt.Errorf("sentiment: timeline: %w", err))
	}
	if (ev.Kind == msg.SpanTalk || ev.Kind == msg.SpanOverlap) && !ev.Leg.Valid() {
		return bus.Permanent(fmt.Errorf("sentiment: timeline of %s: %w: %s span with leg %q", ev.CallID, msg.ErrInvalidField, ev.Kind, ev.Leg))
	}
	st := a.state(ev.CallID)
	if st == nil {
		return nil
	}
	st.chars.AddSpan(ev)
	st.atMS = max(st.atMS, ev.EndMS)
	return a.publish(ctx, msg.SubjectCharacteristics(ev.CallID), st.chars.Snapshot(st.atMS, st.duration, false))
}

func (a *Analyzer) callEvent(ctx context.Context, ev msg.CallEvent) error {
	if err := msg.ValidateCallID(ev.CallID); err != nil {
		return bus.Permanent(fmt.Errorf("sentiment: call event: %w", err))
	}
	st := a.state(ev.CallID)
	if st == nil || ev.Kind != msg.CallEnded {
		return nil
	}
	if !st.ended {
		st.ended, st.endedAt = true, time.Now()
	}
	st.duration = ev.DurationMS
	st.finalJobs = ev.FinalJobs
	st.atMS = max(st.atMS, ev.DurationMS)
	return a.maybeFinish(ctx, ev.CallID, st)
}

// complete reports whether every final segment the ended event announced
// is in.
func (st *callState) complete() bool {
	if !st.ended {
		return false
	}
	for leg, n := range st.finalJobs {
		if st.perLeg[leg] < n {
			return false
		}
	}
	return true
}

func (a *Analyzer) maybeFinish(ctx context.Context, callID string, st *callState) error {
	if !st.complete() {
		return nil
	}
	return a.finish(ctx, callID, st, finishComplete)
}

// finish publishes the call's final results and drops its state. On a
// publish failure the state stays, to be finished again.
func (a *Analyzer) finish(ctx context.Context, callID string, st *callState, reason string) error {
	end := st.duration
	if end <= 0 {
		end = st.atMS
	}
	if err := a.publish(ctx, msg.SubjectCallSentiment(callID), st.tracker.Snapshot(callID, end, end, true)); err != nil {
		return err
	}
	if err := a.publish(ctx, msg.SubjectCharacteristics(callID), st.chars.Snapshot(end, end, true)); err != nil {
		return err
	}
	delete(a.calls, callID)
	a.finished[callID] = time.Now()
	a.active.Set(float64(len(a.calls)))
	a.finishes.WithLabelValues(reason).Inc()
	if reason != finishComplete {
		a.log.Warn("call results made final without all its final segments", "call", callID, "reason", reason,
			"final_jobs", st.finalJobs, "final_segments", st.perLeg)
	}
	return nil
}

// Sweep finishes the calls whose grace (after their end) or idle time has
// passed at now, and forgets finished calls after Idle. Run calls it
// periodically; a publish failure is logged and retried at the next sweep.
func (a *Analyzer) Sweep(ctx context.Context, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, st := range a.calls {
		reason := ""
		switch {
		case st.ended && now.Sub(st.endedAt) >= a.cfg.Grace:
			reason = finishGrace
		case !st.ended && now.Sub(st.lastSeen) >= a.cfg.Idle:
			reason = finishIdle
		default:
			continue
		}
		if err := a.finish(ctx, id, st, reason); err != nil && ctx.Err() == nil {
			a.log.Warn("publishing a call's final results failed; will retry", "call", id, "err", err)
		}
	}
	for id, at := range a.finished {
		if now.Sub(at) >= a.cfg.Idle {
			delete(a.finished, id)
		}
	}
}

func (a *Analyzer) publish(ctx context.Context, subject string, m msg.Message) error {
	b, err := msg.Marshal(m)
	if err != nil {
		return err
	}
	if err := a.pub.Publish(ctx, subject, b); err != nil {
		return fmt.Errorf("sentiment: %w", err)
	}
	return nil
}
