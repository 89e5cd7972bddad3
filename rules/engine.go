package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/redact"
)

// EngineConfig configures the live engine. JS, NC and Rules are required;
// the rest has defaults.
type EngineConfig struct {
	JS    jetstream.JetStream
	NC    *nats.Conn
	Rules *Manager
	// Durable names the consumer on bus.StreamEvents; default "analyze-rules".
	Durable string
	// Grace is how long after a call's ended event the engine waits for the
	// final sentiment and characteristics before evaluating the call as it
	// is; default 30s.
	Grace time.Duration
	// IdleTimeout ends, evaluates and forgets a call nothing was heard of
	// for this long (its ended event lost); default 2h.
	IdleTimeout time.Duration
	// HTTPClient sends webhooks; default a client with no overall timeout
	// (each attempt has the rule's timeout).
	HTTPClient *http.Client
	// WebhookWorkers deliver webhooks concurrently; default 4.
	WebhookWorkers int
	// Workers is how many calls are evaluated at once, each call's events
	// in order on one of them; default 4.
	Workers int
	// Partitions, when set, spreads the calls over the analyze processes:
	// this one evaluates the calls of the partitions it owns, rebuilding a
	// call's state from the stream when it takes a partition over.
	Partitions *bus.Partitions
	// Redactor masks personal data in every text the engine publishes
	// (alert messages, matched text, webhook bodies); default
	// redact.New(redact.Config{}).
	Redactor *redact.Redactor
	Logger   *slog.Logger
	// Metrics, when set, gets the engine's collectors.
	Metrics prometheus.Registerer
	// Now is the clock; nil for time.Now. While a call has a silence or
	// hold going on, its call clock is taken as Now since the call's
	// StartedAt, so non_talk conditions hold the moment they are reached.
	Now func() time.Time
}

// openEvery is how often calls with a silence or hold going on are
// evaluated against the clock: how late, at most, a non_talk condition
// fires after it is reached.
const openEvery = 100 * time.Millisecond

// Engine evaluates rules on live calls: it consumes call events, DTMF,
// scored segments, call sentiment and characteristics from NATS, keeps
// each call's state, raises alerts, assigns categories and runs actions.
type Engine struct {
	cfg   EngineConfig
	log   *slog.Logger
	hooks chan webhookJob
	ready chan struct{}

	mu    sync.Mutex // guards calls and done; each call's state has its own
	calls map[string]*callState
	done  map[string]time.Time // finished calls: late messages are ignored

	mEvents  *prometheus.CounterVec
	mAlerts  *prometheus.CounterVec
	mHooks   *prometheus.CounterVec
	mEval    prometheus.Histogram
	mReloads *prometheus.CounterVec
}

// NewEngine checks cfg and builds an engine; Run runs it.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.JS == nil || cfg.NC == nil || cfg.Rules == nil {
		return nil, errors.New("rules: engine needs JetStream, a NATS connection and a rules manager")
	}
	if cfg.Durable == "" {
		cfg.Durable = "analyze-rules"
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.WebhookWorkers <= 0 {
		cfg.WebhookWorkers = 4
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Redactor == nil {
		r, err := redact.New(redact.Config{})
		if err != nil {
			return nil, err
		}
		cfg.Redactor = r
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{
		cfg: cfg, log: cfg.Logger, hooks: make(chan webhookJob, 256), ready: make(chan struct{}),
		calls: map[string]*callState{}, done: map[string]time.Time{},
		mEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_rules_events_total", Help: "Events the rules engine consumed, by kind.",
		}, []string{"kind"}),
		mAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_rules_alerts_total", Help: "Alerts raised, by severity.",
		}, []string{"severity"}),
		mHooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_rules_webhooks_total", Help: "Webhook deliveries, by result (ok, failed).",
		}, []string{"result"}),
		mEval: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "earshot_rules_eval_seconds", Help: "Time to take in one event and evaluate the call's rules.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 8),
		}),
		mReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_rules_reloads_total", Help: "Rule reload requests, by result (ok, invalid).",
		}, []string{"result"}),
	}
	collectors := []prometheus.Collector{e.mEvents, e.mAlerts, e.mHooks, e.mEval, e.mReloads,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "earshot_rules_loaded", Help: "Rules in force."},
			func() float64 { return float64(cfg.Rules.Current().Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "earshot_rules_calls", Help: "Calls the rules engine holds state for."},
			func() float64 { e.mu.Lock(); defer e.mu.Unlock(); return float64(len(e.calls)) }),
	}
	if cfg.Metrics != nil {
		for _, c := range collectors {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("rules: metrics: %w", err)
			}
		}
	}
	return e, nil
}

