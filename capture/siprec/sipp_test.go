package siprec_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/capture/siprec"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
)

// SIPp as the session recording client (testdata/siprec_src.xml) against
// the server on real sockets: one call whose legs have the metadata's
// roles, utterance jobs of the audio SIPp plays from a G.711 capture, the
// DTMF digit of a SIPp capture, hold on the timeline, ended by BYE.
// SIPp 3.6 plays one pcap per m= type, so the audio reaches the first
// stream (the customer's); TestRecordingSession sends both legs.
func TestSIPpRecordingClient(t *testing.T) {
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp is not installed (Debian sip-tester): the SIPp SIPREC client is not run")
	}
	audio := sharedtest.Path(t, "data/pcaps/sipp/g711a.pcap")
	dtmf := sharedtest.Path(t, "data/pcaps/sipp/dtmf_2833_5.pcap")
	r := capturetest.Start(t, capture.Config{})
	_, _, udp := serve(t, r, siprec.Config{Agent: regexp.MustCompile(`sip:1\d{3}@`)})

	dir := t.TempDir()
	scenario, err := os.ReadFile("testdata/siprec_src.xml")
	if err != nil {
		t.Fatal(err)
	}
	sc := strings.NewReplacer("PCAP_AUDIO", audio, "PCAP_DTMF", dtmf, "PAUSE_AUDIO", "7500").Replace(string(scenario))
	file := filepath.Join(dir, "siprec_src.xml")
	if err := os.WriteFile(file, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, udp.String(), "-sf", file, "-m", "1", "-nostdin",
		"-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDPPort(t)), "-timeout", "40s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp: %v\n%s\n%s", err, tail(out), log)
	}
	calls := r.WaitEnded(1, 30*time.Second)
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	for id, c := range calls {
		if c.Started.Intake != msg.IntakeSIPREC || c.Ended.Reason != msg.EndHangup {
			t.Errorf("call %s: started %+v ended %+v", id, c.Started, c.Ended)
		}
		roles := map[msg.Role]bool{}
		for _, l := range c.Last().Legs {
			roles[l.Role] = true
		}
		if !roles[msg.RoleAgent] || !roles[msg.RoleCustomer] || len(roles) != 2 {
			t.Errorf("call %s legs %+v, want agent and customer", id, c.Last().Legs)
		}
		if c.Last().Agent != "Bob Agent" || c.Last().Attributes["queue"] != "payments" {
			t.Errorf("call %s agent %q attributes %v", id, c.Last().Agent, c.Last().Attributes)
		}
		if n := len(c.Finals(msg.RoleCustomer)); n == 0 {
			t.Errorf("call %s: no final utterance jobs of the customer (the audio SIPp played)", id)
		}
		if len(c.DTMF) != 1 || c.DTMF[0].Digit != "5" || c.DTMF[0].Leg != msg.RoleCustomer {
			t.Errorf("call %s DTMF %+v, want 5 on the customer leg", id, c.DTMF)
		}
		hold := false
		for _, ev := range c.Timeline {
			hold = hold || ev.Kind == msg.SpanHold
		}
		if !hold {
			t.Errorf("call %s: no hold on the timeline", id)
		}
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
