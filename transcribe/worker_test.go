package transcribe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted is the transcriber test double: it answers each call with what
// its script says. It lives in test code only.
type scripted struct {
	mu     sync.Mutex
	calls  []Audio
	script func(ctx context.Context, call int, a Audio) (Result, error)
}

func (s *scripted) Info() EngineInfo { return EngineInfo{Name: "scripted", Model: "script-1"} }

func (s *scripted) Transcribe(ctx context.Context, a Audio) (Result, error) {
	s.mu.Lock()
	s.calls = append(s.calls, a)
	n := len(s.calls)
	s.mu.Unlock()
	return s.script(ctx, n, a)
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func says(text string, words ...msg.Word) func(context.Context, int, Audio) (Result, error) {
	return func(context.Context, int, Audio) (Result, error) {
		return Result{Text: text, Words: words, Language: "en", Confidence: 0.9}, nil
	}
}

// speech is ms of 8 kHz audio at about -20 dBFS.
func speech(ms int) []int16 {
	pcm := make([]int16, ms*msg.SampleRate/1000)
	for i, v := range tone(msg.SampleRate, 300, len(pcm), 0.14) {
		pcm[i] = int16(v * 32767)
	}
	return pcm
}

func job(call string, turn int, pcm []int16) *msg.UtteranceJob {
	return &msg.UtteranceJob{CallID: call, Leg: msg.RoleAgent, Turn: turn, StartMS: 10000, EndMS: 10000 + int64(len(pcm))*1000/msg.SampleRate, SampleRate: msg.SampleRate, Language: "en", PCM: pcm}
}

func publishJob(t *testing.T, c *bus.Conn, j *msg.UtteranceJob) {
	t.Helper()
	b, err := msg.EncodeUtterance(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), msg.SubjectAudio(j.CallID, j.Leg), b); err != nil {
		t.Fatal(err)
	}
}

// collect subscribes to subject and decodes what arrives into a channel.
func collect[T any, P interface {
	*T
	msg.Message
}](t *testing.T, c *bus.Conn, subject string) <-chan P {
	t.Helper()
	ch := make(chan P, 100)
	sub, err := c.NC.Subscribe(subject, func(m *nats.Msg) {
		v := P(new(T))
		if err := msg.Unmarshal(m.Data, v); err != nil {
			t.Errorf("%s: %v", subject, err)
			return
		}
		ch <- v
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return ch
}

func next[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		panic("unreachable")
	}
}

// startWorker runs a worker on c until the returned stop is called (or
// the test ends).
func startWorker(t *testing.T, c *bus.Conn, cfg Config) (w *Worker, stop func()) {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, c.JS) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			// A worker whose connection was closed under it ends saying so.
			if err := <-done; err != nil && !(c.NC.IsClosed() && errors.Is(err, nats.ErrConnectionClosed)) {
				t.Errorf("worker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return w, stop
}

func TestWorkerPublishesSegment(t *testing.T) {
	_, c := bustest.Start(t)
	segs := collect[msg.Segment](t, c, msg.AllTranscripts)
	eng := &scripted{script: says(" Hello there.", msg.Word{Text: "Hello", StartMS: 0, EndMS: 400, Confidence: 0.8}, msg.Word{Text: "there.", StartMS: 500, EndMS: 900, Confidence: 0.95})}
	reg := prometheus.NewRegistry()
	w, _ := startWorker(t, c, Config{Engine: eng, Metrics: reg})
	j := job("call-1", 3, speech(1200))
	publishJob(t, c, j)
	s := next(t, segs, "segment")
	if s.ID != "call-1/agent/3/0" || s.CallID != "call-1" || s.Leg != msg.RoleAgent || s.Turn != 3 || s.Interim {
		t.Errorf("segment identity = %+v", s)
	}
	if s.StartMS != 10000 || s.EndMS != 11200 || s.Text != "Hello there." || s.Engine != "scripted" || s.Model != "script-1" || s.Language != "en" {
		t.Errorf("segment = %+v", s)
	}
	if len(s.Words) != 2 || s.Words[1].StartMS != 10500 || s.Words[1].EndMS != 10900 || s.Words[1].Confidence != 0.95 {
		t.Errorf("words not on the call clock: %+v", s.Words)
	}
	// The engine got the job resampled to 16 kHz.
	if got := len(eng.calls[0].Samples); got != 2*len(j.PCM) {
		t.Errorf("engine got %d samples, want %d", got, 2*len(j.PCM))
	}
	// The job is acked and gone from the work queue.
	waitEmpty(t, c)
	if v := testutil.ToFloat64(w.jobs.WithLabelValues("final", "text")); v != 1 {
		t.Errorf("jobs_total{final,text} = %v", v)
	}
}

func waitEmpty(t *testing.T, c *bus.Conn) {
	t.Helper()
	ctx := context.Background()
	s, err := c.JS.Stream(ctx, bus.StreamAudio)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("work queue still holds %d jobs", info.State.Msgs)
		}
		time.Sleep(20 * time.Millisecond) // polling the stream state, not synchronising goroutines
	}
}

