package sentiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
	// Models picks a model per segment language; default: NewModels
	// (English and Korean; other languages neutral, saying so).
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
	// Workers is how many calls are analysed at once, each call's messages
	// in order on one of them; default 4.
	Workers int
	// Partitions, when set, spreads the calls over the analyze processes:
	// this one analyses the calls of the partitions it owns, picking a
	// call up mid-way from the stream when it takes a partition over.
	Partitions *bus.Partitions
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

	mu       sync.Mutex          // guards js, calls and finished; each call's state has its own
	js       jetstream.JetStream // set by Run: where a call's history is read
	calls    map[string]*callState
	finished map[string]time.Time // recently finished calls, for late messages

	scored   *prometheus.CounterVec
	finishes *prometheus.CounterVec
	active   prometheus.Gauge
}

type callState struct {
	mu        sync.Mutex // held while the call's messages are applied and its results published
	done      bool       // finished: the call's results are final
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
	finalSeen bool  // replay found this call's final results already out
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
	if cfg.Grace < 0 || cfg.Idle < 0 || cfg.Workers < 0 {
		return nil, fmt.Errorf("sentiment: grace %v, idle %v and workers %d must not be negative", cfg.Grace, cfg.Idle, cfg.Workers)
	}
	if err := cfg.Tracker.validate(); err != nil {
		return nil, err
	}
	if _, err := characteristics.New("check", cfg.Characteristics); err != nil {
		return nil, fmt.Errorf("sentiment: %w", err)
	}
	if cfg.Models == nil {
		ms, err := NewModels()
		if err != nil {
			return nil, err
		}
		cfg.Models = ms
	}
	if cfg.Models.Default == nil && len(cfg.Models.ByLanguage) == 0 {
		return nil, errors.New("sentiment: models need at least one model")
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
	if cfg.Workers == 0 {
		cfg.Workers = 4
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

// Run consumes StreamEvents durably (calls spread over Workers, each call's
// events in order) and finishes calls whose grace or idle time has passed, until
// ctx is done. It returns after everything it started has stopped.
func (a *Analyzer) Run(ctx context.Context, js jetstream.JetStream) error {
	a.mu.Lock()
	a.js = js
	a.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(max(min(a.cfg.Grace/4, time.Second), 10*time.Millisecond))
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
		Workers: a.cfg.Workers, Key: bus.ByCall, Batch: 64 * a.cfg.Workers,
		Partitions: a.cfg.Partitions,
		Resume:     a.resume,
		Logger:     a.log,
	}, func(ctx context.Context, m jetstream.Msg) error {
		var seq uint64
		if md, err := m.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		return a.handle(ctx, m.Subject(), m.Data(), seq)
	})
	cancel()
	wg.Wait()
	return err
}

// Handle applies one message from subject and publishes what it changes.
// A message that cannot be decoded is a permanent error (bus.Permanent).
func (a *Analyzer) Handle(ctx context.Context, subject string, data []byte) error {
	return a.handle(ctx, subject, data, 0)
}

// event is one decoded message.
type event struct {
	callID string
	seg    *msg.Segment
	span   *msg.TimelineEvent
	call   *msg.CallEvent
	final  bool // a final CallSentiment: this analyzer finished the call before
}

// decode reads a message of the analyzer's subjects; ok is false for a
// schema that is not the analyzer's.
func decode(subject string, data []byte) (ev event, ok bool, err error) {
	name, _, err := msg.SchemaOf(data)
	if err != nil {
		return ev, false, fmt.Errorf("sentiment: %s: %w", subject, err)
	}
	switch name {
	case "segment":
		ev.seg = new(msg.Segment)
		if err := msg.Unmarshal(data, ev.seg); err != nil {
			return ev, false, fmt.Errorf("sentiment: %s: %w", subject, err)
		}
		ev.callID = ev.seg.CallID
	case "timeline":
		ev.span = new(msg.TimelineEvent)
		if err := msg.Unmarshal(data, ev.span); err != nil {
			return ev, false, fmt.Errorf("sentiment: %s: %w", subject, err)
		}
		ev.callID = ev.span.CallID
	case "call":
		ev.call = new(msg.CallEvent)
		if err := msg.Unmarshal(data, ev.call); err != nil {
			return ev, false, fmt.Errorf("sentiment: %s: %w", subject, err)
		}
		ev.callID = ev.call.CallID
	case "call-sentiment":
		var cs msg.CallSentiment
		if err := msg.Unmarshal(data, &cs); err != nil {
			return ev, false, fmt.Errorf("sentiment: %s: %w", subject, err)
		}
		ev.callID, ev.final = cs.CallID, cs.Final
	default:
		return ev, false, nil
	}
	if err := msg.ValidateCallID(ev.callID); err != nil {
		return ev, false, fmt.Errorf("sentiment: %s: %w", subject, err)
	}
	if ev.seg != nil && !ev.seg.Leg.Valid() {
		return ev, false, fmt.Errorf("sentiment: segment %q: %w: leg %q", ev.seg.ID, msg.ErrInvalidField, ev.seg.Leg)
	}
	if k := ev.span; k != nil && (k.Kind == msg.SpanTalk || k.Kind == msg.SpanOverlap) && !k.Leg.Valid() {
		return ev, false, fmt.Errorf("sentiment: timeline of %s: %w: %s span with leg %q", ev.callID, msg.ErrInvalidField, k.Kind, k.Leg)
	}
	return ev, true, nil
}

// handle applies the message at stream sequence seq (0: unknown). The first
// message of a call that is not its start (the analyzer restarted mid-call)
// first replays the call's earlier messages from the stream, so its final
// results count the whole call.
func (a *Analyzer) handle(ctx context.Context, subject string, data []byte, seq uint64) error {
	ev, ok, err := decode(subject, data)
	if err != nil {
		return bus.Permanent(err)
	}
	if !ok || ev.final || ev.seg != nil && ev.seg.Interim {
		return nil
	}
	st := a.state(ctx, ev, seq)
	if st == nil {
		return a.apply(ctx, nil, ev, true)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done { // finished by a sweep meanwhile
		return a.apply(ctx, nil, ev, true)
	}
	st.lastSeen = time.Now()
	return a.apply(ctx, st, ev, true)
}

// state is the state of ev's call, nil when the call is finished. A call
// not seen before gets a new state, with its history replayed when ev is
// not its start. Only the worker that handles the call's messages calls
// it, so no other creates the same call meanwhile.
func (a *Analyzer) state(ctx context.Context, ev event, seq uint64) *callState {
	a.mu.Lock()
	st, js := a.calls[ev.callID], a.js
	_, done := a.finished[ev.callID]
	a.mu.Unlock()
	if st != nil || done {
		return st
	}
	st = a.newState(ev.callID)
	if seq > 0 && js != nil && (ev.call == nil || ev.call.Kind != msg.CallStarted) {
		a.replay(ctx, js, st, ev.callID, seq)
		if st.finalSeen {
			a.forget(ev.callID)
			return nil
		}
	}
	a.mu.Lock()
	a.calls[ev.callID] = st
	a.active.Set(float64(len(a.calls)))
	a.mu.Unlock()
	return st
}

func (a *Analyzer) newState(callID string) *callState {
	tr, _ := NewTracker(a.cfg.Tracker)                          // validated in NewAnalyzer
	ch, _ := characteristics.New(callID, a.cfg.Characteristics) // likewise
	return &callState{tracker: tr, chars: ch, finals: map[string]bool{}, perLeg: map[msg.Role]int{}, lastSeen: time.Now()}
}

// forget drops a call's state and remembers it finished.
func (a *Analyzer) forget(callID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.calls, callID)
	a.finished[callID] = time.Now()
	a.active.Set(float64(len(a.calls)))
}

// replayTimeout bounds reading a call's history.
const replayTimeout = 10 * time.Second

// replay applies the call's messages before stream sequence before to st,
// publishing nothing. On failure the call goes on with what was read.
func (a *Analyzer) replay(ctx context.Context, js jetstream.JetStream, st *callState, callID string, before uint64) {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	n, err := a.readHistory(ctx, js, st, callID, before)
	if err != nil {
		a.log.Warn("reading a call's earlier messages failed; its results may miss them", "call", callID, "read", n, "err", err)
		return
	}
	if n > 0 {
		a.log.Info("call picked up mid-way: earlier messages replayed", "call", callID, "messages", n)
	}
}

func (a *Analyzer) readHistory(ctx context.Context, js jetstream.JetStream, st *callState, callID string, before uint64) (int, error) {
	cons, err := js.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{msg.SubjectCall(callID), msg.SubjectTimeline(callID), msg.SubjectTranscript(callID), msg.SubjectCallSentiment(callID)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		// nats.go retries a reset for ever by default, past the read's
		// context: a connection closed mid-replay would hold the handler.
		MaxResetAttempts: 3,
	})
	if err != nil {
		return 0, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return 0, err
	}
	defer it.Stop()
	n := 0
	for {
		// The message being handled is in the stream, so this ends there.
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return n, err
		}
		md, err := m.Metadata()
		if err != nil {
			return n, err
		}
		if md.Sequence.Stream >= before {
			return n, nil
		}
		ev, ok, err := decode(m.Subject(), m.Data())
		switch {
		case err != nil || !ok || ev.seg != nil && ev.seg.Interim:
		case ev.final:
			st.finalSeen = true
		default:
			_ = a.apply(ctx, st, ev, false) // publishes nothing, so cannot fail
			n++
			// The grace and idle time count from when the events were
			// published, not from now.
			st.lastSeen = md.Timestamp
			if ev.call != nil && ev.call.Kind == msg.CallEnded {
				st.endedAt = md.Timestamp
			}
		}
		if md.NumPending == 0 {
			return n, nil // the call's last message so far
		}
	}
}

