package record_test

import (
	"context"
	"testing"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/record"
	"github.com/earshot-dev/earshot/record/recordtest"
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