func TestWorkerSilenceAndHallucinations(t *testing.T) {
	_, c := bustest.Start(t)
	segs := collect[msg.Segment](t, c, msg.AllTranscripts)
	eng := &scripted{script: func(_ context.Context, _ int, a Audio) (Result, error) {
		return Result{Text: "Thank you."}, nil
	}}
	startWorker(t, c, Config{Engine: eng})

	// Digital silence: the engine is not run; the final says why it is empty.
	silent := job("call-2", 1, make([]int16, 8000))
	publishJob(t, c, silent)
	s := next(t, segs, "silence segment")
	if s.ID != silent.ID() || s.Text != "" || s.Dropped != DroppedSilence {
		t.Errorf("silence segment = %+v", s)
	}
	if eng.count() != 0 {
		t.Errorf("engine ran %d times on silence", eng.count())
	}
	// Near-silent hiss: "Thank you." is whisper's hallucination; dropped.
	hiss := make([]int16, 8000)
	for i := range hiss {
		hiss[i] = int16((i*7919)%601 - 300) // about -45 dBFS
	}
	publishJob(t, c, job("call-2", 2, hiss))
	s = next(t, segs, "hallucination segment")
	if s.Turn != 2 || s.Text != "" || s.Dropped != DroppedHallucination {
		t.Errorf("hallucination segment = %+v (level %.1f dBFS)", s, Level(PCM16ToFloat(nil, hiss)))
	}
	// A caller who says "Thank you." out loud keeps it.
	publishJob(t, c, job("call-2", 3, speech(1000)))
	s = next(t, segs, "spoken segment")
	if s.Turn != 3 || s.Text != "Thank you." || s.Dropped != "" {
		t.Errorf("spoken segment = %+v", s)
	}
	// An interim that is silent publishes nothing; the final after it does.
	in := job("call-2", 4, make([]int16, 4000))
	in.Interim, in.Rev = true, 1
	publishJob(t, c, in)
	publishJob(t, c, job("call-2", 5, make([]int16, 4000)))
	if s = next(t, segs, "segment"); s.Turn != 5 {
		t.Errorf("got %+v, want turn 5's final (the silent interim publishes nothing)", s)
	}
}

func TestWorkerBadJobs(t *testing.T) {
	_, c := bustest.Start(t)
	segs := collect[msg.Segment](t, c, msg.AllTranscripts)
	dead := collect[msg.DeadLetter](t, c, msg.SubjectDeadLetter("asr"))
	eng := &scripted{script: says("never")}
	startWorker(t, c, Config{Engine: eng})

	wrongRate := job("call-3", 1, speech(500))
	wrongRate.SampleRate = 16000
	empty := job("call-3", 2, nil)
	for _, tc := range []struct {
		publish func()
		id      string
		reason  string
	}{
		{func() { publishJob(t, c, wrongRate) }, "call-3/agent/1/0", "sample rate 16000 Hz, want 8000"},
		{func() { publishJob(t, c, empty) }, "call-3/agent/2/0", "no audio"},
		{func() {
			if err := c.Publish(context.Background(), msg.SubjectAudio("call-3", msg.RoleCustomer), []byte("garbage, not a frame")); err != nil {
				t.Fatal(err)
			}
		}, "call-3/customer/0/0", "not an utterance frame"},
	} {
		tc.publish()
		d := next(t, dead, "dead letter")
		if !strings.Contains(d.Reason, tc.reason) || d.Deliveries != 1 || d.Stage != "asr" {
			t.Errorf("dead letter = %+v, want reason with %q after 1 delivery", d, tc.reason)
		}
		s := next(t, segs, "error segment")
		if s.ID != tc.id || s.Interim || !strings.Contains(s.Error, tc.reason) || s.Text != "" {
			t.Errorf("error segment = %+v, want id %s and error with %q", s, tc.id, tc.reason)
		}
	}
	// A bad interim is dead-lettered but gets no segment: its final follows.
	badInterim := job("call-3", 4, speech(500))
	badInterim.Interim, badInterim.Rev, badInterim.SampleRate = true, 1, 44100
	publishJob(t, c, badInterim)
	if d := next(t, dead, "dead letter"); !strings.Contains(d.Reason, "sample rate 44100") {
		t.Errorf("interim dead letter = %+v", d)
	}
	publishJob(t, c, job("call-3", 4, speech(500)))
	if s := next(t, segs, "segment"); s.Turn != 4 || s.Interim || s.Error != "" || s.Text != "never" {
		t.Errorf("after a bad interim, got %+v; want turn 4's final", s)
	}
	if eng.count() != 1 {
		t.Errorf("engine ran %d times; want once, for the good final", eng.count())
	}
	waitEmpty(t, c)
}