// Run consumes events until ctx is done, and returns after everything it
// started has stopped. It also answers reload requests on
// msg.SubjectRulesReload, reloads the rules file when it changes and, when
// the rules in force are shared, swaps them when another version is put
// in the bucket.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := e.cfg.NC.Subscribe(msg.SubjectRulesReload, func(m *nats.Msg) { e.onReload(ctx, m) })
	if err != nil {
		return fmt.Errorf("rules: subscribe %s: %w", msg.SubjectRulesReload, err)
	}
	var wg sync.WaitGroup
	for range e.cfg.WebhookWorkers {
		wg.Go(func() { e.webhookWorker(ctx) })
	}
	if e.cfg.Rules.Shared() {
		w, err := e.cfg.Rules.sharedWatcher(ctx)
		if err != nil {
			cancel()
			_ = sub.Unsubscribe()
			wg.Wait()
			return err
		}
		wg.Go(func() { e.cfg.Rules.watchShared(ctx, w) })
	}
	if e.cfg.Rules.Path() != "" { // else the rules come from the bucket alone
		if w, err := e.cfg.Rules.watcher(); err != nil {
			e.log.Warn("rules file not watched; reload with a request on "+msg.SubjectRulesReload, "err", err)
		} else {
			wg.Go(func() { e.cfg.Rules.watch(ctx, w) })
		}
	}
	wg.Go(func() { e.sweeper(ctx) })
	close(e.ready)
	err = bus.Consume(ctx, e.cfg.JS, bus.ConsumerConfig{
		Stream: bus.StreamEvents, Durable: e.cfg.Durable, Stage: "rules",
		Filter: []string{msg.AllCalls, msg.AllDTMF, msg.AllAnalysis},
		// Handling an event takes milliseconds; a delivery lost on the way
		// (a pull the client gave up on) comes again after this.
		AckWait: 10 * time.Second,
		Workers: e.cfg.Workers, Key: bus.ByCall, Batch: 64 * e.cfg.Workers,
		Partitions: e.cfg.Partitions,
		Logger:     e.log,
	}, e.handle)
	cancel()
	_ = sub.Unsubscribe()
	wg.Wait()
	return err
}

// Ready is closed once Run answers reload requests and watches the rules
// file. Events published before are not lost either way: the consumer is
// durable.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

func (e *Engine) onReload(ctx context.Context, m *nats.Msg) {
	rs, err := e.cfg.Rules.Reload(ctx)
	reply := msg.RulesReloadReply{OK: err == nil, Rules: rs.Len(), Version: rs.Version}
	if err != nil {
		reply.Error = err.Error()
		e.mReloads.WithLabelValues("invalid").Inc()
	} else {
		e.mReloads.WithLabelValues("ok").Inc()
	}
	b, merr := msg.Marshal(reply)
	if merr != nil {
		return
	}
	if m.Reply != "" {
		_ = m.Respond(b)
	}
}

