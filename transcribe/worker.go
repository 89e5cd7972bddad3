package transcribe

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Worker. The zero value, with an Engine, is usable.
type Config struct {
	// Engine is required. The worker wraps it with the guard.
	Engine Engine
	// Workers is how many jobs are transcribed at once in this process;
	// default 1. The engine must allow as many concurrent calls (the
	// whisper engine is built with the same count).
	Workers int
	// Durable names the JetStream consumer shared by every worker process;
	// default "asr".
	Durable string
	// AckWait is how long a job may go without a sign of life before it is
	// redelivered to another worker: what a job waits when its worker is
	// killed; default 5s. The worker signals progress every AckWait/3
	// while the engine runs.
	AckWait time.Duration
	// MaxDeliver bounds the attempts at a job whose engine failed before
	// it is dead-lettered; default 5. An engine that is unavailable
	// (ErrUnavailable) does not count against it.
	MaxDeliver int
	// RetryBackoff and MaxRetryBackoff are the delays before a failed job
	// is tried again: RetryBackoff doubling up to MaxRetryBackoff (how
	// soon after an outage the jobs go on); defaults 250ms and 15s.
	RetryBackoff, MaxRetryBackoff time.Duration
	// MaxWait is how long a job is kept while the engine is unavailable
	// before it is dead-lettered; default (and at most) what the work
	// queue keeps (24h) less a minute.
	MaxWait time.Duration
	// Guard configures the silence and hallucination guard.
	Guard GuardConfig
	// KeepStaleInterims transcribes every interim job. By default an
	// interim job is skipped when its leg already has a later job queued
	// (a newer interim or the final): its text would be stale on arrival;
	// and it is not published when such a job arrived while it ran. An
	// interim can still arrive after its final when the final was acked
	// first; consumers keep the final.
	KeepStaleInterims bool
	// ResumeBytes bounds the memory kept of interim jobs' resampled audio
	// so that the next job of the same turn part resamples only what is
	// new (about 10 bytes per 8 kHz sample of a part); default 128 MiB,
	// negative: none kept, each job resampled whole.
	ResumeBytes int64
	// Metrics, when set, receives the worker's collectors.
	Metrics prometheus.Registerer
	Logger  *slog.Logger
}

// Worker takes utterance jobs from the work queue and publishes segments.
type Worker struct {
	cfg    Config
	engine Engine
	info   EngineInfo
	resume *resumer
	log    *slog.Logger

	jobs      *prometheus.CounterVec
	engineSec prometheus.Histogram
	audioSec  prometheus.Counter
	engineUp  prometheus.Gauge

	outage outage
}

// outage is what the worker knows of the engine being unavailable.
type outage struct {
	mu      sync.Mutex
	since   time.Time // zero while the engine answers
	lastLog time.Time
}

// outageLogEvery is how often a continuing outage is logged again.
const outageLogEvery = time.Minute

