package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/zaf/g711"
)

const sampleRate = msg.SampleRate

// Object names of a call's recording.
func partsPrefix(call string) string { return call + "/parts/" }

// OriginalName is the sealed recording as capture heard it.
func OriginalName(call string) string { return call + "/original.wav" }

// partName is a part of the recording in progress: the session (the wall
// clock's unix milliseconds at the session's call-clock zero) and the
// call-clock sample it starts at, both zero-padded so names sort in order.
func partName(call string, session, start int64) string {
	return fmt.Sprintf("%s%013d-%012d.ul", partsPrefix(call), session, start)
}

func parsePartName(name string) (session, start int64, ok bool) {
	base := name[strings.LastIndexByte(name, '/')+1:]
	a, b, ok := strings.Cut(strings.TrimSuffix(base, ".ul"), "-")
	s, err1 := strconv.ParseInt(a, 10, 64)
	t, err2 := strconv.ParseInt(b, 10, 64)
	return s, t, ok && err1 == nil && err2 == nil && strings.HasSuffix(base, ".ul")
}

// RecorderConfig configures NewRecorder; the zero value (with a Store) works.
type RecorderConfig struct {
	Store Store
	// Part is how much audio a part holds before it is written. Default 10 s.
	Part time.Duration
	// MaxLag is how far one leg may run ahead of the other before a part is
	// written with the other's audio still missing (as silence). Default 3 s.
	MaxLag time.Duration
	// Queue bounds the writes waiting; a part that finds it full is
	// dropped (a gap) and counted. Default 64.
	Queue int
	// RetryMin and RetryMax bound the backoff between attempts of a failed
	// write. Defaults 500 ms and 30 s.
	RetryMin, RetryMax time.Duration
	// FlushTimeout bounds how long Run, on shutdown, writes what is queued.
	// Default 5 s.
	FlushTimeout time.Duration
	// Idle is how long a recording in progress with no call in this
	// recorder (its recorder stopped mid-call) waits before it is sealed
	// as it is. Default 2 min.
	Idle    time.Duration
	Metrics prometheus.Registerer
	Logger  *slog.Logger
	// Now is the clock; nil for time.Now.
	Now func() time.Time
	// Sealed, when set, is called after a call's recording is sealed.
	Sealed func(call string)
	// Redactor, when set, writes the redacted recording of a call it has
	// the spans of (its analysis was final first) once the call is sealed.
	Redactor *Redactor
}

// Recorder keeps each call's two legs as one recording, written in parts
// as the call goes and sealed into one WAV file when it ends. It
// implements capture's AudioSink: LegAudio and CallEnded never block.
type Recorder struct {
	cfg   RecorderConfig
	log   *slog.Logger
	store Store

	mu      sync.Mutex
	calls   map[string]*recording
	stopped bool
	jobs    chan job

	partsWritten, writeErrors, dropped, sealed prometheus.Counter
}

// recording is a call in progress: the part being filled, from base.
type recording struct {
	session int64 // unix ms of the call clock's zero
	base    int64 // call-clock sample of legs[*][0]
	legs    [channels][]byte
}

// job is a write for the writer: a part or a seal.
type job struct {
	call    string
	name    string // part name; "" for a seal
	data    []byte
	session int64 // a seal: the ending session
	end     int64 // a seal: the call's end on that session's clock
}

// NewRecorder returns a recorder writing to cfg.Store.
func NewRecorder(cfg RecorderConfig) (*Recorder, error) {
	if cfg.Store == nil {
		return nil, errors.New("record: recorder needs a store")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Part, 10*time.Second)
	def(&cfg.MaxLag, 3*time.Second)
	def(&cfg.RetryMin, 500*time.Millisecond)
	def(&cfg.RetryMax, 30*time.Second)
	def(&cfg.FlushTimeout, 5*time.Second)
	def(&cfg.Idle, 2*time.Minute)
	if cfg.Part < 100*time.Millisecond || cfg.MaxLag < 0 || cfg.RetryMin <= 0 || cfg.RetryMax < cfg.RetryMin {
		return nil, fmt.Errorf("record: recorder part %v, max lag %v, retry %v-%v: want a part of 100 ms or more and 0 < min <= max",
			cfg.Part, cfg.MaxLag, cfg.RetryMin, cfg.RetryMax)
	}
	if cfg.Queue == 0 {
		cfg.Queue = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Recorder{
		cfg: cfg, log: cfg.Logger, store: cfg.Store,
		calls: map[string]*recording{}, jobs: make(chan job, cfg.Queue),
		partsWritten: prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_record_parts_written_total", Help: "Recording parts written."}),
		writeErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_record_write_errors_total", Help: "Failed recording writes (each is retried)."}),
		dropped:      prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_record_parts_dropped_total", Help: "Recording parts dropped because the write queue was full (a gap in the recording)."}),
		sealed:       prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_record_sealed_total", Help: "Recordings sealed."}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{r.partsWritten, r.writeErrors, r.dropped, r.sealed} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("record: metrics: %w", err)
			}
		}
	}
	return r, nil
}

