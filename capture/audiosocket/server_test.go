package audiosocket_test

import (
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/audiosocket"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/msg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs an AudioSocket server for r's capture on 127.0.0.1.
func serve(t *testing.T, r *capturetest.Rig, cfg audiosocket.Config) string {
	t.Helper()
	s, err := audiosocket.New(r.Cap, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return capturetest.Serve(t, s.Serve)
}

// uuid is a leg's UUID: the call's with its last hex digit set to last.
func uuid(call byte, last byte) []byte {
	u := []byte{0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x11, 0xd2, 0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, call, 0x20 | last}
	return u
}

// leg is what Asterisk sends for one leg: its UUID, its audio kind (0x10
// at 8 kHz, 0x12 at 16 kHz) and samples, and a DTMF digit at dtmfAt
// samples (if not 0).
type leg struct {
	id     []byte
	kind   byte
	pcm    []int16
	dtmfAt int
}

// asterisk speaks as Asterisk's AudioSocket() does, one connection per
// leg, the legs side by side: the UUID, then 20 ms slin frames in turn
// (and the DTMF digit), then a hangup; it waits for the server to close.
func asterisk(t *testing.T, r *capturetest.Rig, addr string, legs ...leg) {
	t.Helper()
	conns := make([]net.Conn, len(legs))
	for i, l := range legs {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns[i] = conn
		if _, err := conn.Write(audiosocket.AppendFrame(nil, audiosocket.KindUUID, l.id)); err != nil {
			t.Fatal(err)
		}
	}
	// Asterisk sends in real time, so its legs start together; a test
	// sends as fast as it can, so it waits until capture has both. An
	// announced call lists its declared legs before they connect (without a
	// source): only connected legs count, or a leg that finished first could
	// end the call before the other had joined it.
	r.WaitCall(func(e *msg.CallEvent) bool {
		connected := 0
		for _, l := range e.Legs {
			if strings.HasPrefix(l.Source, "audiosocket:") {
				connected++
			}
		}
		return connected == len(legs)
	}, 10*time.Second)
	for n := 0; ; n++ {
		more := false
		for i, l := range legs {
			frame := 160
			if l.kind == audiosocket.KindSlin16 {
				frame = 320
			}
			at := n * frame
			if at >= len(l.pcm) {
				continue
			}
			more = true
			f := l.pcm[at:min(at+frame, len(l.pcm))]
			b := make([]byte, 2*len(f))
			for k, s := range f {
				binary.LittleEndian.PutUint16(b[2*k:], uint16(s))
			}
			out := audiosocket.AppendFrame(nil, l.kind, b)
			if l.dtmfAt > 0 && at <= l.dtmfAt && l.dtmfAt < at+frame {
				out = audiosocket.AppendFrame(out, audiosocket.KindDTMF, []byte("#"))
			}
			if _, err := conns[i].Write(out); err != nil {
				t.Fatal(err)
			}
		}
		if !more {
			break
		}
	}
	for _, conn := range conns {
		if _, err := conn.Write(audiosocket.AppendFrame(nil, audiosocket.KindHangup, nil)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, conn); err != nil {
			t.Fatal(err)
		}
	}
}

// upsample writes pcm (8 kHz) at 16 kHz with sox.
func upsample(t *testing.T, name string, role msg.Role) []int16 {
	t.Helper()
	if _, err := exec.LookPath("sox"); err != nil {
		t.Skip("sox is not installed")
	}
	out := filepath.Join(t.TempDir(), "leg.raw")
	in, _ := filepath.Abs(filepath.Join("..", "..", "examples", "calls", name+"."+string(role)+".wav"))
	if b, err := exec.Command("sox", in, "-r", "16000", "-t", "raw", "-e", "signed", "-b", "16", "-L", out).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm
}

func TestTwoAsteriskLegsMakeTheCallItsRTPMakes(t *testing.T) {
	agent := capturetest.ExampleLeg(t, "card-number", msg.RoleAgent)
	customer := capturetest.ExampleLeg(t, "card-number", msg.RoleCustomer)
	customer16 := upsample(t, "card-number", msg.RoleCustomer)

	viaRTP := capturetest.ViaRTP(t, agent, customer)

	r := capturetest.Start(t, capture.Config{})
	addr := serve(t, r, audiosocket.Config{})
	asterisk(t, r, addr, leg{uuid(7, 0xa), audiosocket.KindSlin, agent, 8000 * 15}, leg{uuid(7, 0xc), audiosocket.KindSlin16, customer16, 0})
	const id = "1b4e28ba-2fa1-11d2-883f-0016d3cc0720"
	c := r.WaitEnded(1, 30*time.Second)[id]
	if c == nil {
		t.Fatalf("no call %s", id)
	}
	if c.Started.Intake != msg.IntakeAudioSocket || c.Ended.Reason != msg.EndHangup || len(c.Ended.Legs) != 2 {
		t.Errorf("call events: started %+v, ended %+v", c.Started, c.Ended)
	}
	// AudioSocket has no timestamps: a leg starts on the call clock when
	// its connection comes, so on a loaded machine a leg may start later
	// than its RTP twin; within a leg, every turn is where RTP puts it.
	shift := map[msg.Role]int64{}
	for _, p := range []struct{ as, rtp msg.Role }{{msg.RoleAgent, msg.RoleA}, {msg.RoleCustomer, msg.RoleB}} {
		got, want := c.Finals(p.as), viaRTP.Finals(p.rtp)
		if len(got) != len(want) || len(got) < 3 {
			t.Fatalf("%s: %d final jobs over AudioSocket, %d over RTP", p.as, len(got), len(want))
		}
		shift[p.as] = got[0].StartMS - want[0].StartMS
		if shift[p.as] < -60 || shift[p.as] > 500 {
			t.Errorf("%s starts %d ms after its RTP twin", p.as, shift[p.as])
		}
		for i := range got {
			if d := got[i].StartMS - want[i].StartMS - shift[p.as]; d < -60 || d > 60 {
				t.Errorf("%s job %d starts at %d ms over AudioSocket, %d over RTP (leg %d ms later)", p.as, i, got[i].StartMS, want[i].StartMS, shift[p.as])
			}
			if d := (got[i].EndMS - got[i].StartMS) - (want[i].EndMS - want[i].StartMS); d < -60 || d > 60 {
				t.Errorf("%s job %d lasts %d ms over AudioSocket, %d over RTP", p.as, i, got[i].EndMS-got[i].StartMS, want[i].EndMS-want[i].StartMS)
			}
		}
	}
	if len(c.DTMF) != 1 || c.DTMF[0].Digit != "#" || c.DTMF[0].Leg != msg.RoleAgent || c.DTMF[0].StartMS-shift[msg.RoleAgent] < 14900 || c.DTMF[0].StartMS-shift[msg.RoleAgent] > 15100 {
		t.Errorf("DTMF %+v: want # on the agent leg at 15 s of its audio", c.DTMF)
	}
}

func TestFramesNotOfTheProtocolCloseOnlyTheirConnection(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	addr := serve(t, r, audiosocket.Config{MaxConns: 8})
	// A good leg stays open while the bad ones come and go.
	good, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	speech := capturetest.ExampleLeg(t, "angry-customer", msg.RoleAgent)[:24000]
	slin := func(pcm []int16) []byte {
		var out []byte
		for i := 0; i < len(pcm); i += 160 {
			b := make([]byte, 320)
			for k, s := range pcm[i : i+160] {
				binary.LittleEndian.PutUint16(b[2*k:], uint16(s))
			}
			out = audiosocket.AppendFrame(out, audiosocket.KindSlin, b)
		}
		return out
	}
	if _, err := good.Write(append(audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid(9, 0xc)), slin(speech[:12000])...)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		bytes  []byte
		reason string
	}{
		"audio first":    {audiosocket.AppendFrame(nil, audiosocket.KindSlin, make([]byte, 320)), "protocol"},
		"short uuid":     {audiosocket.AppendFrame(nil, audiosocket.KindUUID, make([]byte, 15)), "malformed"},
		"odd audio":      {append(audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid(10, 0xa)), audiosocket.AppendFrame(nil, audiosocket.KindSlin, make([]byte, 321))...), "malformed"},
		"huge audio":     {append(audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid(11, 0xa)), 0x10, 0xff, 0xff), "malformed"},
		"unknown kind":   {append(audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid(12, 0xa)), 0x42, 0, 0), "malformed"},
		"48 kHz":         {append(audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid(13, 0xa)), audiosocket.AppendFrame(nil, 0x16, make([]byte, 960))...), "audio_format"},
		"cut short":      {append(audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid(14, 0xa)), 0x10, 0x01, 0x40, 1, 2), "malformed"},
		"bad dtmf":       {append(audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid(15, 0xa)), audiosocket.AppendFrame(nil, audiosocket.KindDTMF, []byte("x"))...), "malformed"},
		"same leg twice": {audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid(9, 0xc)), "protocol"},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		before := r.Cap.IntakeRefused(msg.IntakeAudioSocket, c.reason)
		if _, err := conn.Write(c.bytes); err != nil {
			t.Fatal(err)
		}
		if name == "cut short" {
			conn.(*net.TCPConn).CloseWrite()
		}
		// The server closes the connection (a reset when it left bytes unread).
		_, _ = io.Copy(io.Discard, conn)
		conn.Close()
		if n := r.Cap.IntakeRefused(msg.IntakeAudioSocket, c.reason); n != before+1 {
			t.Errorf("%s: refused %s %d times, want once", name, c.reason, n-before)
		}
	}
	if _, err := good.Write(append(slin(speech[12000:]), audiosocket.AppendFrame(nil, audiosocket.KindHangup, nil)...)); err != nil {
		t.Fatal(err)
	}
	// The good call and the calls the bad legs opened before they broke.
	calls := r.WaitEnded(7, 10*time.Second)
	g := calls["1b4e28ba-2fa1-11d2-883f-0016d3cc0920"]
	if g == nil || len(g.Finals(msg.RoleCustomer)) == 0 || g.Finals(msg.RoleCustomer)[len(g.Finals(msg.RoleCustomer))-1].EndMS < 2900 {
		t.Errorf("the good call beside them: %+v", g)
	}
}

