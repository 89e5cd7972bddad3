package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/store"
	"github.com/earshot-dev/earshot/store/sqlite"
	"github.com/earshot-dev/earshot/survey"
	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

// TestSurveyDigitsAfterTheAgentLeft runs the real capture and archiver on
// a real store: the agent leg of a call says RTCP BYE, the customer stays
// on the line and presses 5 (satisfied, 1-5) and 1 0 (recommend, 0-10) as
// RFC 4733 events over UDP. The call shows the answers as its survey
// result (and no digit as text), and the dashboard's CSAT moves from 0
// (an earlier call answered 1) to 0.5, its NPS to 100.
func TestSurveyDigitsAfterTheAgentLeft(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore, natsJetStreamLeak) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, conn := bustest.Start(t)
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), sqlite.FileName)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	surveys, err := survey.Parse([]byte(`
surveys:
  - name: post-call
    start: agent_leg_ends
    questions:
      - {id: satisfied, prompt: "How satisfied were you? Press 1 to 5.", scale: 1-5}
      - {id: recommend, prompt: "Would you recommend us? Press 0 to 10.", scale: 0-10}
`))
	if err != nil {
		t.Fatal(err)
	}
	capt, err := capture.New(capture.Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, Surveys: surveys, CallTimeout: time.Hour}, conn)
	if err != nil {
		t.Fatal(err)
	}
	stored := make(chan string, 1000)
	arch, err := store.NewArchiver(store.ArchiverConfig{Store: st, OnStored: func(s string) { stored <- s }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- capt.Run(ctx) }()
	go func() { done <- arch.Run(ctx, conn.JS) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}()
	waitStored := func(subject string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case s := <-stored:
				if s == subject {
					return
				}
			case <-deadline:
				t.Fatalf("%s not stored within 30 s", subject)
			}
		}
	}

	// An earlier call of the day whose customer was not satisfied.
	day := time.Now().UTC().Truncate(24 * time.Hour)
	started := day.Add(time.Minute)
	if time.Now().Sub(day) < 2*time.Minute { // keep both calls on one day
		day, started = day.Add(-24*time.Hour), day.Add(-time.Hour)
	}
	for _, ev := range []msg.CallEvent{
		{CallID: "before", Kind: msg.CallStarted, Time: started, StartedAt: started, Agent: "ann", Queue: "billing"},
		{CallID: "before", Kind: msg.CallEnded, Time: started.Add(time.Minute), StartedAt: started, DurationMS: 60000},
	} {
		if err := st.PutCall(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutSurvey(ctx, msg.SurveyResult{CallID: "before", Survey: "post-call", Answers: []msg.SurveyAnswer{{Question: "satisfied", Scale: msg.ScaleCSAT, Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	dash := func() msg.DashboardRow {
		t.Helper()
		d, err := st.Dashboard(ctx, msg.DashboardQuery{From: day, To: day.Add(48 * time.Hour), GroupBy: msg.GroupAgent, Agent: "ann"})
		if err != nil {
			t.Fatal(err)
		}
		var sum msg.DashboardRow
		for _, r := range d.Rows {
			sum.Calls += r.Calls
			if r.CSAT != nil {
				sum.CSAT = r.CSAT
			}
			sum.NPS = r.NPS
		}
		return sum
	}
	if r := dash(); r.CSAT == nil || *r.CSAT != 0 {
		t.Fatalf("CSAT before: %+v", r)
	}

	const callID = "e2e-survey"
	legs := map[msg.Role]*udpLeg{msg.RoleAgent: newUDPLeg(t, capt.Addrs()[0], 11), msg.RoleCustomer: newUDPLeg(t, capt.Addrs()[0], 22)}
	if err := capt.Announce(&msg.CallAnnounce{CallID: callID, Agent: "ann", Queue: "billing", Legs: []msg.LegSpec{
		{Role: msg.RoleAgent, SSRC: 11}, {Role: msg.RoleCustomer, SSRC: 22}}}); err != nil {
		t.Fatal(err)
	}
	waitStored(msg.SubjectCall(callID))
	tick := time.NewTicker(20 * time.Millisecond) // RTP's own pace
	defer tick.Stop()
	for range 15 {
		<-tick.C
		legs[msg.RoleAgent].audio(t)
		legs[msg.RoleCustomer].audio(t)
	}
	legs[msg.RoleAgent].bye(t)
	for range 5 {
		<-tick.C
		legs[msg.RoleCustomer].audio(t)
	}
	for _, digit := range []byte{5, 1, 0} {
		for i := range 6 {
			<-tick.C
			legs[msg.RoleCustomer].event(t, digit, i >= 3, uint16(160*(i+1)))
		}
		legs[msg.RoleCustomer].ts += 160 * 6
		for range 3 {
			<-tick.C
			legs[msg.RoleCustomer].audio(t)
		}
	}
	waitStored(msg.SubjectSurvey(callID))
	if err := capt.Announce(&msg.CallAnnounce{CallID: callID, End: true}); err != nil {
		t.Fatal(err)
	}
	for {
		waitStored(msg.SubjectCall(callID))
		if rec, err := st.Call(ctx, callID, false); err == nil && rec.Call.EndedAt != nil {
			break
		}
	}
	rec, err := st.Call(ctx, callID, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Surveys) != 1 || fmt.Sprint(answers(rec.Surveys[0])) != "[satisfied=5 recommend=10]" {
		t.Errorf("surveys %+v, want post-call satisfied=5 recommend=10", rec.Surveys)
	}
	for _, s := range rec.Segments {
		t.Errorf("segment %q: survey digits are no transcript", s.Text)
	}
	if r := dash(); r.CSAT == nil || *r.CSAT != 0.5 || r.NPS == nil || *r.NPS != 100 {
		t.Errorf("after the survey: CSAT %v NPS %v, want 0.5 and 100", fp(r.CSAT), fp(r.NPS))
	}
}

func answers(r msg.SurveyResult) []string {
	var out []string
	for _, a := range r.Answers {
		out = append(out, fmt.Sprintf("%s=%d", a.Question, a.Value))
	}
	return out
}

func fp(v *float64) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprint(*v)
}

// udpLeg sends one leg's RTP from its own socket.
type udpLeg struct {
	conn *net.UDPConn
	ssrc uint32
	seq  uint16
	ts   uint32
}

func newUDPLeg(t *testing.T, to netip.AddrPort, ssrc uint32) *udpLeg {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpLeg{conn: c, ssrc: ssrc}
}

func (l *udpLeg) send(t *testing.T, pt uint8, marker bool, payload []byte) {
	t.Helper()
	l.seq++
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: l.seq, Timestamp: l.ts, SSRC: l.ssrc}, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// audio sends 20 ms of µ-law silence.
func (l *udpLeg) audio(t *testing.T) {
	silence := make([]byte, 160)
	for i := range silence {
		silence[i] = 0xff
	}
	l.send(t, 0, false, silence)
	l.ts += 160
}

// event sends one RFC 4733 packet of digit (payload type 101), dur samples
// long so far; end marks its last packets.
func (l *udpLeg) event(t *testing.T, digit byte, end bool, dur uint16) {
	p := []byte{digit, 10, 0, 0}
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], dur)
	l.send(t, 101, dur == 160, p)
}

// bye sends the leg's RTCP BYE.
func (l *udpLeg) bye(t *testing.T) {
	b := []byte{0x81, 203, 0, 1, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], l.ssrc)
	if _, err := l.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}
