package mediastream_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/capture/mediastream"
	"github.com/earshot-dev/earshot/msg"
	"github.com/zaf/g711"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "s3cret"

// serve runs a media streams server for r's capture on 127.0.0.1 and
// returns its ws:// URL.
func serve(t *testing.T, r *capturetest.Rig, cfg mediastream.Config) string {
	t.Helper()
	s, err := mediastream.New(r.Cap, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return "ws://" + capturetest.Serve(t, s.Serve) + "/media"
}

func dial(t *testing.T, url string, h http.Header) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

func bearer() http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func send(t *testing.T, conn *websocket.Conn, m any) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

func ulaw(pcm []int16) []byte {
	out := make([]byte, len(pcm))
	for i, s := range pcm {
		out[i] = g711.EncodeUlawFrame(s)
	}
	return out
}

func silent(pcm []int16) bool {
	for _, s := range pcm {
		if s != 0 {
			return false
		}
	}
	return true
}

// play sends an example call as a platform does: connected, start, 20 ms
// media chunks of both tracks (a chunk of digital silence is left out: a
// gap), a dtmf and a mark on the way, and stop.
func play(t *testing.T, conn *websocket.Conn, callSid string, agent, customer []int16, dtmfAt int) {
	t.Helper()
	send(t, conn, map[string]any{"event": "connected", "protocol": "Call", "version": "1.0.0"})
	send(t, conn, map[string]any{"event": "start", "sequenceNumber": "1", "streamSid": "MZ" + callSid, "start": map[string]any{
		"accountSid": "AC1", "streamSid": "MZ" + callSid, "callSid": callSid, "tracks": []string{"inbound", "outbound"},
		"mediaFormat":      map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
		"customParameters": map[string]string{"agent": "bob", "queue": "payments", "account": "gold"},
	}})
	seq := 2
	media := func(track string, ms int, pcm []int16) {
		send(t, conn, map[string]any{"event": "media", "sequenceNumber": strconv.Itoa(seq), "streamSid": "MZ" + callSid, "media": map[string]string{
			"track": track, "chunk": strconv.Itoa(seq), "timestamp": strconv.Itoa(ms), "payload": base64.StdEncoding.EncodeToString(ulaw(pcm)),
		}})
		seq++
	}
	for i := 0; i < max(len(agent), len(customer)); i += 160 {
		ms := i / 8
		if i < len(customer) && !silent(customer[i:min(i+160, len(customer))]) {
			media("inbound", ms, customer[i:min(i+160, len(customer))])
		}
		if i < len(agent) && !silent(agent[i:min(i+160, len(agent))]) {
			media("outbound", ms, agent[i:min(i+160, len(agent))])
		}
		if ms == dtmfAt {
			send(t, conn, map[string]any{"event": "dtmf", "streamSid": "MZ" + callSid, "sequenceNumber": strconv.Itoa(seq), "dtmf": map[string]string{"track": "inbound_track", "digit": "7"}})
			send(t, conn, map[string]any{"event": "mark", "streamSid": "MZ" + callSid, "sequenceNumber": strconv.Itoa(seq + 1), "mark": map[string]string{"name": "m1"}})
			seq += 2
		}
	}
	send(t, conn, map[string]any{"event": "stop", "sequenceNumber": strconv.Itoa(seq), "streamSid": "MZ" + callSid, "stop": map[string]string{"accountSid": "AC1", "callSid": callSid}})
}

func TestExampleCallOverAMediaStreamLooksLikeItsRTP(t *testing.T) {
	agent := capturetest.ExampleLeg(t, "card-number", msg.RoleAgent)
	customer := capturetest.ExampleLeg(t, "card-number", msg.RoleCustomer)

	viaRTP := capturetest.ViaRTP(t, agent, customer)

	r := capturetest.Start(t, capture.Config{})
	url := serve(t, r, mediastream.Config{Token: token})
	play(t, dial(t, url, bearer()), "CA0123456789abcdef", agent, customer, 12000)
	c := r.WaitEnded(1, 30*time.Second)["CA0123456789abcdef"]
	if c == nil {
		t.Fatal("no call named by the callSid")
	}
	if s := c.Started; s.Intake != msg.IntakeMediaStream || s.Agent != "bob" || s.Queue != "payments" || s.Attributes["account"] != "gold" || s.Attributes["stream_sid"] != "MZCA0123456789abcdef" {
		t.Errorf("started %+v: want intake mediastream, agent bob, queue payments, attributes account and stream_sid", s)
	}
	if len(c.Last().Legs) != 2 || c.Ended.Reason != msg.EndHangup {
		t.Errorf("ended %+v: want two legs and reason hangup", c.Ended)
	}
	for _, p := range []struct{ ws, rtp msg.Role }{{msg.RoleAgent, msg.RoleA}, {msg.RoleCustomer, msg.RoleB}} {
		got, want := c.Finals(p.ws), viaRTP.Finals(p.rtp)
		if len(got) != len(want) || len(got) < 3 {
			t.Fatalf("%s: %d final jobs over the media stream, %d over RTP", p.ws, len(got), len(want))
		}
		for i := range got {
			if d := got[i].StartMS - want[i].StartMS; d < -60 || d > 60 {
				t.Errorf("%s job %d starts at %d ms over the media stream, %d over RTP", p.ws, i, got[i].StartMS, want[i].StartMS)
			}
		}
	}
	if len(c.DTMF) != 1 || c.DTMF[0].Digit != "7" || c.DTMF[0].Leg != msg.RoleCustomer || c.DTMF[0].StartMS < 11900 || c.DTMF[0].StartMS > 12100 {
		t.Errorf("DTMF %+v: want 7 on the customer leg at 12 s", c.DTMF)
	}
}

func TestUpgradeNeedsATokenOrASignature(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	url := serve(t, r, mediastream.Config{Token: token, HMACSecret: "authtoken"})
	for name, h := range map[string]http.Header{
		"none":          nil,
		"wrong token":   {"Authorization": {"Bearer nope"}},
		"wrong signing": {"X-Twilio-Signature": {mediastream.Sign("other", url)}},
	} {
		_, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: h})
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %v %v, want 401", name, err, resp)
		}
	}
	if n := r.Cap.IntakeRefused(msg.IntakeMediaStream, "unauthorized"); n != 3 {
		t.Errorf("%d refused as unauthorized, want 3", n)
	}
	conn := dial(t, url, http.Header{"X-Twilio-Signature": {mediastream.Sign("authtoken", url)}})
	conn.Close(websocket.StatusNormalClosure, "")
}