func channel(role msg.Role) int {
	if role == msg.RoleCustomer || role == msg.RoleB {
		return 1
	}
	return 0
}

// LegAudio implements capture.AudioSink.
func (r *Recorder) LegAudio(call string, role msg.Role, at int64, pcm []int16) {
	if CheckName(call) != nil || strings.Contains(call, "/") {
		return // not a call id this store can name; capture's ids are
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	rec := r.calls[call]
	if rec == nil {
		rec = &recording{session: r.cfg.Now().UnixMilli() - at*1000/sampleRate, base: at}
		r.calls[call] = rec
	}
	ch := channel(role)
	if at < rec.base { // late for a part already written
		cut := min(rec.base-at, int64(len(pcm)))
		pcm, at = pcm[cut:], at+cut
	}
	buf := rec.legs[ch]
	if fill := at - rec.base - int64(len(buf)); fill > 0 {
		buf = appendSilence(buf, fill)
	} else if fill < 0 { // overlapping audio: the newer wins
		buf = buf[:at-rec.base]
	}
	for _, s := range pcm {
		buf = append(buf, g711.EncodeUlawFrame(s))
	}
	rec.legs[ch] = buf
	part := r.cfg.Part.Milliseconds() * sampleRate / 1000
	lag := r.cfg.MaxLag.Milliseconds() * sampleRate / 1000
	for int64(max(len(rec.legs[0]), len(rec.legs[1]))) >= part+lag ||
		int64(min(len(rec.legs[0]), len(rec.legs[1]))) >= part {
		r.flush(call, rec, part)
	}
}

func appendSilence(b []byte, n int64) []byte {
	for range n {
		b = append(b, silentByte)
	}
	return b
}

// flush queues the first n samples of rec (fewer if it holds fewer) as a
// part. r.mu is held.
func (r *Recorder) flush(call string, rec *recording, n int64) {
	n = min(n, int64(max(len(rec.legs[0]), len(rec.legs[1]))))
	if n == 0 {
		return
	}
	data := make([]byte, 0, 2*n)
	for i := range n {
		for ch := range channels {
			b := silentByte
			if i < int64(len(rec.legs[ch])) {
				b = rec.legs[ch][i]
			}
			data = append(data, b)
		}
	}
	j := job{call: call, name: partName(call, rec.session, rec.base), data: data}
	select {
	case r.jobs <- j:
	default:
		r.dropped.Inc()
		r.log.Warn("record: write queue full, part dropped", "call", call, "start_ms", rec.base*1000/sampleRate)
	}
	for ch := range channels {
		k := min(n, int64(len(rec.legs[ch])))
		rec.legs[ch] = rec.legs[ch][:copy(rec.legs[ch], rec.legs[ch][k:])]
	}
	rec.base += n
}

// CallEnded implements capture.AudioSink: the rest is written and the
// recording sealed.
func (r *Recorder) CallEnded(call string, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.calls[call]
	if r.stopped || rec == nil {
		return
	}
	delete(r.calls, call)
	r.flush(call, rec, 1<<62)
	select {
	case r.jobs <- job{call: call, session: rec.session, end: end}:
	default:
		r.dropped.Inc()
		r.log.Warn("record: write queue full, recording left to seal when idle", "call", call)
	}
}

// Run writes parts and seals recordings until ctx ends, then writes the
// parts of the calls still going on (a recorder started again after this
// one goes on with them) and what is queued, within FlushTimeout.
func (r *Recorder) Run(ctx context.Context) error {
	sweep := time.NewTicker(r.cfg.Idle / 2)
	defer sweep.Stop()
	r.sealIdle(ctx)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case j := <-r.jobs:
			r.do(ctx, j)
		case <-sweep.C:
			r.sealIdle(ctx)
		}
	}
	r.mu.Lock()
	r.stopped = true
	for call, rec := range r.calls {
		r.flush(call, rec, 1<<62)
	}
	clear(r.calls)
	r.mu.Unlock()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FlushTimeout)
	defer cancel()
	for {
		select {
		case j := <-r.jobs:
			r.do(fctx, j)
		default:
			return nil
		}
	}
}

// do runs one job, retrying until it succeeds or ctx ends.
func (r *Recorder) do(ctx context.Context, j job) {
	wait := r.cfg.RetryMin
	for {
		var err error
		if j.name != "" {
			_, err = r.store.Put(ctx, j.name, bytes.NewReader(j.data))
			if err == nil {
				r.partsWritten.Inc()
			}
		} else {
			err = r.seal(ctx, j.call, j.session, j.end)
		}
		if err == nil {
			return
		}
		r.writeErrors.Inc()
		r.log.Error("record: write failed, retrying", "call", j.call, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, r.cfg.RetryMax)
	}
}

