package main

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
)

// natsJetStreamLeak is the goroutine nats.go v1.55.0 leaves after an
// asynchronous publish (ObjectStore.Put, which capture's recorder uses): it
// waits on a nil channel for a reconnect that never comes. One per JetStream
// context, not per publish; not ours to close.
var natsJetStreamLeak = goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect")

// publishMsg publishes m in its envelope on subject and waits for
// JetStream to store it, as a stage would.
func publishMsg(t *testing.T, conn *bus.Conn, subject string, m msg.Message) {
	t.Helper()
	b, err := msg.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Publish(context.Background(), subject, b); err != nil {
		t.Fatal(err)
	}
}
