// Package loadprobe watches a running Earshot while `earshot load` drives
// it: how long each stage takes from the end of an utterance (the job
// published, the final segment, the alert in the web view's event stream
// as a browser gets it), how deep the JetStream consumers' queues grow,
// the CPU each process uses, the kernel's drops on the capture ports and
// the load average. It only observes: it subscribes, samples and reads
// /proc, and publishes nothing.
package loadprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config configures a Probe. NATS is required.
type Config struct {
	// NATS is a connection to the Earshot's NATS server.
	NATS *nats.Conn
	// UI, when set, is the web view's base URL (http://HOST:PORT): the
	// probe logs in as UIUser with UIPassword and reads the live board's
	// event stream as a browser does.
	UI, UIUser, UIPassword string
	// PIDs names the processes whose CPU is reported (earshot,
	// transcriber, ...); the probe's own process is reported as "load".
	PIDs map[string]int
	// Ports are the capture's UDP ports, whose sockets' kernel drops are
	// counted.
	Ports []int
	// Every is how often queues and the load average are sampled;
	// default 1s. MemEvery is how often the processes' resident memory
	// is; default 10s.
	Every, MemEvery time.Duration
	Logger          *slog.Logger
}

// Probe collects what it sees until Stop.
type Probe struct {
	cfg   Config
	js    jetstream.JetStream
	start time.Time
	cpu0  map[string]cpuSample
	drop0 int64

	mu      sync.Mutex
	calls   map[string]time.Time // call id -> its sample clock's start
	jobs    map[string]seen      // final job id -> when published
	finals  map[string]seen      // final segment id -> when published
	alerts  map[string][]alertSeen
	shown   map[string][]time.Time // call id -> when the board's alert count went up, one per alert
	counts  map[string]int         // call id -> the board's alert count
	watched int
	seq0    uint64 // the job stream's last sequence at the start
	seq     uint64 // and at the last sample
	queues  map[string]*queueStats
	mem     map[string]*memStats
	loadMax float64
	uiErrs  int
	uiConns int
	endAt   float64 // seconds since the start when the sending ended; 0: not yet

	subs   []*nats.Subscription
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type seen struct {
	call  string
	endMS int64
	at    time.Time
}

// alertSeen is an alert as published: when, and the segments whose words
// made it (none for a rule on sentiment, silence or interruptions).
type alertSeen struct {
	matches []msg.Match
	at      time.Time
}

type queueStats struct {
	max, last uint64
	samples   []point
}

// point is one sample of a queue's depth or a process's memory.
type point struct {
	t float64 // seconds since the start
	v float64
}

// memStats are one process's resident set sizes, in MB.
type memStats struct {
	pid     int
	samples []point
}

// Start subscribes and starts sampling.
func Start(ctx context.Context, cfg Config) (*Probe, error) {
	if cfg.NATS == nil {
		return nil, errors.New("loadprobe: no NATS connection")
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.MemEvery <= 0 {
		cfg.MemEvery = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(cfg.NATS)
	if err != nil {
		return nil, err
	}
	p := &Probe{
		cfg: cfg, js: js, start: time.Now(),
		calls: map[string]time.Time{}, jobs: map[string]seen{}, finals: map[string]seen{},
		alerts: map[string][]alertSeen{}, shown: map[string][]time.Time{}, counts: map[string]int{},
		queues: map[string]*queueStats{}, mem: map[string]*memStats{},
	}
	if s, err := js.Stream(ctx, bus.StreamAudio); err == nil {
		p.seq0 = s.CachedInfo().State.LastSeq
		p.seq = p.seq0
	}
	for subject, h := range map[string]nats.MsgHandler{
		"earshot.transcript.>": p.onSegment,
		"earshot.alert.>":      p.onAlert,
	} {
		sub, err := cfg.NATS.Subscribe(subject, h)
		if err != nil {
			p.unsubscribe()
			return nil, fmt.Errorf("loadprobe: subscribe %s: %w", subject, err)
		}
		_ = sub.SetPendingLimits(-1, -1) // observe everything, however late
		p.subs = append(p.subs, sub)
	}
	if err := cfg.NATS.Flush(); err != nil {
		p.unsubscribe()
		return nil, err
	}
	p.cpu0 = p.cpuNow()
	p.drop0 = udpDrops(cfg.Ports)
	var rctx context.Context
	rctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.sample(rctx)
	}()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.sampleMemory(rctx)
	}()
	if cfg.UI != "" {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.watchBoard(rctx)
		}()
	}
	return p, nil
}

func (p *Probe) unsubscribe() {
	for _, s := range p.subs {
		_ = s.Unsubscribe()
	}
	p.subs = nil
}

