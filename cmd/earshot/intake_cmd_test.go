package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
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
	t.Cleanup(func() { goleak.VerifyNone(t, before, natsJetStreamLeak) })
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

func TestCaptureSIPRECFlagsRefused(t *testing.T) {
	srv, _ := bustest.Start(t)
	for _, args := range [][]string{
		{"--siprec", "http://127.0.0.1:5060"},
		{"--siprec", "udp://127.0.0.1:5060", "--siprec-agent", "("},
		{"--siprec", "udp://0.0.0.0:5060"},
		{"--siprec", "udp://127.0.0.1:5060", "--siprec-allow", "10.0.0.0/99"},
		{"--siprec", "tcp://127.0.0.1:5060", "--siprec-max-sessions", "0"},
		{"--siprec", "tcp://127.0.0.1:5060", "--siprec-idle", "0s"},
		{"--siprec", "tcp://127.0.0.1:5060", "--siprec-media-ports", "20000-20003"},
		{"--siprec", "tls://127.0.0.1:5061"},
	} {
		code, _, stderr := captureRun(context.Background(), append([]string{"capture", "--nats", srv.ClientURL(), "--rtp", captureFreePort(t)}, args...)...)
		if code != 2 || !strings.Contains(stderr, "--siprec") {
			t.Errorf("%v: exit %d, stderr %q: want 2 naming the flag", args, code, stderr)
		}
	}
}

// earshot capture --siprec answers SIP: an OPTIONS over UDP gets 200.
func TestCaptureTakesSIPREC(t *testing.T) {
	addr := captureFreePort(t)
	runCapture(t, "--siprec", "udp://"+addr)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	options := "OPTIONS sip:srs@" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + conn.LocalAddr().String() + ";branch=z9hG4bK-cmd1\r\n" +
		"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: cmd-options-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	buf := make([]byte, 4096)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := conn.Write([]byte(options)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond)) // the server may not listen yet: poll
		n, err := conn.Read(buf)
		if err == nil {
			if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
				t.Fatalf("OPTIONS: %q", buf[:n])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer to OPTIONS on %s: %v", addr, err)
		}
	}
}
