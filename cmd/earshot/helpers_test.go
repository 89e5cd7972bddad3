package main

import (
	"context"
	"testing"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
)

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