// closeReason reads until the server closes and returns its close error
// (code -1 for an end without one).
func closeReason(t *testing.T, conn *websocket.Conn) websocket.CloseError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := conn.Read(ctx)
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		if err != nil {
			return websocket.CloseError{Code: -1, Reason: "not a close: " + err.Error()}
		}
	}
}

func TestNotTheProtocolClosesTheStreamWithAReason(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	url := serve(t, r, mediastream.Config{Token: token})
	start := map[string]any{"event": "start", "start": map[string]any{"callSid": "CAbad", "tracks": []string{"inbound"},
		"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}

	// A good call goes on beside the bad streams.
	good := dial(t, url, bearer())
	send(t, good, map[string]any{"event": "start", "start": map[string]any{"callSid": "CAgood", "tracks": []string{"inbound"},
		"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
	speech := capturetest.ExampleLeg(t, "angry-customer", msg.RoleAgent)[:24000]
	half := func(from, to int) {
		for i := from; i < to; i += 160 {
			send(t, good, map[string]any{"event": "media", "media": map[string]string{"track": "inbound", "timestamp": strconv.Itoa(i / 8), "payload": base64.StdEncoding.EncodeToString(ulaw(speech[i : i+160]))}})
		}
	}
	half(0, 12000)
	// A payload that is not base64 is dropped; the stream goes on.
	send(t, good, map[string]any{"event": "media", "media": map[string]string{"track": "inbound", "timestamp": "1500", "payload": "%%%not base64"}})

	for name, c := range map[string]struct {
		write func(*websocket.Conn)
		code  websocket.StatusCode
	}{
		"binary":   {func(c *websocket.Conn) { _ = c.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3}) }, websocket.StatusUnsupportedData},
		"not json": {func(c *websocket.Conn) { _ = c.Write(context.Background(), websocket.MessageText, []byte("hello")) }, websocket.StatusInvalidFramePayloadData},
		"media first": {func(c *websocket.Conn) {
			send(t, c, map[string]any{"event": "media", "media": map[string]string{"track": "inbound"}})
		}, websocket.StatusPolicyViolation},
		"wideband": {func(c *websocket.Conn) {
			send(t, c, map[string]any{"event": "start", "start": map[string]any{"callSid": "CAw", "tracks": []string{"inbound"}, "mediaFormat": map[string]any{"encoding": "audio/l16", "sampleRate": 16000}}})
		}, websocket.StatusPolicyViolation},
		"bad call id": {func(c *websocket.Conn) {
			send(t, c, map[string]any{"event": "start", "start": map[string]any{"callSid": "a.b", "tracks": []string{"inbound"}, "mediaFormat": map[string]any{"encoding": "audio/x-mulaw"}}})
		}, websocket.StatusPolicyViolation},
		"second start": {func(c *websocket.Conn) { send(t, c, start); send(t, c, start) }, websocket.StatusPolicyViolation},
	} {
		conn := dial(t, url, bearer())
		c.write(conn)
		if ce := closeReason(t, conn); ce.Code != c.code || ce.Reason == "" {
			t.Errorf("%s: closed %v %q, want %v with a reason", name, ce.Code, ce.Reason, c.code)
		}
	}
	half(12000, 24000)
	send(t, good, map[string]any{"event": "stop"})
	calls := r.WaitEnded(2, 10*time.Second) // the good call and the one of the second start
	g := calls["CAgood"]
	if g == nil || g.Ended.Reason != msg.EndHangup || len(g.Finals(msg.RoleCustomer)) == 0 || g.Finals(msg.RoleCustomer)[len(g.Finals(msg.RoleCustomer))-1].EndMS < 2900 {
		t.Errorf("the good call beside them: %+v", g)
	}
	if n := r.Cap.IntakeRefused(msg.IntakeMediaStream, "protocol"); n != 6 {
		t.Errorf("%d streams refused as not the protocol, want 6", n)
	}
	if n := r.Cap.IntakeRefused(msg.IntakeMediaStream, "malformed"); n != 1 {
		t.Errorf("%d chunks refused as malformed, want 1", n)
	}
}

func TestStreamsPastTheBoundAreRefused(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	url := serve(t, r, mediastream.Config{Token: token, MaxStreams: 1})
	first := dial(t, url, bearer())
	_, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: bearer()})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second stream: %v %v, want 503", err, resp)
	}
	if n := r.Cap.IntakeRefused(msg.IntakeMediaStream, "no_room"); n != 1 {
		t.Errorf("%d refused for room, want 1", n)
	}
	first.Close(websocket.StatusNormalClosure, "")
}