// handle takes one event for a call and evaluates the call's rules.
func (e *Engine) handle(ctx context.Context, m jetstream.Msg) error {
	start := time.Now()
	defer func() { e.mEval.Observe(time.Since(start).Seconds()) }()
	subj := m.Subject()
	call, err := msg.CallFromSubject(subj)
	if err != nil {
		return bus.Permanent(err)
	}
	// Only this worker handles the call's messages (bus Key), so no other
	// creates its state meanwhile; sweeps may finish it.
	e.mu.Lock()
	_, done := e.done[call]
	cs := e.calls[call]
	e.mu.Unlock()
	if done {
		return nil
	}
	isNew := cs == nil
	if isNew {
		cs = newCallState(call, e.cfg.Rules.Current())
		if !isStart(subj, m.Data()) {
			finished, err := e.rehydrate(ctx, cs, m)
			if err != nil {
				e.log.Warn("call state not rebuilt from the stream; evaluating from this event on", "call", call, "err", err)
			}
			if finished {
				e.mu.Lock()
				e.done[call] = time.Now()
				e.mu.Unlock()
				return nil
			}
		}
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.finished { // by a sweep meanwhile
		return nil
	}
	kind, err := ingest(cs, subj, m.Data())
	if err != nil {
		return bus.Permanent(fmt.Errorf("rules: %s: %w", subj, err))
	}
	if kind == "" {
		return nil
	}
	e.mEvents.WithLabelValues(kind).Inc()
	if isNew {
		e.mu.Lock()
		e.calls[call] = cs
		e.mu.Unlock()
	}
	cs.lastSeen = time.Now()
	if kind == "ended" {
		cs.endedAt = cs.lastSeen
	}
	if cs.ended && cs.finalSentiment && cs.finalChars {
		return e.finish(ctx, cs)
	}
	return e.evalLive(ctx, cs)
}

func isStart(subj string, data []byte) bool {
	if !strings.HasPrefix(subj, "earshot.call.") {
		return false
	}
	var ev msg.CallEvent
	return msg.Unmarshal(data, &ev) == nil && ev.Kind == msg.CallStarted
}

// rehydrate rebuilds the state of a call the engine first hears of in the
// middle (it restarted while the call went on) from the call's earlier
// events in the stream, up to m. What those events made hold acted before
// the restart: it is marked fired (and its categories kept) without acting
// again. It reports whether the call was already finished.
func (e *Engine) rehydrate(ctx context.Context, cs *callState, m jetstream.Msg) (bool, error) {
	md, err := m.Metadata()
	if err != nil || md.Sequence.Stream <= 1 {
		return false, nil
	}
	upTo := md.Sequence.Stream
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cons, err := e.cfg.JS.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{msg.SubjectCall(cs.id), msg.SubjectDTMF(cs.id), "earshot.analysis." + cs.id + ".>"},
		// nats.go retries a reset for ever by default, past the fetch's
		// context: a connection closed mid-replay would hold the handler.
		MaxResetAttempts: 3,
	})
	if err != nil {
		return false, fmt.Errorf("replay of %s: %w", cs.id, err)
	}
	n := 0
	for {
		old, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			return false, fmt.Errorf("replay of %s after %d events: %w", cs.id, n, err)
		}
		omd, err := old.Metadata()
		if err != nil {
			return false, fmt.Errorf("replay of %s: %w", cs.id, err)
		}
		if omd.Sequence.Stream >= upTo {
			break
		}
		n++
		kind, err := ingest(cs, old.Subject(), old.Data())
		if err != nil {
			continue // malformed: it was dead-lettered when it first came
		}
		if kind == "ended" {
			cs.endedAt = omd.Timestamp
		}
		cs.lastSeen = time.Now()
	}
	if n == 0 {
		return false, nil
	}
	for _, f := range cs.evaluate(false) {
		if f.rule.Actions.Category != "" {
			ms, _ := e.redactMatches(f.matches)
			cs.addCategory(f.rule.Actions.Category, f.rule.ID, ms)
		}
		cs.markFired(f)
	}
	cs.catsSent = len(cs.cats)
	e.log.Info("call state rebuilt from the stream", "call", cs.id, "events", n)
	return cs.ended && cs.finalSentiment && cs.finalChars, nil
}

// ingest updates a call's state with one message and names its kind ("" for
// a message the rules do not use).
func ingest(cs *callState, subj string, data []byte) (string, error) {
	switch {
	case strings.HasPrefix(subj, "earshot.call."):
		var ev msg.CallEvent
		if err := msg.Unmarshal(data, &ev); err != nil {
			return "", err
		}
		cs.callEvent(&ev)
		if ev.Kind == msg.CallEnded {
			return "ended", nil
		}
		return "call", nil
	case strings.HasPrefix(subj, "earshot.dtmf."):
		var ev msg.DTMFEvent
		if err := msg.Unmarshal(data, &ev); err != nil {
			return "", err
		}
		cs.addDTMF(ev)
		return "dtmf", nil
	case strings.HasSuffix(subj, ".segment"):
		var ss msg.ScoredSegment
		if err := msg.Unmarshal(data, &ss); err != nil {
			return "", err
		}
		if ss.Segment.Interim {
			return "", nil
		}
		cs.addSegment(&ss.Segment, &ss.Sentiment)
		return "segment", nil
	case strings.HasSuffix(subj, ".sentiment"):
		var s msg.CallSentiment
		if err := msg.Unmarshal(data, &s); err != nil {
			return "", err
		}
		cs.setSentiment(&s)
		cs.finalSentiment = cs.finalSentiment || s.Final
		return "sentiment", nil
	case strings.HasSuffix(subj, ".characteristics"):
		var c msg.Characteristics
		if err := msg.Unmarshal(data, &c); err != nil {
			return "", err
		}
		cs.setCharacteristics(&c)
		cs.finalChars = cs.finalChars || c.Final
		return "characteristics", nil
	}
	return "", nil
}

func (e *Engine) evalLive(ctx context.Context, cs *callState) error {
	for _, f := range cs.evaluate(false) {
		if err := e.act(ctx, cs, f); err != nil {
			return err
		}
		cs.markFired(f)
	}
	// Also when an earlier publish failed and the event is redelivered.
	if len(cs.cats) > cs.catsSent {
		return e.publishCategories(ctx, cs, false)
	}
	return nil
}

