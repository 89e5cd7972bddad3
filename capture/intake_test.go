package capture_test

import (
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/capture/pcap"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/zaf/g711"
)

// feed writes a call's two legs through the intake seam, 20 ms at a time:
// the agent as µ-law at its media sample, the customer as PCM following on.
func feed(t *testing.T, h *capture.Call, agent, customer []int16) {
	t.Helper()
	la, err := h.Leg(msg.RoleAgent, "test:agent")
	if err != nil {
		t.Fatal(err)
	}
	lc, err := h.Leg(msg.RoleCustomer, "test:customer")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < max(len(agent), len(customer)); i += 160 {
		if i < len(agent) {
			f := agent[i:min(i+160, len(agent))]
			enc := make([]byte, len(f))
			for k, s := range f {
				enc[k] = g711.EncodeUlawFrame(s)
			}
			if err := la.G711(int64(i), "PCMU", enc); err != nil {
				t.Fatal(err)
			}
		}
		if i < len(customer) {
			lc.PCM(-1, customer[i:min(i+160, len(customer))])
		}
	}
	la.Close()
	lc.Close()
}

func TestIntakeCallLooksLikeTheSameCallOverRTP(t *testing.T) {
	agent := capturetest.ExampleLeg(t, "card-number", msg.RoleAgent)
	customer := capturetest.ExampleLeg(t, "card-number", msg.RoleCustomer)
	viaRTP := sendAndCollect(t, capture.Config{AgentNets: nil},
		sender.Leg{Role: msg.RoleA, PCM: agent}, sender.Leg{Role: msg.RoleB, PCM: customer})

	r := newRig(t, capture.Config{})
	h, err := r.cap.Open(msg.IntakeMediaStream, capture.CallInfo{ID: "seam-1", Agent: "bob", Queue: "payments", Attributes: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, h, agent, customer)
	c := r.waitEnded(1, 30*time.Second)["seam-1"]
	if c == nil || c.Started == nil {
		t.Fatal("no call seam-1")
	}
	if c.Started.Intake != msg.IntakeMediaStream || c.Ended.Reason != msg.EndHangup || c.Started.Agent != "bob" || c.Started.Attributes["k"] != "v" {
		t.Errorf("call events: started %+v ended %+v", c.Started, c.Ended)
	}
	if viaRTP.Started.Intake != msg.IntakeRTP {
		t.Errorf("RTP call's intake %q", viaRTP.Started.Intake)
	}
	for _, p := range []struct{ seam, rtp msg.Role }{{msg.RoleAgent, msg.RoleA}, {msg.RoleCustomer, msg.RoleB}} {
		got, want := c.Finals(p.seam), viaRTP.Finals(p.rtp)
		if len(got) != len(want) || len(got) < 3 {
			t.Fatalf("%s: %d final jobs by the seam, %d by RTP", p.seam, len(got), len(want))
		}
		for i := range got {
			if d := got[i].StartMS - want[i].StartMS; d < -60 || d > 60 || got[i].EndMS-want[i].EndMS < -60 || got[i].EndMS-want[i].EndMS > 60 {
				t.Errorf("%s job %d: %d-%d ms by the seam, %d-%d by RTP", p.seam, i, got[i].StartMS, got[i].EndMS, want[i].StartMS, want[i].EndMS)
			}
		}
		if c.Ended.FinalJobs[p.seam] != len(got) {
			t.Errorf("%s: ended event counts %d finals, %d published", p.seam, c.Ended.FinalJobs[p.seam], len(got))
		}
	}
}

func TestIntakeGapsDTMFHoldAndMisuse(t *testing.T) {
	r := newRig(t, capture.Config{MaxCalls: 1})
	if _, err := r.cap.Open(msg.IntakeAudioSocket, capture.CallInfo{ID: "bad id"}); !errors.Is(err, msg.ErrInvalidCallID) {
		t.Errorf("bad id: %v", err)
	}
	h, err := r.cap.Open(msg.IntakeAudioSocket, capture.CallInfo{ID: "seam-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.cap.Open(msg.IntakeAudioSocket, capture.CallInfo{ID: "seam-3"}); !errors.Is(err, capture.ErrNoRoom) {
		t.Errorf("past MaxCalls: %v", err)
	}
	again, err := r.cap.Open(msg.IntakeAudioSocket, capture.CallInfo{ID: "seam-2", Queue: "q2"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Leg(msg.RoleCustomer, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Leg(msg.RoleCustomer, "y"); !errors.Is(err, capture.ErrLegTaken) {
		t.Errorf("second customer leg: %v", err)
	}
	speech := capturetest.ExampleLeg(t, "angry-customer", msg.RoleAgent)
	// 2 s of audio, then a gap of 3 s, then the audio again: the second
	// copy's jobs are 5 s later on the call clock.
	l.PCM(0, speech[:16000])
	l.DTMF(-1, "5", 100*time.Millisecond)
	h.Hold(true)
	l.PCM(5*8000, speech[:16000])
	h.Hold(false)
	l.PCM(5*8000, speech[:800]) // already covered: dropped
	h.End()
	l.PCM(-1, speech[:16000]) // after the end: nothing
	h.End()
	c := r.waitEnded(1, 10*time.Second)["seam-2"]
	if c.Last().Queue != "q2" {
		t.Errorf("queue %q after the second open, want q2", c.Last().Queue)
	}
	if len(c.DTMF) != 1 || c.DTMF[0].Digit != "5" || c.DTMF[0].StartMS != 2000 || c.DTMF[0].DurationMS != 100 {
		t.Errorf("DTMF %+v, want 5 at 2000 ms for 100 ms", c.DTMF)
	}
	var hold *msg.TimelineEvent
	for _, e := range c.Timeline {
		if e.Kind == msg.SpanHold && !e.Open {
			hold = e
		}
	}
	if hold == nil || hold.StartMS != 2000 || hold.EndMS != 7000 {
		t.Errorf("hold %+v, want 2000-7000 ms", hold)
	}
	f := c.Finals(msg.RoleCustomer)
	if len(f) < 2 || f[0].StartMS >= 2000 || f[len(f)-1].StartMS < 5000 || f[len(f)-1].EndMS > 7100 {
		t.Errorf("finals %v: want one in the first 2 s and one at 5-7 s", f)
	}
	if c.Ended.Reason != msg.EndHangup {
		t.Errorf("reason %q", c.Ended.Reason)
	}
}

// TestIntakeCallDoesNotTimeOutWhileFed: the intake owns a fed call's end;
// a call of RTP on the same clock times out meanwhile.
func TestIntakeCallDoesNotTimeOutWhileFed(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	reg := prometheus.NewRegistry()
	r := newRig(t, capture.Config{Now: clock, CallTimeout: time.Second, Metrics: reg})
	if err := r.cap.Announce(&msg.CallAnnounce{CallID: "rtp-1", Legs: []msg.LegSpec{{Role: msg.RoleAgent, SSRC: 5}}}); err != nil {
		t.Fatal(err)
	}
	h, err := r.cap.Open(msg.IntakeMediaStream, capture.CallInfo{ID: "fed-1"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Leg(msg.RoleAgent, "x")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(5 * time.Second)
	mu.Unlock()
	if c := r.waitEnded(1, 10*time.Second)["rtp-1"]; c == nil || c.Ended.Reason != msg.EndTimeout {
		t.Fatalf("rtp-1: %+v, want it timed out", c)
	}
	l.PCM(-1, make([]int16, 160))
	l.Close()
	if c := r.waitEnded(1, 10*time.Second)["fed-1"]; c == nil || c.Ended.Reason != msg.EndHangup {
		t.Fatalf("fed-1: %+v, want it ended by its intake", c)
	}
	r.cap.RefuseIntake(msg.IntakeMediaStream, "protocol", "10.0.0.1:1", "test")
	want := map[string]float64{
		`earshot_capture_intake_calls_total{intake="rtp"}`:                             1,
		`earshot_capture_intake_calls_total{intake="mediastream"}`:                     1,
		`earshot_capture_intake_refused_total{intake="mediastream",reason="protocol"}`: 1,
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName() + "{"
			for i, lp := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += lp.GetName() + `="` + lp.GetValue() + `"`
			}
			key += "}"
			if v, ok := want[key]; ok {
				if m.GetCounter().GetValue() != v {
					t.Errorf("%s = %g, want %g", key, m.GetCounter().GetValue(), v)
				}
				delete(want, key)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("metrics missing: %v", want)
	}
}

// An intake's own RTP (SIPREC's media ports) takes capture's RTP path:
// the telephone events of a SIPp capture are one digit, its packets are
// counted in the call's stream stats, and a non-RTP datagram is refused.
func TestLegRTPTakesTheRTPPath(t *testing.T) {
	f, err := os.Open(sharedtest.Path(t, "data/pcaps/sipp/dtmf_2833_7.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pc, err := pcap.ReadStreams(f, "dtmf_2833_7.pcap")
	if err != nil {
		t.Fatal(err)
	}
	st := pc.Calls[0].Streams[0]
	r := newRig(t, capture.Config{})
	h, err := r.cap.Open(msg.IntakeSIPREC, capture.CallInfo{ID: "rtp-seam-1"})
	if err != nil {
		t.Fatal(err)
	}
	leg, err := h.Leg(msg.RoleCustomer, "test:rtp")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.RTP([]byte("not rtp"), st.Src); !errors.Is(err, capture.ErrMalformed) {
		t.Errorf("a text datagram: %v, want ErrMalformed", err)
	}
	bad := slices.Clone(st.Packets[0].Data)
	bad[1] = bad[1]&0x80 | 18 // G.729
	if err := leg.RTP(bad, st.Src); !errors.Is(err, capture.ErrPayloadType) {
		t.Errorf("a G.729 packet: %v, want ErrPayloadType", err)
	}
	for _, p := range st.Packets {
		if err := leg.RTP(p.Data, st.Src); err != nil {
			t.Fatal(err)
		}
	}
	leg.Close()
	c := r.waitEnded(1, 10*time.Second)["rtp-seam-1"]
	if c == nil {
		t.Fatal("no call rtp-seam-1")
	}
	if len(c.DTMF) != 1 || c.DTMF[0].Digit != "7" || c.DTMF[0].Leg != msg.RoleCustomer {
		t.Errorf("DTMF %+v, want the one digit 7 on the customer leg", c.DTMF)
	}
	if s := c.Ended.Streams; len(s) != 1 || s[0].Received != uint64(len(st.Packets)) || s[0].Leg != msg.RoleCustomer {
		t.Errorf("stream stats %+v, want %d packets received on the customer leg", s, len(st.Packets))
	}
}