// TestShutdownClosesStreamsAndWaitsForThem: Serve returns once every
// stream closed (going away) and its call ended.
func TestShutdownClosesStreamsAndWaitsForThem(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	s, err := mediastream.New(r.Cap, mediastream.Config{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	conn := dial(t, "ws://"+ln.Addr().String()+"/", bearer())
	send(t, conn, map[string]any{"event": "start", "start": map[string]any{"callSid": "CAdown", "tracks": []string{"inbound"},
		"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
	r.WaitCall(func(e *msg.CallEvent) bool { return e.CallID == "CAdown" && len(e.Legs) == 1 }, 10*time.Second)
	closed := make(chan websocket.CloseError, 1)
	go func() { closed <- closeReason(t, conn) }()
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if ce := <-closed; ce.Code != websocket.StatusGoingAway {
		t.Errorf("closed %v, want going away", ce.Code)
	}
	if c := r.WaitEnded(1, 10*time.Second)["CAdown"]; c == nil || c.Ended.Reason != msg.EndHangup {
		t.Errorf("call CAdown: %+v, want ended by its stream", c)
	}
}

func TestIdleStreamIsClosed(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	url := serve(t, r, mediastream.Config{Token: token, Idle: 300 * time.Millisecond})
	conn := dial(t, url, bearer())
	send(t, conn, map[string]any{"event": "connected"})
	if ce := closeReason(t, conn); ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "nothing for") {
		t.Errorf("closed %v %q, want policy violation, idle", ce.Code, ce.Reason)
	}
	if n := r.Cap.IntakeRefused(msg.IntakeMediaStream, "idle"); n != 1 {
		t.Errorf("%d idle streams counted, want 1", n)
	}
}
