package record_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/record"
	"github.com/earshot-dev/earshot/record/recordtest"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

// TestMain checks for goroutines left behind, but for the one nats.go
// v1.55.0 leaves after an asynchronous publish (ObjectStore.Put): it waits
// on a nil channel for a reconnect, one per JetStream context.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}

func TestDir(t *testing.T) {
	recordtest.Run(t, func(t *testing.T) record.Store {
		d, err := record.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestObjectStore(t *testing.T) {
	_, c := bustest.Start(t)
	n := 0
	recordtest.Run(t, func(t *testing.T) record.Store {
		n++
		o, err := record.NewObjectStore(context.Background(), c.JS, record.ObjectStoreConfig{Bucket: "T" + string(rune('A'+n))})
		if err != nil {
			t.Fatal(err)
		}
		return o
	})
}

// A recording in the object store reads at the reader's pace, however
// slow (the object store's own Get failed any read that took longer than
// the JetStream context's default timeout, 5 s), and a read whose context
// ends stops and leaves nothing behind: no goroutine (TestMain), no
// consumer on the bucket's stream.
func TestObjectStoreSlowAndCancelledReads(t *testing.T) {
	_, c := bustest.Start(t)
	js, err := jetstream.New(c.NC, jetstream.WithDefaultTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o, err := record.NewObjectStore(ctx, js, record.ObjectStoreConfig{Bucket: "SLOW"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 5*128*1024+77) // six chunks
	for i := range data {
		data[i] = byte(i * 7)
	}
	if _, err := o.Put(ctx, "c/slow", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		s, err := js.Stream(ctx, "OBJ_SLOW")
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Consumers
	}

	rc, _, err := o.Open(ctx, "c/slow", 100)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1000)
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a listener who paused: 4 default timeouts
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read after a pause: %v", err)
	}
	if got := append(first, rest...); !bytes.Equal(got, data[100:]) {
		t.Fatalf("read %d bytes, want %d equal to the object's from offset 100", len(got), len(data)-100)
	}
	rc.Close()

	cctx, cancel := context.WithCancel(ctx)
	rc, _, err = o.Open(cctx, "c/slow", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatal(err)
	}
	if n := consumers(); n != 1 {
		t.Fatalf("%d consumers while one read is open, want 1", n)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after its context ended: %v, want context.Canceled", err)
	}
	rc.Close()
	if n := consumers(); n != 0 {
		t.Fatalf("%d consumers after the reads closed, want 0", n)
	}
}

// A read whose consumer is gone (it lapsed while the listener paused, or
// went with its server) goes on from the chunk after the last it had.
func TestObjectStoreReadOutlivesItsConsumer(t *testing.T) {
	_, c := bustest.Start(t)
	ctx := context.Background()
	o, err := record.NewObjectStore(ctx, c.JS, record.ObjectStoreConfig{Bucket: "LAPSE"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 20*128*1024+5) // 21 chunks: more than one fetch
	for i := range data {
		data[i] = byte(i * 13)
	}
	if _, err := o.Put(ctx, "c/lapse", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rc, _, err := o.Open(ctx, "c/lapse", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	first := make([]byte, 128*1024+10)
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatal(err)
	}
	s, err := c.JS.Stream(ctx, "OBJ_LAPSE")
	if err != nil {
		t.Fatal(err)
	}
	names := s.ConsumerNames(ctx)
	n := 0
	for name := range names.Name() {
		if err := s.DeleteConsumer(ctx, name); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d consumers deleted, want the read's one", n)
	}
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read after its consumer went: %v", err)
	}
	if got := append(first, rest...); !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, want the %d of the object", len(got), len(data))
	}
}