// finish evaluates a call that has ended with everything known of it,
// publishes its final categories and forgets it.
func (e *Engine) finish(ctx context.Context, cs *callState) error {
	if !cs.ended {
		cs.ended = true
		cs.durationMS = cs.nowMS
	}
	cs.complete = true
	for _, f := range cs.evaluate(true) {
		if err := e.act(ctx, cs, f); err != nil {
			return err
		}
		cs.markFired(f)
	}
	if err := e.publishCategories(ctx, cs, true); err != nil {
		return err
	}
	cs.finished = true
	e.mu.Lock()
	delete(e.calls, cs.id)
	e.done[cs.id] = time.Now()
	e.mu.Unlock()
	return nil
}

// eachCall runs f on every call the engine keeps, with the call's lock
// held, skipping calls finished meanwhile.
func (e *Engine) eachCall(f func(cs *callState)) {
	e.mu.Lock()
	calls := slices.Collect(maps.Values(e.calls))
	e.mu.Unlock()
	for _, cs := range calls {
		cs.mu.Lock()
		if !cs.finished {
			f(cs)
		}
		cs.mu.Unlock()
	}
}

func (e *Engine) publishCategories(ctx context.Context, cs *callState, final bool) error {
	c := msg.Categories{CallID: cs.id, Final: final, Categories: cs.cats}
	if c.Categories == nil {
		c.Categories = []msg.Category{}
	}
	b, err := msg.Marshal(c)
	if err != nil {
		return err
	}
	opts := []jetstream.PublishOpt{}
	if final {
		opts = append(opts, jetstream.WithMsgID("categories/"+cs.id+"/final"))
	}
	if _, err := e.cfg.JS.Publish(ctx, msg.SubjectCategories(cs.id), b, opts...); err != nil {
		return fmt.Errorf("rules: publish categories of %s: %w", cs.id, err)
	}
	cs.catsSent = len(cs.cats)
	return nil
}