// New checks cfg and builds a Worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Engine == nil {
		return nil, errors.New("transcribe: worker needs an engine")
	}
	if cfg.Workers < 0 || cfg.MaxDeliver < 0 || cfg.AckWait < 0 || cfg.RetryBackoff < 0 || cfg.MaxRetryBackoff < 0 || cfg.MaxWait < 0 {
		return nil, fmt.Errorf("transcribe: workers %d, max deliver %d, ack wait %s, retry backoff %s to %s and max wait %s must not be negative",
			cfg.Workers, cfg.MaxDeliver, cfg.AckWait, cfg.RetryBackoff, cfg.MaxRetryBackoff, cfg.MaxWait)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Durable == "" {
		cfg.Durable = "asr"
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 5 * time.Second
	}
	if cfg.MaxDeliver == 0 {
		cfg.MaxDeliver = 5
	}
	if cfg.ResumeBytes == 0 {
		cfg.ResumeBytes = 128 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rs, err := NewResampler(msg.SampleRate, EngineRate)
	if err != nil {
		return nil, err
	}
	w := &Worker{
		cfg:    cfg,
		engine: Guarded(cfg.Engine, NewGuard(cfg.Guard)),
		info:   cfg.Engine.Info(),
		resume: &resumer{rs: rs, max: cfg.ResumeBytes},
		log:    cfg.Logger,
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "earshot_asr_jobs_total",
			Help: "Utterance jobs handled, by kind (final, interim) and outcome (text, silence, hallucination, stale, error).",
		}, []string{"kind", "outcome"}),
		engineSec: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "earshot_asr_engine_seconds",
			Help:    "Time the engine took per job.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 10),
		}),
		audioSec: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "earshot_asr_audio_seconds_total",
			Help: "Seconds of audio transcribed.",
		}),
		engineUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "earshot_asr_engine_available",
			Help: "1 while the transcription engine answers, 0 while it is unavailable and jobs wait in the work queue (earshot_jobs_queued, earshot_jobs_oldest_seconds).",
		}),
	}
	w.engineUp.Set(1)
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{w.jobs, w.engineSec, w.audioSec, w.engineUp} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("transcribe: metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Run consumes jobs until ctx is done and returns after every job in hand
// has been finished or left for redelivery.
func (w *Worker) Run(ctx context.Context, js jetstream.JetStream) error {
	stream, err := js.Stream(ctx, bus.StreamAudio)
	if err != nil {
		return fmt.Errorf("transcribe: stream %s: %w", bus.StreamAudio, err)
	}
	w.log.Info("transcription workers started", "engine", w.info.Name, "model", w.info.Model, "workers", w.cfg.Workers)
	return bus.Consume(ctx, js, bus.ConsumerConfig{
		Stream:          bus.StreamAudio,
		Durable:         w.cfg.Durable,
		Filter:          []string{msg.AllAudio},
		Workers:         w.cfg.Workers,
		MaxDeliver:      w.cfg.MaxDeliver,
		AckWait:         w.cfg.AckWait,
		RetryBackoff:    w.cfg.RetryBackoff,
		MaxRetryBackoff: w.cfg.MaxRetryBackoff,
		MaxWait:         w.cfg.MaxWait,
		Logger:          w.log,
		OnDeadLetter: func(ctx context.Context, m jetstream.Msg, reason error) {
			w.deadLettered(ctx, js, m, reason)
		},
	}, func(ctx context.Context, m jetstream.Msg) error {
		return w.handle(ctx, js, stream, m)
	})
}

func (w *Worker) handle(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, m jetstream.Msg) error {
	job, err := msg.DecodeUtterance(m.Data())
	if err != nil {
		return bus.Permanent(fmt.Errorf("transcribe: job on %s: %w", m.Subject(), err))
	}
	kind := kindOf(job.Interim)
	if job.Interim && !w.cfg.KeepStaleInterims && w.superseded(ctx, stream, m) {
		w.jobs.WithLabelValues(kind, "stale").Inc()
		w.log.Debug("stale interim skipped", "job", job.ID(), "rev", job.Rev)
		return nil
	}
	seg, err := w.transcribe(ctx, job, m)
	switch {
	case err == nil:
		w.engineAnswered(ctx, stream)
	case errors.Is(err, ErrRejected):
		w.engineAnswered(ctx, stream)
		return bus.Permanent(err)
	case errors.Is(err, ErrUnavailable) && ctx.Err() == nil:
		w.engineUnavailable(ctx, stream, err)
		return bus.Transient(err)
	default:
		return err
	}
	outcome := "text"
	if seg.Dropped != "" {
		outcome = seg.Dropped
	}
	w.jobs.WithLabelValues(kind, outcome).Inc()
	if job.Interim && seg.Text == "" {
		return nil // an interim with nothing to show
	}
	if job.Interim && !w.cfg.KeepStaleInterims && w.superseded(ctx, stream, m) {
		// The final (or a newer interim) arrived while this ran.
		w.log.Debug("interim superseded while transcribed; not published", "job", job.ID(), "rev", job.Rev)
		return nil
	}
	return w.publish(ctx, js, seg)
}

// transcribe runs the engine on job, telling JetStream the job is in
// progress while it runs.
func (w *Worker) transcribe(ctx context.Context, job *msg.UtteranceJob, m jetstream.Msg) (*msg.Segment, error) {
	audio := Audio{Samples: w.resume.resample(job.ID(), job.PCM, job.Interim), Language: job.Language}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(w.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	}()
	start := time.Now()
	res, err := w.engine.Transcribe(ctx, audio)
	close(stop)
	wg.Wait()
	took := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("transcribe: job %s: %s: %w", job.ID(), w.info.Name, err)
	}
	w.engineSec.Observe(took.Seconds())
	w.audioSec.Add(float64(len(job.PCM)) / msg.SampleRate)
	seg := segmentOf(job, w.info)
	seg.Text, seg.Confidence, seg.Dropped = res.Text, res.Confidence, res.Dropped
	if res.Language != "" {
		seg.Language = res.Language
	}
	for _, wd := range res.Words {
		wd.StartMS += job.StartMS
		wd.EndMS += job.StartMS
		seg.Words = append(seg.Words, wd)
	}
	w.log.Debug("job transcribed", "job", job.ID(), "interim", job.Interim, "audio_ms", job.EndMS-job.StartMS,
		"took", took, "chars", len(seg.Text), "dropped", seg.Dropped)
	return seg, nil
}