func TestConnectionsPastTheBoundAreClosed(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	addr := serve(t, r, audiosocket.Config{MaxConns: 1})
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// The first is held once its call has a leg.
	if _, err := first.Write(audiosocket.AppendFrame(nil, audiosocket.KindUUID, uuid(20, 0xa))); err != nil {
		t.Fatal(err)
	}
	r.WaitCall(func(e *msg.CallEvent) bool { return len(e.Legs) == 1 }, 10*time.Second)
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if n, err := second.Read(make([]byte, 1)); err == nil {
		t.Errorf("second connection read %d bytes, want it closed", n)
	}
	if n := r.Cap.IntakeRefused(msg.IntakeAudioSocket, "no_room"); n != 1 {
		t.Errorf("%d refused for room, want 1", n)
	}
}

// An announce that names the legs by their AudioSocket UUIDs gives the
// call its id, agent, queue and attributes and each leg its role, over
// the suffix convention (the agent's UUID here ends in c, the customer's
// in a); the UUIDs match whatever their case.
func TestAnnouncedUUIDsNameTheLegs(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	addr := serve(t, r, audiosocket.Config{})
	agentID, customerID := uuid(5, 0xc), uuid(6, 0xa)
	announce := `{"call_id":"asterisk-1700-42","agent":"anna","queue":"billing","attributes":{"account":"gold"},"legs":[` +
		`{"role":"agent","id":"` + strings.ToUpper(uuidString(agentID)) + `"},{"role":"customer","id":"` + uuidString(customerID) + `"}]}`
	hs := httptest.NewServer(r.Cap.AnnounceHandler())
	defer hs.Close()
	res, err := http.Post(hs.URL, "application/json", strings.NewReader(announce))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("announce: %s", res.Status)
	}
	agent := capturetest.ExampleLeg(t, "card-number", msg.RoleAgent)[:12*8000]
	customer := capturetest.ExampleLeg(t, "card-number", msg.RoleCustomer)[:12*8000]
	asterisk(t, r, addr, leg{agentID, audiosocket.KindSlin, agent, 8000 * 5}, leg{customerID, audiosocket.KindSlin, customer, 0})
	calls := r.WaitEnded(1, 30*time.Second)
	c := calls["asterisk-1700-42"]
	if c == nil || len(calls) != 1 {
		t.Fatalf("calls %v, want the announced one only", calls)
	}
	last := c.Last()
	if c.Started.Intake != msg.IntakeAudioSocket || last.Agent != "anna" || last.Queue != "billing" || last.Attributes["account"] != "gold" {
		t.Errorf("call: started %+v, last %+v", c.Started, last)
	}
	if c.Ended.Reason != msg.EndHangup {
		t.Errorf("ended %+v", c.Ended)
	}
	for _, role := range []msg.Role{msg.RoleAgent, msg.RoleCustomer} {
		if len(c.Finals(role)) == 0 {
			t.Errorf("no final jobs of the %s", role)
		}
	}
	if len(c.DTMF) != 1 || c.DTMF[0].Leg != msg.RoleAgent {
		t.Errorf("DTMF %+v: want # on the agent leg (the UUID ending in c)", c.DTMF)
	}
	if n := r.Cap.IntakeRefused(msg.IntakeAudioSocket, "protocol"); n != 0 {
		t.Errorf("%d refused", n)
	}
}

// uuidString is a UUID's text form.
func uuidString(u []byte) string {
	h := hex.EncodeToString(u)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
