package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/record"
	"github.com/earshot-dev/earshot/redact"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Policy says what the archiver keeps of text it redacts.
type Policy string

// The redaction policies, as Contact Lens names them.
const (
	// PolicyRedacted keeps only the redacted text (the default).
	PolicyRedacted Policy = "redacted"
	// PolicyRedactedAndOriginal also keeps the original text, apart, for
	// readers allowed to see it (Call with original=true).
	PolicyRedactedAndOriginal Policy = "redacted-and-original"
)

// ParsePolicy reads a policy name as given on the command line.
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case "":
		return PolicyRedacted, nil
	case PolicyRedacted, PolicyRedactedAndOriginal:
		return Policy(s), nil
	}
	return "", fmt.Errorf("store: redaction policy %q: want redacted or redacted-and-original", s)
}

// keptSubjects are the subjects of what the archiver keeps; the rest of
// the events stream (timeline spans, rule events, its own redactions and
// announcements) is acked unread (see Run).
var keptSubjects = []string{msg.AllCalls, msg.AllDTMF, msg.AllTranscripts, msg.AllAnalysis, msg.AllAlerts, msg.AllCategories, msg.AllEvaluations, msg.AllSurveys}

// keeps says whether subject is one of keptSubjects.
func keeps(subject string) bool {
	for _, s := range keptSubjects {
		if strings.HasPrefix(subject, strings.TrimSuffix(s, ">")) {
			return true
		}
	}
	return false
}

// ArchiverConfig configures an Archiver. Store is required; the rest has
// defaults.
type ArchiverConfig struct {
	Store Writer
	// Redactor masks text; default redact.New(redact.Config{}) ("[PII]").
	Redactor *redact.Redactor
	Policy   Policy
	// Durable is the JetStream consumer's name; default "store".
	Durable string
	// AckWait is how long a message handed to the archiver may go unacked
	// (it was in flight when the archiver stopped) before NATS redelivers
	// it; default the bus's (30s).
	AckWait time.Duration
	Logger  *slog.Logger
	// Metrics, when set, gets the archiver's collectors.
	Metrics prometheus.Registerer
	// OnStored, when set, is called after each message is stored (or
	// skipped as nothing to keep), before it is acked; not for what the
	// consumer acks unread (timeline spans, rule events, redactions and
	// announcements).
	OnStored func(subject string)
}

// Archiver consumes call events from NATS, redacts them and writes them to a
// store. It acks a message only after its write, and every write is
// idempotent, so a restart or a redelivery loses and duplicates nothing.
type Archiver struct {
	cfg ArchiverConfig
	log *slog.Logger
	js  jetstream.JetStream // set by Run: where audio redactions go

	mu      sync.Mutex
	pressed map[string]pressed // call -> DTMF digits pressed so far

	handled    *prometheus.CounterVec
	redactions *prometheus.CounterVec
	writeTime  prometheus.Histogram
}

// maxPressedCalls bounds the calls whose DTMF digits are remembered.
const maxPressedCalls = 10000

// NewArchiver checks cfg and returns an Archiver.
func NewArchiver(cfg ArchiverConfig) (*Archiver, error) {
	if cfg.Store == nil {
		return nil, errors.New("store: archiver needs a store")
	}
	p, err := ParsePolicy(string(cfg.Policy))
	if err != nil {
		return nil, err
	}
	cfg.Policy = p
	if cfg.Redactor == nil {
		if cfg.Redactor, err = redact.New(redact.Config{}); err != nil {
			return nil, err
		}
	}
	if cfg.Durable == "" {
		cfg.Durable = "store"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Archiver{
		cfg: cfg, log: cfg.Logger, pressed: map[string]pressed{},
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_store_messages_total", Help: "Messages the store archiver handled, by schema and result (stored, skipped, failed).",
		}, []string{"schema", "result"}),
		redactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_store_redactions_total", Help: "Entities redacted before storing, by type.",
		}, []string{"type"}),
		writeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "earshot_store_write_seconds", Help: "Time to store one message.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
		}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{a.handled, a.redactions, a.writeTime} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("store: metrics: %w", err)
			}
		}
	}
	return a, nil
}

// archiverBatch is how many messages the archiver fetches ahead and, when
// the store is a Batcher, writes in one transaction.
const archiverBatch = 256