// resume rebuilds, when the analyzer takes calls over (a partition taken,
// a restart), the calls whose events were all handled before stream
// sequence from but that are not finished: no message of theirs will
// come to pick them up, and they wait only on their grace or idle time,
// which the sweep then counts from their events' times. Calls with
// messages from on are picked up as those come.
func (a *Analyzer) resume(ctx context.Context, from uint64, owns func(string) bool) error {
	a.mu.Lock()
	js := a.js
	a.mu.Unlock()
	if js == nil || from <= 1 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	open, err := a.openCalls(ctx, js, from, owns)
	if err != nil {
		return err
	}
	for _, id := range open {
		st := a.newState(id)
		if _, err := a.readHistory(ctx, js, st, id, from); err != nil {
			return fmt.Errorf("sentiment: rebuilding call %s: %w", id, err)
		}
		if st.finalSeen {
			a.forget(id)
			continue
		}
		a.mu.Lock()
		if a.calls[id] != nil {
			a.mu.Unlock()
			continue
		}
		a.calls[id] = st
		a.active.Set(float64(len(a.calls)))
		a.mu.Unlock()
		a.log.Info("call taken over waiting on its grace or idle time; rebuilt from the stream", "call", id)
		st.mu.Lock()
		err := a.maybeFinish(ctx, id, st)
		st.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// openCalls are the calls owns takes with a call event in the stream
// before sequence from, within Idle, and no final results there, that
// this analyzer neither keeps nor finished.
func (a *Analyzer) openCalls(ctx context.Context, js jetstream.JetStream, from uint64, owns func(string) bool) ([]string, error) {
	since := time.Now().Add(-a.cfg.Idle)
	cons, err := js.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects:   []string{msg.AllCalls, msg.SubjectCallSentiment("*")},
		DeliverPolicy:    jetstream.DeliverByStartTimePolicy,
		OptStartTime:     &since,
		MaxResetAttempts: 3,
	})
	if err != nil {
		return nil, err
	}
	if cons.CachedInfo().NumPending == 0 {
		return nil, nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	var order []string
	open := map[string]bool{}
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, err
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, err
		}
		if md.Sequence.Stream >= from {
			break
		}
		if ev, ok, err := decode(m.Subject(), m.Data()); err == nil && ok && owns(ev.callID) {
			switch {
			case ev.final:
				open[ev.callID] = false
			case ev.call != nil:
				if _, seen := open[ev.callID]; !seen {
					open[ev.callID] = true
					order = append(order, ev.callID)
				}
			}
		}
		if md.NumPending == 0 {
			break
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var ids []string
	for _, id := range order {
		_, done := a.finished[id]
		if open[id] && !done && a.calls[id] == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// apply applies ev to st (nil: the call is finished) and, when live,
// publishes what changed and finishes the call if it is complete.
func (a *Analyzer) apply(ctx context.Context, st *callState, ev event, live bool) error {
	switch {
	case ev.seg != nil:
		return a.segment(ctx, st, *ev.seg, live)
	case ev.span != nil:
		if st == nil {
			return nil
		}
		st.chars.AddSpan(*ev.span)
		st.atMS = max(st.atMS, ev.span.EndMS)
		if !live {
			return nil
		}
		return a.publish(ctx, msg.SubjectCharacteristics(ev.callID), st.chars.Snapshot(st.atMS, st.duration, false))
	case ev.call != nil:
		if st == nil || ev.call.Kind != msg.CallEnded {
			return nil
		}
		if !st.ended {
			st.ended, st.endedAt = true, time.Now()
		}
		st.duration = ev.call.DurationMS
		st.finalJobs = ev.call.FinalJobs
		st.atMS = max(st.atMS, ev.call.DurationMS)
		if !live {
			return nil
		}
		return a.maybeFinish(ctx, ev.callID, st)
	}
	return nil
}

func (a *Analyzer) segment(ctx context.Context, st *callState, seg msg.Segment, live bool) error {
	if st != nil && st.finals[seg.ID] {
		if !live {
			return nil
		}
		return a.maybeFinish(ctx, seg.CallID, st) // redelivered: results already out
	}
	s := a.cfg.Models.Score(seg.Language, seg.Text)
	if live {
		if err := a.publish(ctx, msg.SubjectScoredSegment(seg.CallID), msg.ScoredSegment{Segment: seg, Sentiment: s}); err != nil {
			return err
		}
		a.scored.WithLabelValues(s.Label).Inc()
	}
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
		if live {
			if err := a.publish(ctx, msg.SubjectCallSentiment(seg.CallID), st.tracker.Snapshot(seg.CallID, st.atMS, st.duration, false)); err != nil {
				return err
			}
		}
	}
	if !live {
		return nil
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
	st.done = true
	a.forget(callID)
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
	if p := a.cfg.Partitions; p != nil {
		// Calls of a partition given up are the new owner's, who picks
		// them up from the stream: finishing them here would do it twice.
		for id := range a.calls {
			if !p.Owns(id) {
				delete(a.calls, id)
			}
		}
		a.active.Set(float64(len(a.calls)))
	}
	calls := make(map[string]*callState, len(a.calls))
	maps.Copy(calls, a.calls)
	for id, at := range a.finished {
		if now.Sub(at) >= a.cfg.Idle {
			delete(a.finished, id)
		}
	}
	a.mu.Unlock()
	for id, st := range calls {
		st.mu.Lock()
		a.sweep(ctx, now, id, st)
		st.mu.Unlock()
	}
}

// sweep finishes the call id if its grace or idle time has passed at now.
func (a *Analyzer) sweep(ctx context.Context, now time.Time, id string, st *callState) {
	var reason string
	switch {
	case st.done:
		return
	case st.ended && now.Sub(st.endedAt) >= a.cfg.Grace:
		reason = finishGrace
	case !st.ended && now.Sub(st.lastSeen) >= a.cfg.Idle:
		reason = finishIdle
	default:
		return
	}
	if err := a.finish(ctx, id, st, reason); err != nil && ctx.Err() == nil {
		a.log.Warn("publishing a call's final results failed; will retry", "call", id, "err", err)
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