func TestWorkerEngineFailures(t *testing.T) {
	_, c := bustest.Start(t)
	segs := collect[msg.Segment](t, c, msg.AllTranscripts)
	dead := collect[msg.DeadLetter](t, c, msg.SubjectDeadLetter("asr"))
	eng := &scripted{script: func(_ context.Context, n int, a Audio) (Result, error) {
		switch {
		case n == 1:
			return Result{}, errors.New("server busy") // turn 1: once, then fine
		case n == 2:
			return Result{Text: "recovered"}, nil
		case a.Language == "ko":
			return Result{}, fmt.Errorf("%w: language not supported", ErrRejected)
		default:
			return Result{}, errors.New("down for good")
		}
	}}
	startWorker(t, c, Config{Engine: eng, MaxDeliver: 2})

	publishJob(t, c, job("call-4", 1, speech(300)))
	if s := next(t, segs, "segment"); s.Text != "recovered" || s.Error != "" {
		t.Errorf("after a retry: %+v", s)
	}
	publishJob(t, c, job("call-4", 2, speech(300)))
	d := next(t, dead, "dead letter")
	if d.Deliveries != 2 || !strings.Contains(d.Reason, "down for good") {
		t.Errorf("dead letter = %+v", d)
	}
	if s := next(t, segs, "error segment"); s.Turn != 2 || !strings.Contains(s.Error, "down for good") {
		t.Errorf("error segment = %+v", s)
	}
	ko := job("call-4", 3, speech(300))
	ko.Language = "ko"
	publishJob(t, c, ko)
	if d := next(t, dead, "dead letter"); d.Deliveries != 1 || !strings.Contains(d.Reason, "rejected") {
		t.Errorf("rejected job dead letter = %+v, want at once", d)
	}
	if s := next(t, segs, "error segment"); s.Turn != 3 || s.Error == "" {
		t.Errorf("rejected job segment = %+v", s)
	}
}

func TestWorkerKilledMidJob(t *testing.T) {
	for _, how := range []string{"context cancelled", "connection closed"} {
		t.Run(how, func(t *testing.T) {
			srv, c := bustest.Start(t)
			segs := collect[msg.Segment](t, c, msg.AllTranscripts)

			started := make(chan struct{})
			release := make(chan struct{})
			victim := &scripted{script: func(ctx context.Context, _ int, _ Audio) (Result, error) {
				close(started)
				select {
				case <-ctx.Done():
					return Result{}, ctx.Err()
				case <-release:
					return Result{Text: "from the dead worker"}, nil
				}
			}}
			cfg := Config{Engine: victim, AckWait: time.Second}
			victimConn := bustest.Connect(t, srv)
			_, stopVictim := startWorker(t, victimConn, cfg)

			j := job("call-5", 1, speech(800))
			publishJob(t, c, j)
			next(t, started, "job on the first worker")

			survivor := &scripted{script: says("hello once")}
			_, stopSurvivor := startWorker(t, c, Config{Engine: survivor, AckWait: time.Second})
			defer stopSurvivor()

			if how == "context cancelled" {
				stopVictim()
			} else {
				victimConn.NC.Close() // the process lost its connection before acking
				close(release)        // its engine finishes, but nothing can be published or acked
			}
			s := next(t, segs, "segment from the surviving worker")
			if s.ID != j.ID() || s.Text != "hello once" {
				t.Fatalf("segment = %+v", s)
			}
			stopVictim()
			// Nothing else arrives for the job: a later job's segment is next.
			publishJob(t, c, job("call-5", 2, speech(300)))
			if s := next(t, segs, "segment"); s.Turn != 2 {
				t.Fatalf("after the redelivered job, got %+v; want turn 2 (the job was transcribed twice?)", s)
			}
			if victim.count() != 1 || survivor.count() != 2 {
				t.Errorf("engine calls: dead worker %d, survivor %d; want 1 and 2", victim.count(), survivor.count())
			}
			waitEmpty(t, c)
		})
	}
}