// SendingEnded notes that no more audio is sent: the queues' growth is
// measured up to here, while the load was on.
func (p *Probe) SendingEnded() {
	p.mu.Lock()
	p.endAt = time.Since(p.start).Seconds()
	p.mu.Unlock()
}

// Settle waits until every final job seen has its final segment, or
// until ctx is done.
func (p *Probe) Settle(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		p.mu.Lock()
		done := true
		for id := range p.jobs {
			if _, ok := p.finals[id]; !ok {
				done = false
				break
			}
		}
		p.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Watch asks to see call's utterance jobs, for the "job published"
// latency: each job carries its audio and the server copies each one
// watched to the probe, so watch a sample of the calls. Call it before the
// call's first packet.
func (p *Probe) Watch(call string) {
	sub, err := p.cfg.NATS.Subscribe(msg.SubjectAudio(call, "*"), p.onJob)
	if err != nil {
		p.cfg.Logger.Warn("loadprobe: jobs not watched", "call", call, "err", err)
		return
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := p.cfg.NATS.Flush(); err != nil {
		p.cfg.Logger.Warn("loadprobe: jobs not watched", "call", call, "err", err)
	}
	p.mu.Lock()
	p.subs = append(p.subs, sub)
	p.watched++
	p.mu.Unlock()
}

// CallStarted notes when a call's clock started, as capture starts it:
// when the call was announced, or (undeclared) when its first packet was
// sent. An utterance ending at EndMS on the call clock then ended at t0 +
// EndMS. Capture places a leg's first packet on the call clock when it
// reads it, so time the packet waited in capture's socket at the call's
// start is not counted.
func (p *Probe) CallStarted(call string, t0 time.Time) {
	p.mu.Lock()
	p.calls[call] = t0
	p.mu.Unlock()
}

func (p *Probe) onJob(m *nats.Msg) {
	now := time.Now()
	final := strings.HasSuffix(m.Header.Get(nats.MsgIdHdr), "/final")
	var j *msg.UtteranceJob
	if final {
		var err error
		if j, err = msg.DecodeUtterance(m.Data); err != nil {
			final = false
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if final {
		if _, dup := p.jobs[j.ID()]; !dup {
			p.jobs[j.ID()] = seen{call: j.CallID, endMS: j.EndMS, at: now}
		}
	}
}

func (p *Probe) onSegment(m *nats.Msg) {
	now := time.Now()
	var s msg.Segment
	if msg.Unmarshal(m.Data, &s) != nil || s.Interim || s.Error != "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.finals[s.ID]; !dup {
		p.finals[s.ID] = seen{call: s.CallID, endMS: s.EndMS, at: now}
	}
}

func (p *Probe) onAlert(m *nats.Msg) {
	now := time.Now()
	var a msg.Alert
	if msg.Unmarshal(m.Data, &a) != nil || a.PostCall {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alerts[a.CallID] = append(p.alerts[a.CallID], alertSeen{matches: a.Matches, at: now})
}

// sample reads the queues and the load average every cfg.Every.
func (p *Probe) sample(ctx context.Context) {
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	for {
		p.sampleQueues(ctx)
		if l, err := loadAverage(); err == nil {
			p.mu.Lock()
			p.loadMax = max(p.loadMax, l[0])
			p.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sampleMemory reads the processes' resident memory every cfg.MemEvery.
func (p *Probe) sampleMemory(ctx context.Context) {
	t := time.NewTicker(p.cfg.MemEvery)
	defer t.Stop()
	for {
		at := time.Since(p.start).Seconds()
		for name, pid := range p.pids() {
			mb, err := rssMB(pid)
			if err != nil {
				continue // gone: its samples so far stand
			}
			p.mu.Lock()
			m := p.mem[name]
			if m == nil {
				m = &memStats{pid: pid}
				p.mem[name] = m
			}
			m.samples = append(m.samples, point{t: at, v: mb})
			p.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Probe) sampleQueues(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Every)
	defer cancel()
	at := time.Since(p.start).Seconds()
	if s, err := p.js.Stream(ctx, bus.StreamAudio); err == nil {
		p.mu.Lock()
		p.seq = max(p.seq, s.CachedInfo().State.LastSeq)
		p.mu.Unlock()
	}
	names := p.js.StreamNames(ctx)
	var streams []string
	for n := range names.Name() {
		streams = append(streams, n)
	}
	for _, sn := range streams {
		s, err := p.js.Stream(ctx, sn)
		if err != nil {
			continue
		}
		cl := s.ListConsumers(ctx)
		for ci := range cl.Info() {
			if ci.Config.Durable == "" {
				continue // the web view's and other ordered consumers
			}
			depth := ci.NumPending + uint64(ci.NumAckPending)
			p.mu.Lock()
			q := p.queues[ci.Name]
			if q == nil {
				q = &queueStats{}
				p.queues[ci.Name] = q
			}
			q.max, q.last = max(q.max, depth), depth
			q.samples = append(q.samples, point{t: at, v: float64(depth)})
			p.mu.Unlock()
		}
	}
}

// Report is what the probe saw.
type Report struct {
	Seconds float64 `json:"seconds"`
	// Jobs are the utterance jobs published (interims and finals, from
	// the job stream's sequence), JobsPerSec their rate; FinalSegments
	// the final segments published.
	Jobs          uint64  `json:"jobs"`
	JobsPerSec    float64 `json:"jobs_per_sec"`
	FinalSegments int     `json:"final_segments"`
	// JobCalls are the calls whose jobs were watched for the "job
	// published" latency.
	JobCalls int `json:"job_calls"`
	// Stages are the latencies from an utterance's end.
	Stages []Stage `json:"stages"`
	// Queues are the durable consumers' depths (pending and unacked).
	Queues []Queue `json:"queues"`
	// CPU is each process's use in cores (1.0: one core busy).
	CPU []CPU `json:"cpu"`
	// Memory is each process's resident memory over the run.
	Memory []Memory `json:"memory"`
	// KernelDrops are datagrams the kernel dropped on the capture ports'
	// sockets during the run (/proc/net/udp).
	KernelDrops int64 `json:"kernel_drops"`
	// LoadAverage is the 1, 5 and 15 minute load average at the end;
	// LoadMax the highest 1 minute figure sampled.
	LoadAverage [3]float64 `json:"load_average"`
	LoadMax     float64    `json:"load_max"`
	// BoardStreams counts the event streams opened (more than one: the
	// web view dropped the probe for falling behind); BoardErrors the
	// failures to open one.
	BoardStreams int `json:"board_streams,omitempty"`
	BoardErrors  int `json:"board_errors,omitempty"`
}

// Stage is one latency from an utterance's end.
type Stage struct {
	Name  string  `json:"name"`
	Count int     `json:"count"`
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	MaxMS float64 `json:"max_ms"`
	// Missing are the utterances seen at the stage before it never seen
	// here (final segments: of the jobs watched).
	Missing int `json:"missing,omitempty"`
}

// Queue is one consumer's depth over the run.
type Queue struct {
	Consumer string `json:"consumer"`
	Max      uint64 `json:"max"`
	Last     uint64 `json:"last"`
	// Growth is the least-squares slope of the depth while the load was
	// on, in messages per second: above zero for long, the queue is not
	// kept up with.
	Growth float64 `json:"growth_per_sec"`
}

// CPU is one process's CPU use.
type CPU struct {
	Name  string  `json:"name"`
	PID   int     `json:"pid"`
	Cores float64 `json:"cores"`
}

// Memory is one process's resident set size (VmRSS), sampled every
// Config.MemEvery.
type Memory struct {
	Name    string  `json:"name"`
	PID     int     `json:"pid"`
	Samples int     `json:"samples"`
	FirstMB float64 `json:"first_mb"`
	MaxMB   float64 `json:"max_mb"`
	LastMB  float64 `json:"last_mb"`
	// SlopeMBPerMin is the least-squares slope over every sample, in MB
	// a minute: near zero, the process's memory stays flat.
	SlopeMBPerMin float64 `json:"slope_mb_per_min"`
	// LateSlopeMBPerMin is the slope over the second half of the time
	// the load was on: the growth left once the calls, caches and the
	// garbage collector's heap goal have reached their working size,
	// which the slope over every sample mixes with the climb from an
	// idle process.
	LateSlopeMBPerMin float64 `json:"late_slope_mb_per_min"`
}

// Stop ends the sampling and reports. Latencies count only utterances of
// calls whose start the probe was told.
func (p *Probe) Stop() *Report {
	p.cancel()
	p.wg.Wait()
	p.unsubscribe()
	wall := time.Since(p.start).Seconds()
	cpu1 := p.cpuNow()
	r := &Report{Seconds: wall, KernelDrops: udpDrops(p.cfg.Ports) - p.drop0}
	if l, err := loadAverage(); err == nil {
		r.LoadAverage = l
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r.Jobs, r.FinalSegments, r.JobCalls, r.LoadMax = p.seq-p.seq0, len(p.finals), p.watched, max(p.loadMax, r.LoadAverage[0])
	r.JobsPerSec = math.Round(float64(r.Jobs)/wall*10) / 10
	r.BoardStreams, r.BoardErrors = p.uiConns, p.uiErrs

	since := func(s seen) (float64, bool) {
		t0, ok := p.calls[s.call]
		if !ok {
			return 0, false
		}
		return float64(s.at.Sub(t0.Add(time.Duration(s.endMS)*time.Millisecond))) / float64(time.Millisecond), true
	}
	var job, seg []float64
	segMissing := 0
	for id, j := range p.jobs {
		if d, ok := since(j); ok {
			job = append(job, d)
			if _, ok := p.finals[id]; !ok {
				segMissing++
			}
		}
	}
	for _, f := range p.finals {
		if d, ok := since(f); ok {
			seg = append(seg, d)
		}
	}
	// An alert's utterance is the latest segment its words matched in:
	// its end as the segment says, else as the match says.
	var alertNATS, alertUI []float64
	uiMissing := 0
	for call, as := range p.alerts {
		t0, ok := p.calls[call]
		if !ok {
			continue
		}
		shown := p.shown[call]
		for i, a := range as {
			endMS := int64(-1)
			for _, m := range a.matches {
				e := m.EndMS
				if s, ok := p.finals[m.SegmentID]; ok {
					e = s.endMS
				}
				endMS = max(endMS, e)
			}
			if endMS < 0 {
				continue // not raised by words: no utterance to time it from
			}
			end := t0.Add(time.Duration(endMS) * time.Millisecond)
			alertNATS = append(alertNATS, float64(a.at.Sub(end))/float64(time.Millisecond))
			if p.cfg.UI == "" {
				continue
			}
			if i < len(shown) && !shown[i].IsZero() {
				alertUI = append(alertUI, float64(shown[i].Sub(end))/float64(time.Millisecond))
			} else {
				uiMissing++
			}
		}
	}
	r.Stages = append(r.Stages, stage("job published", job, 0), stage("final segment", seg, segMissing),
		stage("alert published", alertNATS, 0))
	if p.cfg.UI != "" {
		r.Stages = append(r.Stages, stage("alert in browser", alertUI, uiMissing))
	}
	for name, q := range p.queues {
		during := q.samples
		if p.endAt > 0 {
			n := sort.Search(len(during), func(i int) bool { return during[i].t > p.endAt })
			during = during[:n]
		}
		r.Queues = append(r.Queues, Queue{Consumer: name, Max: q.max, Last: q.last, Growth: slope(during)})
	}
	sort.Slice(r.Queues, func(i, j int) bool { return r.Queues[i].Consumer < r.Queues[j].Consumer })
	for name, c := range cpu1 {
		if c0, ok := p.cpu0[name]; ok {
			r.CPU = append(r.CPU, CPU{Name: name, PID: c.pid, Cores: (c.seconds - c0.seconds) / wall})
		}
	}
	sort.Slice(r.CPU, func(i, j int) bool { return r.CPU[i].Name < r.CPU[j].Name })
	for name, m := range p.mem {
		mm := Memory{Name: name, PID: m.pid, Samples: len(m.samples), FirstMB: m.samples[0].v, LastMB: m.samples[len(m.samples)-1].v,
			SlopeMBPerMin: math.Round(slope(m.samples)*60*100) / 100, LateSlopeMBPerMin: math.Round(slope(lateHalf(m.samples, p.endAt))*60*100) / 100}
		for _, s := range m.samples {
			mm.MaxMB = max(mm.MaxMB, s.v)
		}
		r.Memory = append(r.Memory, mm)
	}
	sort.Slice(r.Memory, func(i, j int) bool { return r.Memory[i].Name < r.Memory[j].Name })
	return r
}

func stage(name string, ms []float64, missing int) Stage {
	s := Stage{Name: name, Count: len(ms), Missing: missing}
	if len(ms) == 0 {
		return s
	}
	sort.Float64s(ms)
	s.P50MS, s.P95MS, s.MaxMS = quantile(ms, 0.5), quantile(ms, 0.95), quantile(ms, 1)
	return s
}

// quantile of sorted xs, nearest rank.
func quantile(xs []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return math.Round(xs[max(0, min(i, len(xs)-1))]*10) / 10
}

// lateHalf is the samples of the second half of the time the load was on
// (it ended at endAt seconds; 0: not yet, then the second half of all).
func lateHalf(s []point, endAt float64) []point {
	if len(s) == 0 {
		return nil
	}
	end := endAt
	if end <= 0 {
		end = s[len(s)-1].t
	}
	var late []point
	for _, x := range s {
		if x.t >= end/2 && x.t <= end {
			late = append(late, x)
		}
	}
	return late
}

// slope fits v = a + b t by least squares and returns b.
func slope(s []point) float64 {
	if len(s) < 2 {
		return 0
	}
	var st, sd, stt, std float64
	for _, x := range s {
		d := x.v
		st, sd, stt, std = st+x.t, sd+d, stt+x.t*x.t, std+x.t*d
	}
	n := float64(len(s))
	den := n*stt - st*st
	if den == 0 {
		return 0
	}
	return math.Round((n*std-st*sd)/den*100) / 100
}
