package capture_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
)

func TestTurnLongerThanAJobIsCutIntoParts(t *testing.T) {
	// 33 s of continuous tone: parts of 30 s and 3 s of one turn.
	pcm := tones(33000, [2]int{0, 33000})
	c := sendAndCollect(t, capture.Config{}, sender.Leg{Role: msg.RoleAgent, PCM: pcm})
	finals := c.Finals(msg.RoleA)
	if len(finals) != 2 || c.Ended.FinalJobs[msg.RoleA] != 2 {
		t.Fatalf("%d finals (ended says %v), want 2 parts", len(finals), c.Ended.FinalJobs)
	}
	max := int(msg.MaxJobDuration.Seconds()) * msg.SampleRate
	if f := finals[0]; f.Turn != 1 || f.Part != 0 || len(f.PCM) != max || f.StartMS != 0 || f.EndMS != 30000 {
		t.Errorf("part 0: turn %d part %d, %d samples, %d..%d ms; want turn 1 part 0, %d samples, 0..30000 ms", f.Turn, f.Part, len(f.PCM), f.StartMS, f.EndMS, max)
	}
	if f := finals[1]; f.Turn != 1 || f.Part != 1 || f.StartMS != 30000 || f.EndMS != 33000 {
		t.Errorf("part 1: turn %d part %d, %d..%d ms; want turn 1 part 1, 30000..33000 ms", f.Turn, f.Part, f.StartMS, f.EndMS)
	}
	if _, dec := ulaw(pcm); indexOf(dec[max:], finals[1].PCM) != 0 || indexOf(dec, finals[0].PCM) != 0 {
		t.Errorf("the parts are not the audio sent, one after the other")
	}
	checkInterims(t, c)
}

func TestAgentNetNamesTheAgentLeg(t *testing.T) {
	agent := tones(1500, [2]int{200, 1200})
	customer := tones(1500, [2]int{300, 1300})
	c := sendAndCollect(t, capture.Config{AgentNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}},
		sender.Leg{Role: msg.RoleCustomer, PCM: customer},
		sender.Leg{Role: msg.RoleAgent, PCM: agent, From: netip.MustParseAddrPort("127.0.0.2:0")})
	roles := map[msg.Role]string{}
	for _, l := range c.Ended.Legs {
		roles[l.Role] = l.Source
	}
	if len(roles) != 2 || roles[msg.RoleAgent] == "" || roles[msg.RoleCustomer] == "" {
		t.Fatalf("legs %+v, want agent and customer", c.Ended.Legs)
	}
	if a := netip.MustParseAddrPort(roles[msg.RoleAgent]); a.Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("agent leg from %s, want 127.0.0.2", a)
	}
	if len(c.Finals(msg.RoleAgent)) != 1 || len(c.Finals(msg.RoleCustomer)) != 1 {
		t.Errorf("finals agent %d customer %d, want 1 each", len(c.Finals(msg.RoleAgent)), len(c.Finals(msg.RoleCustomer)))
	}
}

// TestReplayWholeCaptureAnnounced replays every call of the SIP capture to
// one port, announced over HTTP: the announces keep the calls apart.
func TestReplayWholeCaptureAnnounced(t *testing.T) {
	file := sharedtest.Path(t, "data/pcaps/SIP_CALL_RTP_G711.pcap")
	r := newRig(t, capture.Config{})
	srv := httptestServer(t, r.cap.AnnounceHandler())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calls, err := sender.ReplayFile(ctx, file, sender.ReplayConfig{
		To: []netip.AddrPort{r.addr}, Speed: sender.Speed{Factor: 20},
		Announcer: sender.HTTPAnnouncer{URL: srv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Fatalf("replayed %d calls, want 2 (the B2BUA's copies of the SIP call's streams are left out)", len(calls))
	}
	got := r.waitEnded(2, 30*time.Second)
	for _, rc := range calls {
		c := got[rc.CallID]
		if c == nil {
			t.Fatalf("announced call %s (SIP %q) did not end", rc.CallID, rc.SIPCallID)
		}
		if c.Ended.Reason != msg.EndBye || len(c.Ended.Streams) != len(rc.Streams) {
			t.Errorf("call %s: ended %+v, want BYE and %d streams", rc.CallID, c.Ended, len(rc.Streams))
		}
		if rc.SIPCallID != "" && c.Started.Attributes["sip_call_id"] != rc.SIPCallID {
			t.Errorf("call %s: attributes %v", rc.CallID, c.Started.Attributes)
		}
		for _, st := range c.Ended.Streams {
			if st.Leg != msg.RoleA && st.Leg != msg.RoleB || st.Lost != 0 || st.Received == 0 {
				t.Errorf("call %s: stream %+v", rc.CallID, st)
			}
		}
	}
	if calls[0].CallID != "12013223@200-57-7-195" {
		t.Errorf("first call announced as %q, want the SIP Call-ID made a call id", calls[0].CallID)
	}
}
