package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture/audiosocket"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/zaf/g711"
	"go.uber.org/goleak"
)

// runCapture runs earshot capture with args against a fresh NATS until the
// test ends, and returns a channel of what it publishes.
func runCapture(t *testing.T, args ...string) <-chan *nats.Msg {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
	srv, conn := bustest.Start(t)
	ev := make(chan *nats.Msg, 10000)
	sub, err := conn.NC.ChanSubscribe("earshot.>", ev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if code, _, stderr := captureRun(ctx, append([]string{"capture", "--nats", srv.ClientURL(), "--rtp", captureFreePort(t)}, args...)...); code != 0 {
			t.Errorf("earshot capture exited %d: %s", code, stderr)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = sub.Unsubscribe()
	})
	return ev
}

// dialUntil dials a WebSocket until the server listens (or 10 s pass).
func dialUntil(t *testing.T, url string, h http.Header) *websocket.Conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
		cancel()
		if err == nil {
			return conn
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", url, err)
		}
		<-time.After(20 * time.Millisecond) // the listener is not up yet: poll

	}
}

func TestCaptureTakesAMediaStream(t *testing.T) {
	addr := e2eFreeTCP(t)
	ev := runCapture(t, "--media-ws", addr, "--media-ws-token", "tok", "--media-ws-inbound", "agent", "--media-ws-outbound", "customer")
	conn := dialUntil(t, "ws://"+addr+"/", http.Header{"Authorization": {"Bearer tok"}})
	defer conn.CloseNow()
	write := func(m any) {
		b, _ := json.Marshal(m)
		if err := conn.Write(context.Background(), websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]any{"event": "start", "start": map[string]any{"callSid": "CAcmd", "tracks": []string{"inbound"},
		"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}, "customParameters": map[string]string{"queue": "q1"}}})
	pcm := capturetest.ExampleLeg(t, "angry-customer", msg.RoleAgent)[:32000]
	for i := 0; i < len(pcm); i += 160 {
		b := make([]byte, 160)
		for k, s := range pcm[i : i+160] {
			b[k] = g711.EncodeUlawFrame(s)
		}
		write(map[string]any{"event": "media", "media": map[string]string{"track": "inbound", "timestamp": strconv.Itoa(i / 8), "payload": base64.StdEncoding.EncodeToString(b)}})
	}
	write(map[string]any{"event": "stop"})
	c := capturetest.Collect(t, ev, 1, 20*time.Second)["CAcmd"]
	if c == nil || c.Started.Intake != msg.IntakeMediaStream || c.Started.Queue != "q1" || len(c.Finals(msg.RoleAgent)) == 0 {
		t.Fatalf("call CAcmd: %+v: want intake mediastream, queue q1, final jobs of the agent (the inbound track)", c)
	}
}

func TestCaptureTakesAudioSocket(t *testing.T) {
	addr := e2eFreeTCP(t)
	ev := runCapture(t, "--audiosocket", addr)
	var conn net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		<-time.After(20 * time.Millisecond) // the listener is not up yet: poll
	}
	defer conn.Close()
	uuid := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xca}
	out := audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid)
	pcm := capturetest.ExampleLeg(t, "angry-customer", msg.RoleAgent)[:32000]
	for i := 0; i < len(pcm); i += 160 {
		b := make([]byte, 320)
		for k, s := range pcm[i : i+160] {
			binary.LittleEndian.PutUint16(b[2*k:], uint16(s))
		}
		out = audiosocket.AppendFrame(out, audiosocket.KindSlin, b)
	}
	out = audiosocket.AppendFrame(out, audiosocket.KindHangup, nil)
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	const id = "01020304-0506-0708-090a-0b0c0d0e0fc0"
	c := capturetest.Collect(t, ev, 1, 20*time.Second)[id]
	if c == nil || c.Started.Intake != msg.IntakeAudioSocket || len(c.Finals(msg.RoleAgent)) == 0 {
		t.Fatalf("call %s: %+v: want intake audiosocket and final jobs of the agent", id, c)
	}
}