// engineUnavailable notes that the engine could not be used: at the start
// of an outage, and every outageLogEvery while it lasts, it logs the jobs
// waiting and how long the oldest has waited.
func (w *Worker) engineUnavailable(ctx context.Context, stream jetstream.Stream, err error) {
	now := time.Now()
	w.outage.mu.Lock()
	first := w.outage.since.IsZero()
	if first {
		w.outage.since = now
	}
	since := w.outage.since
	due := now.Sub(w.outage.lastLog) >= outageLogEvery
	if first || due {
		w.outage.lastLog = now
	}
	w.outage.mu.Unlock()
	w.engineUp.Set(0)
	if !first && !due {
		return
	}
	waiting, oldest := w.queue(ctx, stream)
	if first {
		w.log.Warn("transcription engine unavailable: jobs are kept in the work queue and retried until it is back",
			"engine", w.info.Name, "jobs_waiting", waiting, "oldest_job_age", oldest, "err", err)
		return
	}
	w.log.Warn("transcription engine still unavailable", "engine", w.info.Name, "for", now.Sub(since).Round(time.Second),
		"jobs_waiting", waiting, "oldest_job_age", oldest, "err", err)
}

// engineAnswered notes that the engine answered, ending an outage.
func (w *Worker) engineAnswered(ctx context.Context, stream jetstream.Stream) {
	w.outage.mu.Lock()
	since := w.outage.since
	w.outage.since, w.outage.lastLog = time.Time{}, time.Time{}
	w.outage.mu.Unlock()
	if since.IsZero() {
		return
	}
	w.engineUp.Set(1)
	waiting, oldest := w.queue(ctx, stream)
	w.log.Info("transcription engine back; waiting jobs go on", "engine", w.info.Name, "after", time.Since(since).Round(time.Second),
		"jobs_waiting", waiting, "oldest_job_age", oldest)
}

// queue reports the jobs in the work queue and the oldest one's age, for
// the logs; -1 when the stream cannot say.
func (w *Worker) queue(ctx context.Context, stream jetstream.Stream) (waiting int64, oldest time.Duration) {
	info, err := stream.Info(ctx)
	if err != nil {
		return -1, -1
	}
	return int64(info.State.Msgs), bus.OldestAge(info.State, time.Now()).Round(time.Second)
}