// act runs a firing rule's actions.
func (e *Engine) act(ctx context.Context, cs *callState, f firing) error {
	r := f.rule
	n := 1
	if fs := cs.fired[r.index]; fs != nil {
		n = fs.count + 1
	}
	id := fmt.Sprintf("%s/%s/%d", cs.id, r.ID, n)
	at := cs.nowMS
	now := time.Now().UTC()
	// Everything published carries redacted text; only the alert keeps
	// the original, apart, for admins (see msg's package doc).
	matches, masked := e.redactMatches(f.matches)
	text := ""
	if a := r.Actions.Alert; a != nil {
		text, _ = e.cfg.Redactor.Redact(message(a.Message, r, cs, matches, at, a.Severity))
		al := msg.Alert{
			ID: id, CallID: cs.id, RuleID: r.ID, RuleName: r.Name, Severity: a.Severity,
			Message: text, Matches: matches, AtMS: at, Time: now, PostCall: f.postCall,
		}
		if orig := message(a.Message, r, cs, f.matches, at, a.Severity); masked || orig != text {
			al.Original = &msg.AlertOriginal{Message: orig, Matches: make([]string, len(f.matches))}
			for i, m := range f.matches {
				al.Original.Matches[i] = m.Text
			}
		}
		b, err := msg.Marshal(al)
		if err != nil {
			return err
		}
		if _, err := e.cfg.JS.Publish(ctx, msg.SubjectAlert(cs.id), b, jetstream.WithMsgID("alert/"+id)); err != nil {
			return fmt.Errorf("rules: publish alert %s: %w", id, err)
		}
		e.mAlerts.WithLabelValues(a.Severity).Inc()
	}
	if r.Actions.Category != "" {
		cs.addCategory(r.Actions.Category, r.ID, matches)
	}
	if p := r.Actions.Publish; p != nil {
		ev := msg.RuleEvent{CallID: cs.id, RuleID: r.ID, AtMS: at, Matches: matches, Data: p.Data}
		b, err := msg.Marshal(ev)
		if err != nil {
			return err
		}
		if p.Subject == "" {
			_, err = e.cfg.JS.Publish(ctx, msg.SubjectRuleEvent(cs.id), b, jetstream.WithMsgID("event/"+id))
		} else {
			err = e.cfg.NC.Publish(strings.ReplaceAll(p.Subject, "{call}", cs.id), b)
		}
		if err != nil {
			return fmt.Errorf("rules: publish event of %s: %w", id, err)
		}
	}
	if w := r.Actions.Webhook; w != nil {
		data := map[string]string{"rule_name": r.Name}
		if text != "" {
			data["message"] = text
		}
		if f.postCall {
			data["post_call"] = "true"
		}
		maps.Copy(data, w.Data)
		b, err := msg.Marshal(msg.RuleEvent{CallID: cs.id, RuleID: r.ID, AtMS: at, Matches: matches, Data: data})
		if err != nil {
			return err
		}
		select {
		case e.hooks <- webhookJob{hook: w, id: id, body: b}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// redactMatches returns copies of ms with their text redacted, and whether
// anything was masked.
func (e *Engine) redactMatches(ms []msg.Match) ([]msg.Match, bool) {
	if ms == nil {
		return nil, false
	}
	out := make([]msg.Match, len(ms))
	masked := false
	for i, m := range ms {
		t, ents := e.cfg.Redactor.Redact(m.Text)
		m.Text = t
		masked = masked || len(ents) > 0
		out[i] = m
	}
	return out, masked
}

// addCategory puts a category on the call, once.
func (cs *callState) addCategory(name, rule string, ms []msg.Match) {
	for _, c := range cs.cats {
		if c.Name == name {
			return
		}
	}
	cs.cats = append(cs.cats, msg.Category{Name: name, RuleID: rule, Matches: ms})
}

// webhookWorker delivers webhooks until ctx is done, then spends at most
// webhookDrain on the ones still queued.
func (e *Engine) webhookWorker(ctx context.Context) {
	for {
		select {
		case j := <-e.hooks:
			e.deliver(ctx, j)
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), webhookDrain)
			defer cancel()
			for {
				select {
				case j := <-e.hooks:
					e.deliver(dctx, j)
				default:
					return
				}
			}
		}
	}
}

// webhookDrain bounds the delivery of queued webhooks at shutdown.
const webhookDrain = 5 * time.Second

func (e *Engine) deliver(ctx context.Context, j webhookJob) {
	attempts, err := deliver(ctx, e.cfg.HTTPClient, j)
	if err != nil {
		e.mHooks.WithLabelValues("failed").Inc()
		e.log.Warn("webhook not delivered", "delivery", j.id, "attempts", attempts, "err", err)
		return
	}
	e.mHooks.WithLabelValues("ok").Inc()
}

// sweeper finishes calls whose grace after the end has passed, or that went
// idle, and forgets finished calls after a while.
func (e *Engine) sweeper(ctx context.Context) {
	tick := min(max(min(e.cfg.Grace, e.cfg.IdleTimeout)/4, 20*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	open := time.NewTicker(openEvery)
	defer open.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.sweep(ctx, time.Now())
		case <-open.C:
			e.sweepOpen(ctx, e.cfg.Now())
		}
	}
}

// sweepOpen moves the call clock of calls with a silence or hold going on
// to now and evaluates their rules: a non_talk threshold fires when it is
// crossed, not when the silence or hold ends.
func (e *Engine) sweepOpen(ctx context.Context, now time.Time) {
	e.eachCall(func(cs *callState) {
		if cs.ended || cs.chars == nil || len(cs.chars.Open) == 0 || cs.startedAt.IsZero() {
			return
		}
		before := cs.nowMS
		cs.advance(now.Sub(cs.startedAt).Milliseconds())
		if cs.nowMS == before {
			return
		}
		if err := e.evalLive(ctx, cs); err != nil && ctx.Err() == nil {
			e.log.Warn("evaluating a call's open non-talk time failed; will retry", "call", cs.id, "err", err)
		}
	})
}

func (e *Engine) sweep(ctx context.Context, now time.Time) {
	if p := e.cfg.Partitions; p != nil {
		// Calls of a partition given up are the new owner's, who rebuilds
		// them from the stream: finishing them here would do it twice.
		e.mu.Lock()
		for id := range e.calls {
			if !p.Owns(id) {
				delete(e.calls, id)
			}
		}
		e.mu.Unlock()
	}
	e.eachCall(func(cs *callState) {
		due := (cs.ended && now.Sub(cs.endedAt) >= e.cfg.Grace) || now.Sub(cs.lastSeen) >= e.cfg.IdleTimeout
		if !due {
			return
		}
		if err := e.finish(ctx, cs); err != nil && ctx.Err() == nil {
			e.log.Warn("post-call evaluation failed; will retry", "call", cs.id, "err", err)
		}
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	keep := max(e.cfg.IdleTimeout, time.Hour)
	for id, at := range e.done {
		if now.Sub(at) > keep {
			delete(e.done, id)
		}
	}
}