// A job that runs longer than the ack wait is kept alive by the worker's
// in-progress heartbeats and is not redelivered. The long job runs until
// the test has seen four heartbeats reach the server, not for a set time,
// and a redelivery is excused only when the machine demonstrably stalled
// for a whole ack wait between two of them, so a loaded machine cannot
// fail the test, and a worker without heartbeats cannot pass it.
func TestWorkerLongJobNotRedelivered(t *testing.T) {
	_, c := bustest.Start(t)
	segs := collect[msg.Segment](t, c, msg.AllTranscripts)
	const ackWait = 2 * time.Second
	beats := make(chan time.Time, 100)
	sub, err := c.NC.Subscribe("$JS.ACK."+bus.StreamAudio+".asr.>", func(m *nats.Msg) {
		if string(m.Data) == "+WPI" {
			beats <- time.Now()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := c.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	var longestGap atomic.Int64
	longDone := make(chan struct{})
	published := time.Now()
	eng := &scripted{script: func(ctx context.Context, n int, _ Audio) (Result, error) {
		if n > 1 {
			return Result{Text: "quick"}, nil
		}
		defer close(longDone)
		last := published
		for range 4 { // 4 heartbeats every ackWait/3: longer than an ack wait
			select {
			case at := <-beats:
				longestGap.Store(max(longestGap.Load(), int64(at.Sub(last))))
				last = at
			case <-ctx.Done():
				return Result{}, ctx.Err()
			case <-time.After(20 * time.Second):
				return Result{}, errors.New("no in-progress heartbeat within 20 s")
			}
		}
		return Result{Text: "slow but once"}, nil
	}}
	startWorker(t, c, Config{Engine: eng, Workers: 2, AckWait: ackWait})
	publishJob(t, c, job("call-6", 1, speech(300)))
	next(t, longDone, "end of the long job")
	publishJob(t, c, job("call-6", 2, speech(300)))
	var first []string // the long job's segments: one, unless it was redelivered
	for {
		s := next(t, segs, "segment")
		if s.Turn == 2 {
			break
		}
		first = append(first, s.Text)
	}
	n, gap := eng.count(), time.Duration(longestGap.Load())
	if n == 2 && len(first) == 1 && first[0] == "slow but once" {
		return
	}
	if gap < ackWait {
		t.Errorf("engine ran %d times for 2 jobs, the long job's segments %q, though no two heartbeats were more than %s apart (ack wait %s): the job was redelivered while in progress",
			n, first, gap.Round(time.Millisecond), ackWait)
		return
	}
	t.Logf("the job was redelivered after the machine stalled %s between heartbeats (ack wait %s)", gap, ackWait)
}

func TestWorkerSkipsStaleInterims(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			_, c := bustest.Start(t)
			segs := collect[msg.Segment](t, c, msg.AllTranscripts)
			// Queue two interims and the final of one turn before any worker runs.
			for rev := 1; rev <= 2; rev++ {
				in := job("call-7", 1, speech(500*rev))
				in.Interim, in.Rev = true, rev
				publishJob(t, c, in)
			}
			publishJob(t, c, job("call-7", 1, speech(1500)))
			eng := &scripted{script: func(_ context.Context, _ int, a Audio) (Result, error) {
				return Result{Text: fmt.Sprintf("%d ms", a.DurationMS())}, nil
			}}
			startWorker(t, c, Config{Engine: eng, KeepStaleInterims: keep})
			var got []string
			for {
				s := next(t, segs, "segment")
				got = append(got, fmt.Sprintf("interim=%v rev=%d %s", s.Interim, s.Rev, s.Text))
				if !s.Interim {
					break
				}
			}
			want := "interim=false rev=0 1500 ms"
			if keep {
				want = "interim=true rev=1 500 ms|interim=true rev=2 1000 ms|" + want
			}
			if strings.Join(got, "|") != want {
				t.Errorf("segments %q, want %q", got, want)
			}
			waitEmpty(t, c)
		})
	}
}

func TestNewWorkerConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without an engine: want an error")
	}
	if _, err := New(Config{Engine: &scripted{}, Workers: -1}); err == nil {
		t.Error("New with -1 workers: want an error")
	}
}

func msgEncode(j *msg.UtteranceJob) ([]byte, error) { return msg.EncodeUtterance(j) }

func TestWorkerDropsInterimSupersededWhileRunning(t *testing.T) {
	_, c := bustest.Start(t)
	segs := collect[msg.Segment](t, c, msg.AllTranscripts)
	started, release := make(chan struct{}), make(chan struct{})
	eng := &scripted{script: func(_ context.Context, n int, a Audio) (Result, error) {
		if n == 1 { // the interim: runs until the final is queued
			close(started)
			<-release
			return Result{Text: "interim text"}, nil
		}
		return Result{Text: "final text"}, nil
	}}
	startWorker(t, c, Config{Engine: eng})
	in := job("call-8", 1, speech(500))
	in.Interim, in.Rev = true, 1
	publishJob(t, c, in)
	next(t, started, "interim on the engine")
	publishJob(t, c, job("call-8", 1, speech(900)))
	close(release)
	if s := next(t, segs, "segment"); s.Interim || s.Text != "final text" {
		t.Fatalf("first segment %+v; want the final (the interim was superseded while it ran)", s)
	}
}

// blocking is an engine whose every call waits until release is closed or
// its context ends, announcing each start on started.
func blocking(started chan<- int, release <-chan struct{}) *scripted {
	return &scripted{script: func(ctx context.Context, n int, _ Audio) (Result, error) {
		started <- n
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-release:
			return Result{Text: "too late"}, nil
		}
	}}
}

// A worker killed mid-job (its connection gone without a word, as after
// kill -9) leaves its jobs to the others within a few seconds with the
// default settings, not after 30.
func TestWorkerKilledJobsComeBackSoon(t *testing.T) {
	srv, c := bustest.Start(t)
	segs := collect[msg.Segment](t, c, msg.AllTranscripts)
	started, release := make(chan int, 10), make(chan struct{})
	defer close(release)
	victimConn := bustest.Connect(t, srv)
	_, stopVictim := startWorker(t, victimConn, Config{Engine: blocking(started, release)})
	for turn := 1; turn <= 2; turn++ {
		publishJob(t, c, job("call-10", turn, speech(300)))
	}
	next(t, started, "a job on the doomed worker")
	victimConn.NC.Close()
	stopVictim()
	killed := time.Now()
	startWorker(t, c, Config{Engine: &scripted{script: says("redelivered")}})
	for range 2 {
		select {
		case s := <-segs:
			t.Logf("%s after the kill: %s", time.Since(killed), s.ID)
			if s.Text != "redelivered" {
				t.Fatalf("segment %+v", s)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("jobs of the killed worker not redelivered within 15 s")
		}
	}
	t.Logf("both jobs transcribed %s after the worker was killed", time.Since(killed).Round(100*time.Millisecond))
}

// A worker busy on a job holds no other: a second job goes to a free
// worker at once rather than waiting in the busy one's buffer.
func TestWorkerHoldsOnlyJobsInHand(t *testing.T) {
	_, c := bustest.Start(t)
	segs := collect[msg.Segment](t, c, msg.AllTranscripts)
	started, release := make(chan int, 10), make(chan struct{})
	defer close(release)
	startWorker(t, c, Config{Engine: blocking(started, release), AckWait: time.Minute})
	publishJob(t, c, job("call-11", 1, speech(300)))
	next(t, started, "job 1 on the busy worker")
	publishJob(t, c, job("call-11", 2, speech(300)))
	startWorker(t, c, Config{Engine: &scripted{script: says("free")}, AckWait: time.Minute})
	if s := next(t, segs, "job 2's segment from the free worker"); s.Turn != 2 {
		t.Fatalf("segment %+v, want turn 2", s)
	}
}