// superseded reports whether the stream already holds a later job on m's
// subject (the same leg): a newer interim or the final of this turn part,
// or a later turn. It asks for the next message on the subject after m,
// so the answer carries audio only when there is one (and the engine run
// it saves is worth far more).
func (w *Worker) superseded(ctx context.Context, stream jetstream.Stream, m jetstream.Msg) bool {
	md, err := m.Metadata()
	if err != nil {
		return false
	}
	next, err := stream.GetMsg(ctx, md.Sequence.Stream+1, jetstream.WithGetMsgSubject(m.Subject()))
	return err == nil && next.Sequence > md.Sequence.Stream
}

func (w *Worker) publish(ctx context.Context, js jetstream.JetStream, seg *msg.Segment) error {
	b, err := msg.Marshal(seg)
	if err != nil {
		return err
	}
	// Not waited for: the worker goes on to its next job, and the job is
	// acked once its segment is stored.
	if err := bus.PublishWithID(ctx, js, msg.SubjectTranscript(seg.CallID), b, segmentMsgID(seg)); err != nil {
		return fmt.Errorf("transcribe: publish segment %s: %w", seg.ID, err)
	}
	return nil
}

// deadLettered publishes the final segment, with Error set, of a final job
// the consumer gave up on. A job whose header cannot be read is treated as
// final, with turn and part 0, so that a call's count of final segments
// still adds up.
func (w *Worker) deadLettered(ctx context.Context, js jetstream.JetStream, m jetstream.Msg, reason error) {
	job, ok := peekJob(m.Subject(), m.Data())
	if !ok {
		w.log.Error("dead-lettered job names no call; no error segment published", "subject", m.Subject())
		return
	}
	w.jobs.WithLabelValues(kindOf(job.Interim), "error").Inc()
	if job.Interim {
		return // its final follows
	}
	seg := segmentOf(job, w.info)
	seg.Error = reason.Error()
	if err := w.publish(ctx, js, seg); err != nil {
		w.log.Error("error segment not published", "job", seg.ID, "err", err)
	}
}

func segmentOf(job *msg.UtteranceJob, info EngineInfo) *msg.Segment {
	return &msg.Segment{
		ID: job.ID(), CallID: job.CallID, Leg: job.Leg, Turn: job.Turn, Part: job.Part,
		Interim: job.Interim, Rev: job.Rev, StartMS: job.StartMS, EndMS: job.EndMS,
		Language: job.Language, Engine: info.Name, Model: info.Model,
	}
}

// segmentMsgID is the JetStream message id of a segment: a job redelivered
// after its segment was stored publishes the same id, which the stream
// drops as a duplicate. The error segment of a dead-lettered job has an id
// of its own, so that the job's text, when it is replayed, is not dropped.
func segmentMsgID(seg *msg.Segment) string {
	switch {
	case seg.Interim:
		return "segment/" + seg.ID + "/interim/" + strconv.Itoa(seg.Rev)
	case seg.Error != "":
		return "segment/" + seg.ID + "/final/error"
	}
	return "segment/" + seg.ID + "/final"
}

func kindOf(interim bool) string {
	if interim {
		return "interim"
	}
	return "final"
}

// peekJob reads what it can of a job that failed to decode: its header when
// that is readable JSON, else the call and leg from its subject.
func peekJob(subject string, b []byte) (*msg.UtteranceJob, bool) {
	var job msg.UtteranceJob
	if len(b) >= 8 && string(b[:4]) == "ESU1" {
		n := binary.BigEndian.Uint32(b[4:8])
		if uint64(n) <= uint64(len(b)-8) && json.Unmarshal(b[8:8+n], &job) == nil &&
			msg.ValidateCallID(job.CallID) == nil && job.Leg.Valid() {
			return &job, true
		}
	}
	tok := strings.Split(subject, ".")
	if len(tok) != 4 || tok[0] != "earshot" || tok[1] != "audio" || msg.ValidateCallID(tok[2]) != nil || !msg.Role(tok[3]).Valid() {
		return nil, false
	}
	return &msg.UtteranceJob{CallID: tok[2], Leg: msg.Role(tok[3])}, true
}