// part is one stored part placed on the recording's timeline.
type part struct {
	name       string
	start, end int64 // samples from the recording's start
}

// layout places a call's parts: each session at its wall-clock offset
// from the first (a session after a restart starts its own call clock),
// never overlapping an earlier one.
func layout(infos []Info) (parts []part, gaps []Span) {
	var first int64
	var shift int64 // the current session's clock to the recording's
	lastSession := int64(-1)
	var end int64
	for _, in := range infos {
		session, start, ok := parsePartName(in.Name)
		if !ok {
			continue
		}
		if lastSession < 0 {
			first = session
		}
		if session != lastSession {
			shift = max((session-first)*sampleRate/1000, end-start)
			lastSession = session
		}
		p := part{name: in.Name, start: start + shift, end: start + shift + in.Size/channels}
		if p.start < end { // overlaps an earlier session: moved after it
			p.end += end - p.start
			shift += end - p.start
			p.start = end
		}
		if p.start > end && len(parts) > 0 {
			gaps = append(gaps, Span{end, p.start})
		}
		parts = append(parts, p)
		end = p.end
	}
	return parts, gaps
}

// seal writes the call's parts as one recording and deletes them. A
// session other than the last ends where its last part does.
func (r *Recorder) seal(ctx context.Context, call string, session, end int64) error {
	infos, err := r.store.List(ctx, partsPrefix(call))
	if err != nil {
		return err
	}
	parts, gaps := layout(infos)
	if len(parts) == 0 {
		return r.redactSealed(ctx, call) // sealed already (a retried seal) or nothing heard
	}
	frames := parts[len(parts)-1].end
	if lp := parts[len(parts)-1]; end > 0 {
		if s, start, _ := parsePartName(lp.name); s == session {
			frames = max(frames, end+lp.start-start)
		}
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(r.writeSealed(ctx, pw, parts, gaps, frames)) }()
	_, err = r.store.Put(ctx, OriginalName(call), pr)
	pr.CloseWithError(err) // stops the writer if Put gave up early
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := r.store.Delete(ctx, p.name); err != nil {
			r.log.Warn("record: part left after seal", "call", call, "part", p.name, "err", err)
		}
	}
	r.sealed.Inc()
	r.log.Info("record: recording sealed", "call", call, "seconds", frames/sampleRate, "gaps", len(gaps))
	if r.cfg.Sealed != nil {
		r.cfg.Sealed(call)
	}
	return r.redactSealed(ctx, call)
}

// redactSealed writes a sealed call's redacted recording if the spans to
// mask came before it was sealed.
func (r *Recorder) redactSealed(ctx context.Context, call string) error {
	if r.cfg.Redactor == nil {
		return nil
	}
	return r.cfg.Redactor.sealed(ctx, call)
}

func (r *Recorder) writeSealed(ctx context.Context, w io.Writer, parts []part, gaps []Span, frames int64) error {
	if _, err := w.Write(wavHeader(frames, gaps)); err != nil {
		return err
	}
	silence := bytes.Repeat([]byte{silentByte}, 4096)
	pad := func(n int64) error {
		for n > 0 {
			k := min(n, int64(len(silence)))
			if _, err := w.Write(silence[:k]); err != nil {
				return err
			}
			n -= k
		}
		return nil
	}
	var at int64
	for _, p := range parts {
		if err := pad((p.start - at) * channels); err != nil {
			return err
		}
		rc, _, err := r.store.Open(ctx, p.name, 0)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, rc)
		rc.Close()
		if err != nil {
			return err
		}
		at = p.end
	}
	return pad((frames - at) * channels)
}

// sealIdle seals recordings in progress that no call of this recorder
// goes on with and whose newest part is older than Idle: their recorder
// stopped mid-call and the call did not come back.
func (r *Recorder) sealIdle(ctx context.Context) {
	infos, err := r.store.List(ctx, "")
	if err != nil {
		r.log.Warn("record: listing recordings in progress", "err", err)
		return
	}
	newest := map[string]time.Time{}
	for _, in := range infos {
		call, rest, ok := strings.Cut(in.Name, "/")
		if ok && strings.HasPrefix(rest, "parts/") && in.ModTime.After(newest[call]) {
			newest[call] = in.ModTime
		}
	}
	now := r.cfg.Now()
	calls := make([]string, 0, len(newest))
	for c := range newest {
		calls = append(calls, c)
	}
	slices.Sort(calls)
	for _, call := range calls {
		r.mu.Lock()
		live := r.calls[call] != nil
		r.mu.Unlock()
		if live || now.Sub(newest[call]) < r.cfg.Idle {
			continue
		}
		if err := r.seal(ctx, call, -1, 0); err != nil {
			r.writeErrors.Inc()
			r.log.Error("record: sealing an idle recording", "call", call, "err", err)
		}
	}
}
