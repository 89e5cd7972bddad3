package siprec_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/capture/pcap"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/capture/siprec"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs a SIPREC server for r's capture on TCP and UDP ports of
// 127.0.0.1 and returns their addresses. (SIP over UDP is for requests
// within the path MTU, RFC 3261 18.1.1: an INVITE with metadata is sent
// over TCP.)
func serve(t *testing.T, r *capturetest.Rig, cfg siprec.Config) (s *siprec.Server, tcp, udp netip.AddrPort) {
	t.Helper()
	cfg.Host = netip.MustParseAddr("127.0.0.1")
	s, err := siprec.New(r.Cap, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close) // after the serving below stopped
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	background(t, func(ctx context.Context) error { return s.ServeUDP(ctx, conn) })
	background(t, func(ctx context.Context) error { return s.ServeTCP(ctx, ln) })
	return s, ln.Addr().(*net.TCPAddr).AddrPort(), conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// background runs serve until the test ends.
func background(t *testing.T, serve func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// src is a session recording client made with sipgo's client side.
type src struct {
	t      *testing.T
	tp     string // "TCP" or "UDP"
	to     netip.AddrPort
	client *sipgo.Client
	callID string
	cseq   uint32
}

func newSRC(t *testing.T, tp string, to netip.AddrPort, callID string) *src {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-src"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); ua.Close() })
	return &src{t: t, tp: tp, to: to, client: c, callID: callID}
}

// do sends a request of method with a body of content type ct and
// returns the final response.
func (s *src) do(method sip.RequestMethod, ct string, body []byte) *sip.Response {
	s.t.Helper()
	req := sip.NewRequest(method, sip.Uri{User: "srs", Host: s.to.Addr().String(), Port: int(s.to.Port())})
	req.SetTransport(s.tp)
	req.AppendHeader(sip.NewHeader("Call-ID", s.callID))
	s.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: method})
	tag := sip.NewParams()
	tag.Add("tag", "src1")
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{User: "src", Host: "127.0.0.1"}, Params: tag})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{User: "srs", Host: "127.0.0.1"}})
	if ct != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", ct))
		req.AppendHeader(sip.NewHeader("Require", "siprec"))
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.client.Do(ctx, req)
	if err != nil {
		s.t.Fatalf("%s: %v", method, err)
	}
	return res
}

const multipart = "multipart/mixed;boundary=b1"

func body(t *testing.T, sdpText string, meta []byte) []byte {
	return []byte("--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdpText + "\r\n--b1\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n" + string(meta) + "\r\n--b1--\r\n")
}

// ports reads an answer's media ports by label.
func ports(t *testing.T, res *sip.Response) map[string]netip.AddrPort {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(res.Body()); err != nil {
		t.Fatalf("answer %q: %v", res.Body(), err)
	}
	out := map[string]netip.AddrPort{}
	for _, md := range sd.MediaDescriptions {
		label, _ := md.Attribute("label")
		out[label] = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(md.MediaName.Port.Value))
	}
	return out
}

