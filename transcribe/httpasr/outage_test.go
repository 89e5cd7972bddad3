package httpasr

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/transcribe"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// outageServer is a transcription server that answers 500 until its
// outage ends, counting the refusals each job got. A job is known by its
// request's size: the test gives every job a different length.
type outageServer struct {
	mu      sync.Mutex
	refused map[int64]int
	over    chan struct{} // closed by end: answer 200 from then on
	once    sync.Once
	// long is closed once every one of jobs was refused at least want times.
	long       chan struct{}
	jobs, want int
}

func (o *outageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-o.over:
		_, _ = io.WriteString(w, whisperCppAnswer)
		return
	default:
	}
	o.mu.Lock()
	o.refused[r.ContentLength]++
	enough := len(o.refused) == o.jobs
	for _, n := range o.refused {
		enough = enough && n >= o.want
	}
	o.mu.Unlock()
	if enough {
		o.once.Do(func() { close(o.long) })
	}
	http.Error(w, "model server restarting", http.StatusInternalServerError)
}

func (o *outageServer) fewest() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	least := -1
	for _, n := range o.refused {
		if least < 0 || n < least {
			least = n
		}
	}
	return least
}

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// speechJob is a final job of ms of audio loud enough to be speech.
func speechJob(call string, turn, ms int) *msg.UtteranceJob {
	pcm := make([]int16, ms*msg.SampleRate/1000)
	for i := range pcm {
		pcm[i] = int16(0.14 * 32767 * math.Sin(2*math.Pi*300*float64(i)/msg.SampleRate))
	}
	return &msg.UtteranceJob{CallID: call, Leg: msg.RoleAgent, Turn: turn, StartMS: 1000, EndMS: 1000 + int64(ms),
		SampleRate: msg.SampleRate, Language: "en", PCM: pcm}
}

// A transcription server down for a long time loses no job: every job is
// kept while the server refuses it, and transcribed once it is back.
//
// Before, a job got 3 requests x 5 deliveries (about 11 s) and was then
// dead-lettered without text. Here the outage lasts until every job was
// refused 60 times: four times that budget, and what a 5-minute outage
// brings a job with the production backoff (a delivery at most every 15 s,
// 3 requests each). The backoff is scaled down a thousandfold so the test
// takes a second.
func TestWorkerKeepsJobsThroughLongOutage(t *testing.T) {
	_, c := bustest.Start(t)
	const jobs, oldBudget = 6, 3 * 5
	asr := &outageServer{refused: map[int64]int{}, over: make(chan struct{}), long: make(chan struct{}), jobs: jobs, want: 4 * oldBudget}
	srv := server(t, asr.ServeHTTP)
	segs := make(chan *msg.Segment, 2*jobs)
	dead := make(chan *msg.DeadLetter, 2*jobs)
	for subject, f := range map[string]func([]byte){
		msg.AllTranscripts: func(b []byte) {
			s := new(msg.Segment)
			if msg.Unmarshal(b, s) == nil {
				segs <- s
			}
		},
		msg.AllDeadLetters: func(b []byte) {
			d := new(msg.DeadLetter)
			if msg.Unmarshal(b, d) == nil {
				dead <- d
			}
		},
	} {
		sub, err := c.NC.Subscribe(subject, func(m *nats.Msg) { f(m.Data) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	if err := c.NC.Flush(); err != nil {
		t.Fatal(err)
	}

	eng := engine(t, Config{URL: srv.URL, Backoff: time.Millisecond})
	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	w, err := transcribe.New(transcribe.Config{Engine: eng, Workers: 2,
		RetryBackoff: 250 * time.Microsecond, MaxRetryBackoff: 15 * time.Millisecond, // production's 250ms and 15s, scaled
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, c.JS) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for i := range jobs {
		b, err := msg.EncodeUtterance(speechJob("outage", i+1, 300+50*i))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(context.Background(), msg.SubjectAudio("outage", msg.RoleAgent), b); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-asr.long:
	case d := <-dead:
		t.Fatalf("a job was dead-lettered during the outage (each job refused at least %d times so far): %s", asr.fewest(), d.Reason)
	case <-time.After(60 * time.Second):
		t.Fatalf("outage not over after 60 s: the job refused least was refused %d times", asr.fewest())
	}
	// The outage is in the logs and the metrics.
	if up := gauge(t, reg, "earshot_asr_engine_available"); up != 0 {
		t.Errorf("earshot_asr_engine_available = %v during the outage", up)
	}
	if l := logs.String(); !strings.Contains(l, "transcription engine unavailable: jobs are kept") || !strings.Contains(l, "jobs_waiting=") ||
		!strings.Contains(l, "oldest_job_age=") || strings.Count(l, "level=WARN") != 1 {
		t.Errorf("logs during the outage, want one warning with the jobs waiting and the oldest job's age:\n%s", l)
	}
	close(asr.over)
	t.Logf("outage over: every job refused at least %d times (the old budget was %d); waiting for the jobs' text", asr.fewest(), oldBudget)
	got := map[string]bool{}
	for len(got) < jobs {
		select {
		case s := <-segs:
			if s.Text != "Hello." || s.Error != "" {
				t.Fatalf("segment %s after the outage: text %q, error %q", s.ID, s.Text, s.Error)
			}
			got[s.ID] = true
		case d := <-dead:
			t.Fatalf("a job was dead-lettered: %s", d.Reason)
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d jobs transcribed within 30 s of the server's return", len(got), jobs)
		}
	}
	if up := gauge(t, reg, "earshot_asr_engine_available"); up != 1 {
		t.Errorf("earshot_asr_engine_available = %v after the outage", up)
	}
	if l := logs.String(); !strings.Contains(l, "transcription engine back") {
		t.Errorf("no word of the engine's return in the logs:\n%s", l)
	}
	t.Logf("%d of %d jobs came out with text after the outage, none dead-lettered", len(got), jobs)
	// Each job is acked once its segment is stored: the queue empties.
	st, err := c.JS.Stream(context.Background(), bus.StreamAudio)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("work queue still holds %d jobs 10 s after their segments", info.State.Msgs)
		}
		time.Sleep(10 * time.Millisecond) // polling the stream's state, not synchronising goroutines
	}
}