// Run consumes until ctx is done, then returns after the messages in hand
// are stored or left for redelivery. With a Batcher store, the messages
// waiting are written in one transaction and acked after its commit.
func (a *Archiver) Run(ctx context.Context, js jetstream.JetStream) error {
	cc := bus.ConsumerConfig{
		// The whole stream, unfiltered: what is not on keptSubjects is
		// acked unread. A consumer filtered on several subjects costs the
		// server a search of each stored block's subjects for every
		// message it hands out while the consumer is behind, and the
		// further behind, the dearer: the archiver, when behind, spent
		// 15% of `earshot run`'s CPU at 300 calls in that search (the
		// events stream keeps a week of per-call subjects), and 47% of
		// BenchmarkArchiverMix's, so once behind it stayed behind.
		Stream: bus.StreamEvents, Durable: a.cfg.Durable,
		Workers: 1, Key: bus.ByCall, Batch: archiverBatch, AckWait: a.cfg.AckWait, Logger: a.log,
	}
	a.js = js
	if b, ok := a.cfg.Store.(Batcher); ok {
		cc.Together = func(ctx context.Context, each func(ctx context.Context) error) error {
			var p batched
			if err := b.Batch(context.WithValue(ctx, batchKey{}, &p), each); err != nil {
				return err
			}
			for _, call := range p.final {
				if err := a.finished(ctx, call); err != nil {
					return err // the batch is handled again, message by message
				}
			}
			if err := a.announce(ctx, p.complete); err != nil {
				return err
			}
			if a.cfg.OnStored != nil {
				for _, s := range p.stored {
					a.cfg.OnStored(s)
				}
			}
			return nil
		}
	}
	return bus.Consume(ctx, js, cc, func(ctx context.Context, m jetstream.Msg) error {
		if !keeps(m.Subject()) {
			return nil
		}
		return a.Handle(ctx, m.Subject(), m.Data())
	})
}

// batchKey is the context key of what a batch not yet committed did
// (batched): after the commit, OnStored is called for the subjects stored,
// the final calls' audio redactions are published and the complete calls
// are announced.
type batchKey struct{}

type batched struct {
	stored   []string
	final    []string // calls whose final characteristics the batch stored
	complete []string // calls whose final categories the batch stored
}

// announce publishes a CallStored for each call, once the writes that
// complete them are committed: the rules publish a call's final
// categories after everything else of it, and the archiver keeps the
// stream's order. A failure returns the error, so that the messages are
// handled again (their writes are idempotent, and the message id keeps
// the announcement single). Without a bus (Handle alone) there is no one
// to tell.
func (a *Archiver) announce(ctx context.Context, calls []string) error {
	if a.js == nil {
		return nil
	}
	for _, call := range calls {
		b, err := msg.Marshal(msg.CallStored{CallID: call})
		if err != nil {
			return err
		}
		if _, err := a.js.Publish(ctx, msg.SubjectStored(call), b, jetstream.WithMsgID("stored/"+call)); err != nil {
			return fmt.Errorf("store: announcing that %s is stored: %w", call, err)
		}
	}
	return nil
}

// Handle stores one message. Malformed messages are refused as permanent
// (bus dead-letters them); store errors are returned for a retry.
func (a *Archiver) Handle(ctx context.Context, subject string, data []byte) error {
	schema, _, err := msg.SchemaOf(data)
	if err != nil {
		a.handled.WithLabelValues("unknown", "failed").Inc()
		return bus.Permanent(fmt.Errorf("store: %s: %w", subject, err))
	}
	start := time.Now()
	stored, err := a.handle(ctx, schema, data)
	switch {
	case err != nil:
		a.handled.WithLabelValues(schema, "failed").Inc()
		if errors.Is(err, msg.ErrMalformed) || errors.Is(err, msg.ErrNewerVersion) || errors.Is(err, msg.ErrInvalidCallID) || errors.Is(err, msg.ErrWrongSchema) {
			return bus.Permanent(fmt.Errorf("store: %s: %w", subject, err))
		}
		return fmt.Errorf("store: %s: %w", subject, err)
	case stored:
		a.writeTime.Observe(time.Since(start).Seconds())
		a.handled.WithLabelValues(schema, "stored").Inc()
	default:
		a.handled.WithLabelValues(schema, "skipped").Inc()
	}
	if p, ok := ctx.Value(batchKey{}).(*batched); ok {
		p.stored = append(p.stored, subject)
	} else if a.cfg.OnStored != nil {
		a.cfg.OnStored(subject)
	}
	return nil
}

func decode[T any, PT interface {
	*T
	msg.Message
}](data []byte) (T, error) {
	var v T
	err := msg.Unmarshal(data, PT(&v))
	return v, err
}