// A recording session from INVITE to BYE: the two streams are the legs
// of the roles the metadata and the agent rule give, their speech makes
// utterance jobs, a DTMF packet stream on the customer's port is a digit,
// an inactive re-INVITE is hold on the timeline, and the metadata's
// extension data are the call's attributes, updated by an UPDATE.
func TestRecordingSession(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	srv, addr, _ := serve(t, r, siprec.Config{Agent: regexp.MustCompile(`sip:1\d{3}@`)})
	c := newSRC(t, "TCP", addr, "rs-1@src.example.com")
	offer := string(read(t, "offer.sdp"))
	meta := read(t, "metadata.xml")

	if res := c.do(sip.OPTIONS, "", nil); res.StatusCode != 200 {
		t.Fatalf("OPTIONS: %s", res.Short())
	}
	res := c.do(sip.INVITE, multipart, body(t, offer, meta))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %s %v", res.Short(), res.GetHeader("Warning"))
	}
	if ct := res.ContentType(); ct == nil || ct.Value() != "application/sdp" {
		t.Errorf("answer's Content-Type %v", ct)
	}
	media := ports(t, res)
	if srv.Sessions() != 1 || !media["1"].IsValid() || !media["2"].IsValid() || media["1"] == media["2"] {
		t.Fatalf("%d sessions, media ports %v", srv.Sessions(), media)
	}
	agent := capturetest.ExampleLeg(t, "card-number", msg.RoleAgent)
	customer := capturetest.ExampleLeg(t, "card-number", msg.RoleCustomer)
	var wg sync.WaitGroup
	for _, l := range []struct {
		to   netip.AddrPort
		pcm  []int16
		pcma bool
	}{{media["1"], customer, false}, {media["2"], agent, true}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := sender.Send(context.Background(), sender.SendConfig{To: l.to, Legs: []sender.Leg{{Role: msg.RoleA, PCM: l.pcm}}, PCMA: l.pcma, Speed: sender.Speed{Factor: 8}, NoBye: true})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	sendPcap(t, "data/pcaps/sipp/dtmf_2833_5.pcap", media["1"])

	held := strings.ReplaceAll(offer, "sendonly", "inactive")
	if res := c.do(sip.INVITE, multipart, body(t, held, meta)); res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=inactive") {
		t.Fatalf("hold re-INVITE: %s %s", res.Short(), res.Body())
	}
	if res := c.do(sip.INVITE, "application/sdp", []byte(offer)); res.StatusCode != 200 || ports(t, res)["1"] != media["1"] {
		t.Fatalf("resume re-INVITE: %s, ports %v", res.Short(), ports(t, res))
	}
	moved := strings.ReplaceAll(string(meta), "payments", "collections")
	if res := c.do(sip.UPDATE, "application/rs-metadata+xml", []byte(moved)); res.StatusCode != 200 {
		t.Fatalf("metadata UPDATE: %s", res.Short())
	}
	if res := c.do(sip.BYE, "", nil); res.StatusCode != 200 {
		t.Fatalf("BYE: %s", res.Short())
	}
	call := r.WaitEnded(1, 30*time.Second)[siprec.CallID("rs-1@src.example.com")]
	if call == nil {
		t.Fatal("no call")
	}
	if call.Started.Intake != msg.IntakeSIPREC || call.Ended.Reason != msg.EndHangup {
		t.Errorf("started %+v ended %+v", call.Started, call.Ended)
	}
	last := call.Last()
	if last.Agent != "Bob Agent" || last.Attributes["queue"] != "collections" || last.Attributes["sip_call_id"] != "rs-1@src.example.com" || !strings.HasPrefix(last.Attributes["recorded_session_id"], "ab30317f") {
		t.Errorf("call agent %q attributes %v", last.Agent, last.Attributes)
	}
	for _, role := range []msg.Role{msg.RoleAgent, msg.RoleCustomer} {
		if n := len(call.Finals(role)); n < 3 {
			t.Errorf("%s: %d final utterance jobs, want the example's sentences", role, n)
		}
	}
	if len(call.DTMF) != 1 || call.DTMF[0].Digit != "5" || call.DTMF[0].Leg != msg.RoleCustomer {
		t.Errorf("DTMF %+v, want 5 on the customer leg", call.DTMF)
	}
	hold := false
	for _, ev := range call.Timeline {
		hold = hold || ev.Kind == msg.SpanHold
	}
	if !hold {
		t.Errorf("no hold on the timeline %+v", call.Timeline)
	}
	if srv.Sessions() != 0 {
		t.Errorf("%d sessions after BYE", srv.Sessions())
	}
}

