package bus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

// A cluster node shut down while a stream's replicas are still moving onto
// it (TestClusterSurvivesNodeLoss restarts one) can leave one JetStream
// file store's flush loop, and the access-time service it registered,
// running after Shutdown returns (nats-server 2.15.2, about one run in
// three). A server not shut down leaves far more (its listeners, its
// routes), which these do not hide.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"))
}

func TestStreamsExist(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	for _, name := range []string{bus.StreamAudio, bus.StreamEvents, bus.StreamDeadLetter} {
		if _, err := c.JS.Stream(ctx, name); err != nil {
			t.Errorf("stream %s: %v", name, err)
		}
	}
	// Connecting again must not fail on existing streams.
	_, c2 := bustest.Start(t)
	_ = c2
}

// consume runs bus.Consume until stop is called and returns its error.
func consume(t *testing.T, c *bus.Conn, cfg bus.ConsumerConfig, h bus.Handler) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Consume(ctx, c.JS, cfg, h) }()
	return func() error { cancel(); return <-done }
}

func TestConsumeAcksAfterHandler(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	got := make(chan string, 10)
	stop := consume(t, c, bus.ConsumerConfig{Stream: bus.StreamEvents, Durable: "t", Filter: []string{msg.AllTranscripts}},
		func(_ context.Context, m jetstream.Msg) error { got <- string(m.Data()); return nil })
	for _, s := range []string{"one", "two"} {
		if err := c.Publish(ctx, msg.SubjectTranscript("c1"), []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := <-got, <-got; a != "one" || b != "two" {
		t.Fatalf("got %q %q, want in order", a, b)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Acks are sent without waiting for the server's answer: the consumer
	// shows them a moment later.
	waitAcked(t, c, "t", 2)
}

func TestConsumeRetriesThenDeadLetters(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	dead := collectDeadLetters(t, c, "asr")

	var mu sync.Mutex
	tries := map[string]int{}
	onDead := make(chan string, 2)
	stop := consume(t, c, bus.ConsumerConfig{
		Stream: bus.StreamAudio, Durable: "asr", MaxDeliver: 2,
		OnDeadLetter: func(_ context.Context, m jetstream.Msg, reason error) { onDead <- m.Subject() },
	}, func(_ context.Context, m jetstream.Msg) error {
		mu.Lock()
		tries[m.Subject()]++
		mu.Unlock()
		if m.Subject() == "earshot.audio.bad.a" {
			return bus.Permanent(errors.New("not a frame"))
		}
		return errors.New("engine busy")
	})
	defer stop()
	if err := c.Publish(ctx, "earshot.audio.bad.a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	d := <-dead
	if d.Subject != "earshot.audio.bad.a" || d.Reason != "not a frame" || d.Deliveries != 1 {
		t.Fatalf("permanent dead letter = %+v", d)
	}
	if err := c.Publish(ctx, "earshot.audio.retry.a", []byte("y")); err != nil {
		t.Fatal(err)
	}
	d = <-dead
	if d.Subject != "earshot.audio.retry.a" || d.Deliveries != 2 || string(d.Payload) != "y" {
		t.Fatalf("retried dead letter = %+v", d)
	}
	if s1, s2 := <-onDead, <-onDead; s1 != "earshot.audio.bad.a" || s2 != "earshot.audio.retry.a" {
		t.Fatalf("OnDeadLetter subjects %s %s", s1, s2)
	}
	mu.Lock()
	defer mu.Unlock()
	if tries["earshot.audio.bad.a"] != 1 || tries["earshot.audio.retry.a"] != 2 {
		t.Fatalf("tries = %v", tries)
	}
}

func TestConsumeNeedsNames(t *testing.T) {
	_, c := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := bus.Consume(ctx, c.JS, bus.ConsumerConfig{}, nil); err == nil {
		t.Fatal("want an error without stream and durable")
	}
}

func TestConsumeEndsWhenConnectionCloses(t *testing.T) {
	srv, _ := bustest.Start(t)
	c, err := bus.Connect(context.Background(), srv.ClientURL(), "closing", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The server announces the consumer's creation; then close the
	// connection under it.
	created, err := c.NC.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.CREATED." + bus.StreamEvents + ".closing")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(context.Background(), c.JS, bus.ConsumerConfig{Stream: bus.StreamEvents, Durable: "closing"},
			func(context.Context, jetstream.Msg) error { return nil })
	}()
	if _, err := created.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("consumer not created: %v", err)
	}
	c.NC.Close()
	select {
	case err := <-done:
		if !errors.Is(err, nats.ErrConnectionClosed) {
			t.Fatalf("Consume = %v, want ErrConnectionClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Consume still running 10 s after its connection closed")
	}
}

// A consumer stopped mid-work acks what its handler finished, and hands
// back what it still holds at once, so a restarted one gets exactly the
// rest without waiting out AckWait.
func TestConsumeHandsBackOnStop(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	cfg := bus.ConsumerConfig{Stream: bus.StreamEvents, Durable: "handback", Filter: []string{msg.AllAlerts}, AckWait: time.Minute}
	started := make(chan struct{}, 1)
	stop := consume(t, c, cfg, func(ctx context.Context, m jetstream.Msg) error {
		started <- struct{}{}
		<-ctx.Done() // still working when shutdown comes, then done
		return nil
	})
	for _, s := range []string{"a", "b"} {
		if err := c.Publish(ctx, msg.SubjectAlert(s), []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	stop = consume(t, c, cfg, func(_ context.Context, m jetstream.Msg) error { got <- string(m.Data()); return nil })
	defer stop()
	select {
	case g := <-got:
		if g != "b" {
			t.Fatalf("got %q first, want b (a was done and must have been acked)", g)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("message b not redelivered within 10 s (AckWait is a minute)")
	}
}

func TestQueueCollector(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	start := time.Now()
	for i := range 3 {
		if err := c.Publish(ctx, msg.SubjectAudio("q1", msg.RoleAgent), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.DeadLetter(ctx, c.JS, msg.DeadLetter{Stage: "asr", Subject: "earshot.audio.q1.agent", Deliveries: 5, Reason: "engine failed"}); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP earshot_dead_letters Messages a stage gave up on, kept in the dead-letter stream.
# TYPE earshot_dead_letters gauge
earshot_dead_letters 1
# HELP earshot_jobs_queued Utterance jobs in the work queue: waiting for a transcription worker or being transcribed.
# TYPE earshot_jobs_queued gauge
earshot_jobs_queued 3
`
	col := bus.NewQueueCollector(c.JS)
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "earshot_dead_letters", "earshot_jobs_queued"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "earshot_jobs_oldest_seconds" {
			if age := mf.GetMetric()[0].GetGauge().GetValue(); age <= 0 || age > time.Since(start).Seconds() {
				t.Errorf("earshot_jobs_oldest_seconds = %v, want the age of the first job (at most %v)", age, time.Since(start).Seconds())
			}
			return
		}
	}
	t.Error("no earshot_jobs_oldest_seconds")
}

func TestOldestAge(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		state jetstream.StreamState
		want  time.Duration
	}{
		{jetstream.StreamState{}, 0},
		{jetstream.StreamState{Msgs: 0, FirstTime: now.Add(-time.Hour)}, 0}, // emptied: the first time is stale
		{jetstream.StreamState{Msgs: 2, FirstTime: now.Add(-90 * time.Second)}, 90 * time.Second},
		{jetstream.StreamState{Msgs: 1, FirstTime: now.Add(time.Second)}, 0}, // clocks apart
	} {
		if got := bus.OldestAge(tc.state, now); got != tc.want {
			t.Errorf("OldestAge(%+v) = %v, want %v", tc.state, got, tc.want)
		}
	}
}

// A message whose handler fails transiently is kept far past MaxDeliver,
// with growing backoff, and handled once the outage is over.
func TestConsumeKeepsTransientFailures(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	dead := make(chan string, 1)
	done := make(chan int, 1)
	var tries int
	stop := consume(t, c, bus.ConsumerConfig{
		Stream: bus.StreamAudio, Durable: "asr", MaxDeliver: 2,
		RetryBackoff: time.Millisecond, MaxRetryBackoff: 5 * time.Millisecond,
		OnDeadLetter: func(_ context.Context, _ jetstream.Msg, reason error) { dead <- reason.Error() },
	}, func(_ context.Context, m jetstream.Msg) error {
		tries++ // one worker: handled one at a time
		if tries <= 20 {
			return bus.Transient(errors.New("engine down"))
		}
		done <- tries
		return nil
	})
	defer stop()
	if err := c.Publish(ctx, "earshot.audio.t.agent", []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-done:
		if n != 21 {
			t.Fatalf("handled on try %d, want 21", n)
		}
	case r := <-dead:
		t.Fatalf("dead-lettered during the outage: %s", r)
	case <-time.After(20 * time.Second):
		t.Fatal("not handled within 20 s")
	}
}

// A message failing transiently for longer than MaxWait is dead-lettered,
// saying how long it waited.
func TestConsumeTransientGivesUpAfterMaxWait(t *testing.T) {
	_, c := bustest.Start(t)
	dead := collectDeadLetters(t, c, "asr")
	stop := consume(t, c, bus.ConsumerConfig{
		Stream: bus.StreamAudio, Durable: "asr",
		RetryBackoff: time.Millisecond, MaxRetryBackoff: 10 * time.Millisecond, MaxWait: 200 * time.Millisecond,
	}, func(context.Context, jetstream.Msg) error { return bus.Transient(errors.New("engine down")) })
	defer stop()
	if err := c.Publish(context.Background(), "earshot.audio.t.agent", []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-dead:
		if !strings.Contains(d.Reason, "still failing after waiting") || !strings.Contains(d.Reason, "engine down") || d.Deliveries < 3 {
			t.Fatalf("dead letter %+v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no dead letter within 20 s")
	}
}

func collectDeadLetters(t *testing.T, c *bus.Conn, stage string) <-chan msg.DeadLetter {
	t.Helper()
	dead := make(chan msg.DeadLetter, 10)
	sub, err := c.NC.Subscribe(msg.SubjectDeadLetter(stage), func(m *nats.Msg) {
		var d msg.DeadLetter
		if err := msg.Unmarshal(m.Data, &d); err != nil {
			t.Error(err)
		}
		dead <- d
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return dead
}

// Dead letters are listed with their message id, and replayed to their
// subject with it; a replay the stream drops as a duplicate keeps the
// dead letter.
func TestDeadLettersListAndReplay(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	dead := collectDeadLetters(t, c, "asr")
	stop := consume(t, c, bus.ConsumerConfig{Stream: bus.StreamAudio, Durable: "asr"},
		func(context.Context, jetstream.Msg) error { return bus.Permanent(errors.New("refused")) })
	if err := c.PublishWithID(ctx, "earshot.audio.c1.agent", []byte("job 1"), "job/c1/agent/1/0/final"); err != nil {
		t.Fatal(err)
	}
	<-dead
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Another, as a stage older than message ids left it.
	if err := bus.DeadLetter(ctx, c.JS, msg.DeadLetter{Stage: "store", Subject: "earshot.call.c2", Reason: "disk full", Payload: []byte("call 2")}); err != nil {
		t.Fatal(err)
	}
	all, err := bus.DeadLetters(ctx, c.JS, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Subject != "earshot.audio.c1.agent" || all[0].MsgID != "job/c1/agent/1/0/final" || all[0].Reason != "refused" ||
		all[1].Stage != "store" || all[1].Seq <= all[0].Seq {
		t.Fatalf("dead letters %+v", all)
	}
	if asr, err := bus.DeadLetters(ctx, c.JS, "asr"); err != nil || len(asr) != 1 || asr[0].Seq != all[0].Seq {
		t.Fatalf("asr dead letters %+v, %v", asr, err)
	}

	// The job's id is still in the work queue's duplicate window: the
	// replay is dropped, says so, and the dead letter stays.
	if _, err := bus.ReplayDeadLetter(ctx, c.JS, all[0].Seq); !errors.Is(err, bus.ErrReplayDuplicate) || !strings.Contains(err.Error(), "2m0s") {
		t.Fatalf("replay within the duplicate window: %v", err)
	}
	// The other has no id: it goes back to its subject and leaves the
	// dead-letter stream.
	got, err := c.NC.SubscribeSync("earshot.call.c2")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Unsubscribe()
	if _, err := bus.ReplayDeadLetter(ctx, c.JS, all[1].Seq); err != nil {
		t.Fatal(err)
	}
	if m, err := got.NextMsg(10 * time.Second); err != nil || string(m.Data) != "call 2" {
		t.Fatalf("replayed message: %v", err)
	}
	if _, err := bus.ReplayDeadLetter(ctx, c.JS, all[1].Seq); !errors.Is(err, bus.ErrNoDeadLetter) {
		t.Fatalf("replaying a replayed dead letter: %v", err)
	}
	if left, err := bus.DeadLetters(ctx, c.JS, ""); err != nil || len(left) != 1 || left[0].Seq != all[0].Seq {
		t.Fatalf("left %+v, %v", left, err)
	}
}

// A replay keeps the message's id.
func TestReplayKeepsMsgID(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	if err := bus.DeadLetter(ctx, c.JS, msg.DeadLetter{Stage: "asr", Subject: "earshot.audio.c3.agent", Payload: []byte("job"), MsgID: "job/c3/agent/1/0/final"}); err != nil {
		t.Fatal(err)
	}
	all, err := bus.DeadLetters(ctx, c.JS, "asr")
	if err != nil || len(all) != 1 {
		t.Fatalf("%+v, %v", all, err)
	}
	if _, err := bus.ReplayDeadLetter(ctx, c.JS, all[0].Seq); err != nil {
		t.Fatal(err)
	}
	st, err := c.JS.Stream(ctx, bus.StreamAudio)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "earshot.audio.c3.agent")
	if err != nil {
		t.Fatal(err)
	}
	if id := m.Header.Get(jetstream.MsgIDHeader); id != "job/c3/agent/1/0/final" || string(m.Data) != "job" {
		t.Fatalf("replayed message id %q, data %q", id, m.Data)
	}
}

// A client port already taken fails the start at once, saying which port and
// why, instead of waiting for a server that can never become ready.
func TestStartServerPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	srv, err := bus.StartServer(bus.ServerConfig{DataDir: t.TempDir(), Listen: ln.Addr().String()})
	if err == nil {
		srv.Close()
		t.Fatalf("started on %s, which is taken", ln.Addr())
	}
	if !errors.Is(err, bus.ErrServerStart) || !strings.Contains(err.Error(), ln.Addr().String()) ||
		!strings.Contains(err.Error(), "address already in use") {
		t.Errorf("error %q: want ErrServerStart naming %s and the cause", err, ln.Addr())
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the refusal took %s; the cause is known at once", waited)
	}
}

// A JetStream store that cannot be opened fails the start at once with
// nats-server's reason, not after waiting for readiness.
func TestStartServerStoreUnusable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	srv, err := bus.StartServer(bus.ServerConfig{DataDir: file})
	if err == nil {
		srv.Close()
		t.Fatalf("started with its store under the file %s", file)
	}
	if !errors.Is(err, bus.ErrServerStart) || !strings.Contains(err.Error(), "JetStream") {
		t.Errorf("error %q: want ErrServerStart with nats-server's reason", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the refusal took %s; the cause is known at once", waited)
	}
}

// With a Key, several workers share one pull: each key's messages are
// handled in stream order, and while one key's handler waits, other keys
// are handled.
func TestConsumeKeyKeepsOrderPerKey(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	cfg := bus.ConsumerConfig{
		Stream: bus.StreamEvents, Durable: "keyed", Filter: []string{msg.AllTranscripts},
		Workers: 4, Batch: 32,
		Key: bus.ByCall,
	}
	calls := []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"}
	stuckWorker := bus.Partition("stuck", cfg.Workers)
	elsewhere := make(chan struct{}) // closed when a call of another worker is handled
	var once sync.Once
	var mu sync.Mutex
	got := map[string][]string{}
	done := make(chan struct{}, 1000)
	stop := consume(t, c, cfg, func(_ context.Context, m jetstream.Msg) error {
		call, n, _ := strings.Cut(string(m.Data()), "/")
		if call == "stuck" {
			select {
			case <-elsewhere:
			case <-time.After(10 * time.Second):
				t.Error("no other call handled while the stuck call's handler waited")
			}
		} else if bus.Partition(call, cfg.Workers) != stuckWorker {
			once.Do(func() { close(elsewhere) })
		}
		mu.Lock()
		got[call] = append(got[call], n)
		mu.Unlock()
		done <- struct{}{}
		return nil
	})
	if err := c.Publish(ctx, msg.SubjectTranscript("stuck"), []byte("stuck/0")); err != nil {
		t.Fatal(err)
	}
	const per = 50
	for i := range per {
		for _, call := range calls {
			if _, err := c.JS.PublishAsync(msg.SubjectTranscript(call), []byte(fmt.Sprintf("%s/%03d", call, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	<-c.JS.PublishAsyncComplete()
	for range len(calls)*per + 1 {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("not every message handled within 20 s")
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, call := range calls {
		if len(got[call]) != per || !slices.IsSorted(got[call]) {
			t.Errorf("call %s handled %d messages in order %v; want %d in stream order", call, len(got[call]), got[call], per)
		}
	}
}

// With Together, the messages at hand are handled as one unit and acked
// after it; when the unit fails, each is handled alone.
func TestConsumeTogether(t *testing.T) {
	_, c := bustest.Start(t)
	const n = 50
	for i := range n {
		if _, err := c.JS.PublishAsync(msg.SubjectTranscript("c1"), []byte(fmt.Sprintf("%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	<-c.JS.PublishAsyncComplete()
	var mu sync.Mutex
	var units, failed int
	var committed []string
	done := make(chan struct{}, 2*n)
	type pendingKey struct{}
	stop := consume(t, c, bus.ConsumerConfig{
		Stream: bus.StreamEvents, Durable: "together", Filter: []string{msg.AllTranscripts},
		Key: bus.ByCall, Batch: 16,
		Together: func(ctx context.Context, each func(context.Context) error) error {
			var pending []string
			if err := each(context.WithValue(ctx, pendingKey{}, &pending)); err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
				return err
			}
			mu.Lock()
			units++
			committed = append(committed, pending...)
			mu.Unlock()
			for range pending {
				done <- struct{}{}
			}
			return nil
		},
	}, func(ctx context.Context, m jetstream.Msg) error {
		pending, together := ctx.Value(pendingKey{}).(*[]string)
		if string(m.Data()) == "025" && together {
			return errors.New("refused in a unit")
		}
		if together {
			*pending = append(*pending, string(m.Data()))
			return nil
		}
		mu.Lock()
		committed = append(committed, string(m.Data()))
		mu.Unlock()
		done <- struct{}{}
		return nil
	})
	for range n {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("not every message handled within 10 s")
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(committed) != n || !slices.IsSorted(committed) {
		t.Fatalf("handled %d messages, in order %v; want %d in stream order, each once", len(committed), committed, n)
	}
	if units == 0 || units+failed >= n {
		t.Errorf("%d units committed and %d failed for %d messages; want the messages at hand handled together", units, failed, n)
	}
	if failed == 0 {
		t.Error("the unit holding the refused message did not fail")
	}
	waitAcked(t, c, "together", n)
}

// waitAcked waits until the consumer durable has acked at least n
// messages and none is pending: the server takes acks in on a queue of
// its own, so the consumer's state can lag the acks a moment.
func waitAcked(t *testing.T, c *bus.Conn, durable string, n uint64) {
	t.Helper()
	ctx := context.Background()
	cons, err := c.JS.Consumer(ctx, bus.StreamEvents, durable)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumAckPending == 0 && ci.NumPending == 0 && ci.AckFloor.Consumer >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s: %d unacked, %d pending, ack floor %d; want 0, 0 and at least %d", durable, ci.NumAckPending, ci.NumPending, ci.AckFloor.Consumer, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHandlerPublishesWithoutWaiting: in a consumer's handler, keyed by
// call or not, Conn.Publish returns before its ack, and the message is
// acked only once what the handler published is stored: a publish that
// fails (no stream takes its subject) brings the message again, and the
// second delivery's result is stored. An unkeyed worker left with nothing
// else to do still acks its message.
func TestHandlerPublishesWithoutWaiting(t *testing.T) {
	for name, key := range map[string]func(jetstream.Msg) string{"keyed": bus.ByCall, "unkeyed": nil} {
		t.Run(name, func(t *testing.T) {
			_, c := bustest.Start(t)
			ctx := context.Background()
			deliveries := make(chan int, 10)
			stop := consume(t, c, bus.ConsumerConfig{
				Stream: bus.StreamEvents, Durable: "async", Filter: []string{msg.AllTranscripts},
				Workers: 2, Key: key, RetryBackoff: 10 * time.Millisecond,
			}, func(ctx context.Context, m jetstream.Msg) error {
				md, err := m.Metadata()
				if err != nil {
					return err
				}
				subject := msg.SubjectAlert("c1") // stored
				if md.NumDelivered == 1 {
					subject = "nostream.c1" // no stream: the publish fails
				}
				if err := c.Publish(ctx, subject, []byte("result")); err != nil {
					return err
				}
				deliveries <- int(md.NumDelivered)
				return nil
			})
			if err := c.Publish(ctx, msg.SubjectTranscript("c1"), []byte("segment")); err != nil {
				t.Fatal(err)
			}
			for want := 1; want <= 2; want++ {
				select {
				case n := <-deliveries:
					if n != want {
						t.Fatalf("delivery %d, want %d", n, want)
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("delivery %d not within 20 s: a failed publish in flight must bring the message again", want)
				}
			}
			// Acked while the consumer still runs, with nothing more to do.
			waitAcked(t, c, "async", 1)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			// The second delivery's result is stored.
			s, err := c.JS.Stream(ctx, bus.StreamEvents)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetLastMsgForSubject(ctx, msg.SubjectAlert("c1")); err != nil {
				t.Errorf("the result of the second delivery: %v", err)
			}
		})
	}
}

// TestConsumeStoppedBeforeStartIsClean: a stage stopped while its consumer
// is still being created stops cleanly (the rules stage's tests saw
// "context canceled" as a failure); a stream that is not there is still an
// error while the context lives.
func TestConsumeStoppedBeforeStartIsClean(t *testing.T) {
	_, c := bustest.Start(t)
	h := func(context.Context, jetstream.Msg) error { return nil }
	cfg := bus.ConsumerConfig{Stream: bus.StreamEvents, Durable: "early", Filter: []string{msg.AllTranscripts}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bus.Consume(ctx, c.JS, cfg, h); err != nil {
		t.Fatalf("Consume stopped before it started: %v, want nil", err)
	}
	cfg.Stream = "NO_SUCH_STREAM"
	if err := bus.Consume(context.Background(), c.JS, cfg, h); err == nil {
		t.Fatal("Consume on a stream that is not there: nil error")
	}
}

// TestKeyValueWaitsForAnswers: a JetStream that answers nothing (no
// responders, as while a cluster elects its leader) is asked again until
// the context ends, and the error says what was wrong.
func TestKeyValueWaitsForAnswers(t *testing.T) {
	srv, err := bus.StartServer(bus.ServerConfig{NoJetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	before := nc.Stats().OutMsgs
	_, err = bus.KeyValue(ctx, js, jetstream.KeyValueConfig{Bucket: "B"})
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("KeyValue on a server without JetStream: %v, want no responders", err)
	}
	if asked := nc.Stats().OutMsgs - before; asked < 2 {
		t.Errorf("JetStream asked %d times in 400 ms, want again after no responders", asked)
	}
	if ctx.Err() == nil {
		t.Error("KeyValue gave up before its context ended")
	}
}