// handle decodes and writes one message; it reports whether it wrote anything.
func (a *Archiver) handle(ctx context.Context, schema string, data []byte) (bool, error) {
	w := a.cfg.Store
	switch schema {
	case "call":
		ev, err := decode[msg.CallEvent](data)
		if err != nil {
			return false, err
		}
		if err := msg.ValidateCallID(ev.CallID); err != nil {
			return false, err
		}
		if err := w.PutCall(ctx, ev); err != nil {
			return false, err
		}
		if ev.Kind == msg.CallEnded {
			a.mu.Lock()
			delete(a.pressed, ev.CallID)
			a.mu.Unlock()
		}
	case "segment":
		seg, err := decode[msg.Segment](data)
		if err != nil {
			return false, err
		}
		if seg.Interim {
			return false, nil // only finals are kept
		}
		return true, w.PutSegment(ctx, a.redactSegment(seg, nil))
	case "scored-segment":
		ss, err := decode[msg.ScoredSegment](data)
		if err != nil {
			return false, err
		}
		if ss.Segment.Interim {
			return false, nil
		}
		sent := ss.Sentiment
		return true, w.PutSegment(ctx, a.redactSegment(ss.Segment, &sent))
	case "call-sentiment":
		cs, err := decode[msg.CallSentiment](data)
		if err != nil {
			return false, err
		}
		return true, w.PutCallSentiment(ctx, cs)
	case "characteristics":
		c, err := decode[msg.Characteristics](data)
		if err != nil {
			return false, err
		}
		if err := w.PutCharacteristics(ctx, c); err != nil {
			return false, err
		}
		if !c.Final {
			return true, nil
		}
		if p, ok := ctx.Value(batchKey{}).(*batched); ok {
			p.final = append(p.final, c.CallID) // once the batch is committed
			return true, nil
		}
		return true, a.finished(ctx, c.CallID)
	case "alert":
		al, err := decode[msg.Alert](data)
		if err != nil {
			return false, err
		}
		al.Message = a.redactText(al.CallID, al.Message, "")
		a.redactMatches(al.CallID, al.Matches)
		al.Original = nil // alerts are kept redacted only
		return true, w.PutAlert(ctx, al)
	case "categories":
		c, err := decode[msg.Categories](data)
		if err != nil {
			return false, err
		}
		for i := range c.Categories {
			a.redactMatches(c.CallID, c.Categories[i].Matches)
		}
		if err := w.PutCategories(ctx, c); err != nil || !c.Final {
			return true, err
		}
		if p, ok := ctx.Value(batchKey{}).(*batched); ok {
			p.complete = append(p.complete, c.CallID) // once the batch is committed
			return true, nil
		}
		return true, a.announce(ctx, []string{c.CallID})
	case "dtmf":
		ev, err := decode[msg.DTMFEvent](data)
		if err != nil {
			return false, err
		}
		a.press(ev)
		orig := ""
		if a.cfg.Policy == PolicyRedactedAndOriginal {
			orig = ev.Digit
		}
		ev.Digit = a.cfg.Redactor.Token(redact.PIN)
		return true, w.PutDTMF(ctx, ev, orig)
	case "evaluation":
		ev, err := decode[msg.Evaluation](data)
		if err != nil {
			return false, err
		}
		for i := range ev.Answers {
			ev.Answers[i].Comment = a.redactText(ev.CallID, ev.Answers[i].Comment, "")
		}
		return true, w.PutEvaluation(ctx, ev)
	case "survey":
		r, err := decode[msg.SurveyResult](data)
		if err != nil {
			return false, err
		}
		if err := r.Validate(); err != nil {
			return false, err
		}
		return true, w.PutSurvey(ctx, r)
	default:
		// Timeline spans and rule events: nothing the store keeps.
		return false, nil
	}
	return true, nil
}

// finished publishes a call whose final characteristics are committed:
// its msg.AudioRedaction, read from the store, so that it covers every
// segment stored before the final (the analysis saw them all first).
// Without a bus (Handle alone) or a store that reads, there is no one to
// tell.
func (a *Archiver) finished(ctx context.Context, call string) error {
	r, ok := a.cfg.Store.(Reader)
	if a.js == nil || !ok {
		return nil
	}
	rec, err := r.Call(ctx, call, false)
	if err != nil {
		return fmt.Errorf("store: reading call %s for its audio redaction: %w", call, err)
	}
	b, err := msg.Marshal(msg.AudioRedaction{CallID: call, Spans: record.Masked(&rec)})
	if err != nil {
		return err
	}
	if _, err := a.js.Publish(ctx, msg.SubjectRedaction(call), b); err != nil {
		return fmt.Errorf("store: publishing the audio redaction of %s: %w", call, err)
	}
	return nil
}

// pressed is what a call's DTMF events pressed so far.
type pressed struct {
	digits string
	lastMS int64 // StartMS of the last digit
}