// sendPcap sends the RTP of a pcap's first stream to to.
func sendPcap(t *testing.T, name string, to netip.AddrPort) {
	t.Helper()
	f, err := os.Open(sharedtest.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pc, err := pcap.ReadStreams(f, name)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, p := range pc.Calls[0].Streams[0].Packets {
		if _, err := conn.Write(p.Data); err != nil {
			t.Fatal(err)
		}
	}
}

// Requests a recording server must refuse get the SIP error that says
// why, with a Warning, and are counted.
func TestRefusals(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	_, addr, udp := serve(t, r, siprec.Config{MaxSessions: 1})
	offer := string(read(t, "offer.sdp"))
	meta := read(t, "metadata.xml")
	g729 := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\na=label:1\r\n"
	for _, tc := range []struct {
		name, ct string
		body     []byte
		code     int
		label    string
	}{
		{"G.729 only", multipart, body(t, g729, meta), 488, "codec"},
		{"bad metadata", multipart, body(t, offer, []byte("<recording")), 400, "malformed"},
		{"bad SDP", multipart, body(t, "m=audio x", meta), 400, "malformed"},
		{"no metadata", "application/sdp", []byte(offer), 400, "malformed"},
		{"text body", "text/plain", []byte("hello"), 415, "malformed"},
	} {
		before := r.Cap.IntakeRefused(msg.IntakeSIPREC, tc.label)
		res := newSRC(t, "TCP", addr, "refused-"+strconv.Itoa(tc.code)).do(sip.INVITE, tc.ct, tc.body)
		if res.StatusCode != tc.code || res.GetHeader("Warning") == nil {
			t.Errorf("%s: %s (Warning %v), want %d with a Warning", tc.name, res.Short(), res.GetHeader("Warning"), tc.code)
		}
		if r.Cap.IntakeRefused(msg.IntakeSIPREC, tc.label) != before+1 {
			t.Errorf("%s: not counted as %s", tc.name, tc.label)
		}
	}
	if res := newSRC(t, "UDP", udp, "nobody").do(sip.BYE, "", nil); res.StatusCode != 481 {
		t.Errorf("BYE of no session: %s, want 481", res.Short())
	}
	if res := newSRC(t, "TCP", addr, "ok-1").do(sip.INVITE, multipart, body(t, offer, meta)); res.StatusCode != 200 {
		t.Fatalf("first session: %s", res.Short())
	}
	if res := newSRC(t, "TCP", addr, "ok-2").do(sip.INVITE, multipart, body(t, offer, meta)); res.StatusCode != 503 {
		t.Errorf("a session past the bound: %s, want 503", res.Short())
	}
}

func TestAllowList(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	_, _, udp := serve(t, r, siprec.Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if res := newSRC(t, "UDP", udp, "x").do(sip.OPTIONS, "", nil); res.StatusCode != 403 {
		t.Errorf("OPTIONS from outside the allow-list: %s, want 403", res.Short())
	}
	if r.Cap.IntakeRefused(msg.IntakeSIPREC, "forbidden") != 1 {
		t.Error("not counted")
	}
}

// Datagrams that are not SIP are counted and dropped; the server goes on.
func TestMalformedSIPCounted(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	_, _, udp := serve(t, r, siprec.Config{})
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(udp))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, b := range []string{"hello, not SIP", "INVITE sip:x SIP/2.0\r\nVia: \r\nCSeq: nope\r\n\r\n"} {
		if _, err := conn.Write([]byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	if res := newSRC(t, "UDP", udp, "after-garbage").do(sip.OPTIONS, "", nil); res.StatusCode != 200 {
		t.Fatalf("OPTIONS after garbage: %s", res.Short())
	}
	if n := r.Cap.IntakeRefused(msg.IntakeSIPREC, "malformed"); n != 2 {
		t.Errorf("%d malformed counted, want 2", n)
	}
}

// What the SIP stack cannot parse on a TCP connection is counted as over
// UDP; the stack closes that connection, and a session on another one
// goes on to its BYE.
func TestMalformedSIPOverTCPCounted(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	_, addr, _ := serve(t, r, siprec.Config{})
	c := newSRC(t, "TCP", addr, "tcp-garbage@src")
	if res := c.do(sip.INVITE, multipart, body(t, string(read(t, "offer.sdp")), read(t, "metadata.xml"))); res.StatusCode != 200 {
		t.Fatalf("INVITE: %s", res.Short())
	}
	for i, b := range []string{
		"hello, not SIP\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nVia: \r\nCSeq: nope\r\nContent-Length: 0\r\n\r\n",
		"\r\n\r\nOPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nContent-Length: zero\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(b)); err != nil {
			t.Fatal(err)
		}
		// The stack closes the connection: the read ends.
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if n, err := conn.Read(make([]byte, 1024)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("garbage %d: the connection stays open (read %d bytes, %v)", i, n, err)
		}
		conn.Close()
		if n := r.Cap.IntakeRefused(msg.IntakeSIPREC, "malformed"); n != uint64(i+1) {
			t.Errorf("after garbage %d: %d malformed counted, want %d", i, n, i+1)
		}
	}
	if res := c.do(sip.BYE, "", nil); res.StatusCode != 200 {
		t.Fatalf("BYE after garbage on other connections: %s", res.Short())
	}
	if call := r.WaitEnded(1, 30*time.Second)[siprec.CallID("tcp-garbage@src")]; call == nil || call.Ended.Reason != msg.EndHangup {
		t.Errorf("the session's call did not end by its BYE: %+v", call)
	}
}

// A session that gets neither RTP nor SIP for Idle ends (reason timeout,
// counted), as does one held past Idle and then resumed and silent; one
// whose RTP goes on past Idle, and one on hold (HeldIdle), do not, and end
// by their BYEs.
func TestIdleSessionEnds(t *testing.T) {
	r := capturetest.Start(t, capture.Config{})
	srv, addr, _ := serve(t, r, siprec.Config{Idle: 2 * time.Second})
	offer := string(read(t, "offer.sdp"))
	meta := read(t, "metadata.xml")
	srcs := map[string]*src{}
	media := map[string]netip.AddrPort{}
	for _, id := range []string{"quiet@src", "talking@src", "held@src", "resumed@src"} {
		srcs[id] = newSRC(t, "TCP", addr, id)
		res := srcs[id].do(sip.INVITE, multipart, body(t, offer, meta))
		if res.StatusCode != 200 {
			t.Fatalf("INVITE %s: %s", id, res.Short())
		}
		media[id] = ports(t, res)["1"]
	}
	for _, id := range []string{"held@src", "resumed@src"} {
		if res := srcs[id].do(sip.INVITE, multipart, body(t, strings.ReplaceAll(offer, "sendonly", "inactive"), meta)); res.StatusCode != 200 {
			t.Fatalf("hold re-INVITE %s: %s", id, res.Short())
		}
	}
	speech := capturetest.ExampleLeg(t, "card-number", msg.RoleCustomer)[:4500*msg.SampleRate/1000]
	if _, err := sender.Send(context.Background(), sender.SendConfig{To: media["talking@src"], Legs: []sender.Leg{{Role: msg.RoleA, PCM: speech}}, Speed: sender.Speed{Factor: 1}, NoBye: true}); err != nil {
		t.Fatal(err)
	}
	quiet := r.WaitCall(func(e *msg.CallEvent) bool { return e.Kind == msg.CallEnded && e.CallID == siprec.CallID("quiet@src") }, 10*time.Second)
	if quiet == nil || quiet.Reason != msg.EndTimeout {
		t.Fatalf("the quiet session's call ended %+v, want reason timeout", quiet)
	}
	for _, id := range []string{"talking@src", "held@src"} {
		if res := srcs[id].do(sip.BYE, "", nil); res.StatusCode != 200 {
			t.Errorf("BYE %s after 4.5 s: %s (ended as idle?)", id, res.Short())
		}
	}
	// Held past Idle, then resumed and silent: Idle is its bound again.
	if res := srcs["resumed@src"].do(sip.INVITE, multipart, body(t, offer, meta)); res.StatusCode != 200 {
		t.Fatalf("resume re-INVITE: %s", res.Short())
	}
	resumed := r.WaitCall(func(e *msg.CallEvent) bool {
		return e.Kind == msg.CallEnded && e.CallID == siprec.CallID("resumed@src")
	}, 10*time.Second)
	if resumed.Reason != msg.EndTimeout {
		t.Fatalf("the resumed session's call ended %+v, want reason timeout", resumed)
	}
	calls := r.WaitEnded(4, 10*time.Second) // the quiet and resumed ones too
	for _, id := range []string{"talking@src", "held@src"} {
		if c := calls[siprec.CallID(id)]; c == nil || c.Ended.Reason != msg.EndHangup {
			t.Errorf("call %s: %+v, want ended by hangup", id, c)
		}
	}
	if n := r.Cap.IntakeRefused(msg.IntakeSIPREC, "idle"); n != 2 {
		t.Errorf("%d idle sessions counted, want 2", n)
	}
	if srv.Sessions() != 0 {
		t.Errorf("%d sessions left", srv.Sessions())
	}
}

// A session's streams get media ports two apart in the configured range,
// skipping a port another socket holds; past the range's last free block
// an INVITE gets 503.
func TestMediaPortRange(t *testing.T) {
	lo := uint16(freeUDPPort(t)) &^ 1
	if lo > 65000 {
		lo = 40000
	}
	taken, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(lo)})
	if err != nil {
		t.Skipf("port %d: %v", lo, err)
	}
	defer taken.Close()
	r := capturetest.Start(t, capture.Config{})
	_, addr, _ := serve(t, r, siprec.Config{MediaPorts: [2]uint16{lo, lo + 15}})
	offer := string(read(t, "offer.sdp"))
	meta := read(t, "metadata.xml")
	got := 0
	for i := 0; i < 4; i++ {
		res := newSRC(t, "TCP", addr, "range-"+strconv.Itoa(i)).do(sip.INVITE, multipart, body(t, offer, meta))
		if res.StatusCode == 503 {
			break
		}
		if res.StatusCode != 200 {
			t.Fatalf("INVITE %d: %s", i, res.Short())
		}
		got++
		p := ports(t, res)
		one, two := p["1"].Port(), p["2"].Port()
		if two != one+2 || one == lo || one < lo || two > lo+15 {
			t.Errorf("session %d: ports %d and %d, want two apart in %d-%d, not %d", i, one, two, lo, lo+15, lo)
		}
	}
	if got == 0 || got > 3 {
		t.Errorf("%d sessions in a range of 4 blocks with one port taken, want 1-3", got)
	}
	before := r.Cap.IntakeRefused(msg.IntakeSIPREC, "no_room")
	if res := newSRC(t, "TCP", addr, "range-full").do(sip.INVITE, multipart, body(t, offer, meta)); res.StatusCode != 503 {
		t.Errorf("INVITE past the port range: %s, want 503", res.Short())
	}
	if r.Cap.IntakeRefused(msg.IntakeSIPREC, "no_room") != before+1 {
		t.Error("not counted as no_room")
	}
}
