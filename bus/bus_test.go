package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
	info, err := c.JS.Consumer(ctx, bus.StreamEvents, "t")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := info.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumAckPending != 0 || ci.AckFloor.Consumer != 2 {
		t.Fatalf("ack pending %d, ack floor %d; want 0 and 2", ci.NumAckPending, ci.AckFloor.Consumer)
	}
}

func TestConsumeRetriesThenDeadLetters(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	dead := make(chan msg.DeadLetter, 2)
	sub, err := c.NC.Subscribe(msg.SubjectDeadLetter("asr"), func(m *nats.Msg) {
		var d msg.DeadLetter
		if err := msg.Unmarshal(m.Data, &d); err != nil {
			t.Error(err)
		}
		dead <- d
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

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
	for i := range 3 {
		if err := c.Publish(ctx, msg.SubjectAudio("q1", msg.RoleAgent), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.DeadLetter(ctx, c.JS, "asr", "earshot.audio.q1.agent", nil, 5, errors.New("engine failed")); err != nil {
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
	if err := testutil.CollectAndCompare(bus.NewQueueCollector(c.JS), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