// press adds ev's digit to its call's, once: an event handled again (a
// redelivery, or a batch written again message by message) is not after
// the last digit.
func (a *Archiver) press(ev msg.DTMFEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.pressed[ev.CallID]
	if !ok && len(a.pressed) >= maxPressedCalls {
		clear(a.pressed)
	}
	if ok && ev.StartMS <= p.lastMS {
		return
	}
	a.pressed[ev.CallID] = pressed{digits: p.digits + ev.Digit, lastMS: ev.StartMS}
}

// pressedRuns are the runs of digits (0-9) pressed on a call.
func (a *Archiver) pressedRuns(call string) []string {
	a.mu.Lock()
	p := a.pressed[call].digits
	a.mu.Unlock()
	return strings.FieldsFunc(p, func(r rune) bool { return r < '0' || r > '9' })
}

// redactText masks entities and DTMF digits in text said in lang (empty:
// unknown, the redactor reads Hangul as Korean), counting what it masked.
func (a *Archiver) redactText(call, text, lang string) string {
	out, ents := a.cfg.Redactor.RedactLang(text, lang)
	for _, e := range ents {
		a.redactions.WithLabelValues(string(e.Type)).Inc()
	}
	if runs := a.pressedRuns(call); len(runs) > 0 {
		out = a.cfg.Redactor.RedactDigits(out, runs)
	}
	return out
}

func (a *Archiver) redactMatches(call string, ms []msg.Match) {
	for i := range ms {
		ms[i].Text = a.redactText(call, ms[i].Text, "")
	}
}

// redactSegment returns the segment as it is stored: its text redacted,
// the words of what was masked kept for their times but emptied and
// marked Redacted (so the recording can be silenced there), and the
// original kept only under PolicyRedactedAndOriginal.
func (a *Archiver) redactSegment(seg msg.Segment, sent *msg.Sentiment) msg.StoredSegment {
	orig := seg.Text
	seg.Text = a.redactText(seg.CallID, seg.Text, seg.Language)
	st := msg.StoredSegment{Segment: seg, Sentiment: sent}
	if seg.Text != orig {
		ents := append(redact.FindLang(orig, seg.Language), redact.FindDigits(orig, a.pressedRuns(seg.CallID))...)
		st.Words = maskWords(orig, seg, ents)
		if a.cfg.Policy == PolicyRedactedAndOriginal {
			st.Original = orig
		}
	}
	return st
}

// maskWords returns seg's words with those that overlap an entity of
// text emptied and marked Redacted. When a word cannot be found in the
// text, or an entity is not covered by words, the whole segment is one
// redacted word: the audio is silenced too much rather than too little.
func maskWords(text string, seg msg.Segment, ents []redact.Entity) []msg.Word {
	whole := []msg.Word{{StartMS: seg.StartMS, EndMS: seg.EndMS, Redacted: true}}
	if len(seg.Words) == 0 {
		return whole
	}
	words := slices.Clone(seg.Words)
	inWord := make([]bool, len(text)) // bytes of text some word spells
	at := 0
	for i := range words {
		w := strings.TrimSpace(words[i].Text)
		k := strings.Index(text[at:], w)
		if w == "" || k < 0 {
			return whole
		}
		start, end := at+k, at+k+len(w)
		at = end
		for b := start; b < end; b++ {
			inWord[b] = true
		}
		for _, e := range ents {
			if start < e.End && e.Start < end {
				words[i].Text, words[i].Redacted = "", true
			}
		}
	}
	for _, e := range ents {
		for b := e.Start; b < e.End; b++ {
			if !inWord[b] && text[b] != ' ' {
				return whole // said in words the transcriber did not time
			}
		}
	}
	return words
}

// RetentionConfig configures Retain.
type RetentionConfig struct {
	// Days: calls that started more than this many days ago are deleted;
	// 0 keeps everything.
	Days int
	// Every is how often to look; default an hour.
	Every  time.Duration
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Retain deletes old calls from w now and then every cfg.Every until ctx is
// done. A failed pass is logged and retried at the next tick.
func Retain(ctx context.Context, w Writer, cfg RetentionConfig) error {
	if cfg.Days < 0 {
		return fmt.Errorf("store: retention of %d days: must not be negative", cfg.Days)
	}
	if cfg.Days == 0 {
		<-ctx.Done()
		return nil
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	for {
		cutoff := cfg.Now().Add(-time.Duration(cfg.Days) * 24 * time.Hour)
		n, err := w.DeleteBefore(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			cfg.Logger.Error("retention pass failed", "err", err)
		case n > 0:
			cfg.Logger.Info("retention deleted old calls", "calls", n, "before", cutoff.Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
