package siprec_test

import (
	"bytes"
	"context"
	"encoding/binary"
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
	"github.com/zaf/g711"
)

// SIPp as the session recording client (testdata/siprec_src.xml) against
// the server on real sockets: one call whose two legs have the metadata's
// roles, utterance jobs of each leg's audio, which SIPp plays from one
// two-stream G.711 capture (SIPp sends each packet to the answered port
// plus its offset in the capture from the lowest port, and the server
// answers the streams with ports two apart), the DTMF digit of a SIPp
// capture, hold on the timeline, ended by BYE.
func TestSIPpRecordingClient(t *testing.T) {
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp is not installed (Debian sip-tester): the SIPp SIPREC client is not run")
	}
	dir := t.TempDir()
	const speed = 8 // the capture plays 8 times real time
	audio := filepath.Join(dir, "call.pcap")
	played := writeTwoLegPcap(t, audio, speed,
		capturetest.ExampleLeg(t, "card-number", msg.RoleCustomer), // label 1
		capturetest.ExampleLeg(t, "card-number", msg.RoleAgent))    // label 2
	dtmf := sharedtest.Path(t, "data/pcaps/sipp/dtmf_2833_5.pcap")
	r := capturetest.Start(t, capture.Config{})
	_, _, udp := serve(t, r, siprec.Config{Agent: regexp.MustCompile(`sip:1\d{3}@`)})

	scenario, err := os.ReadFile("testdata/siprec_src.xml")
	if err != nil {
		t.Fatal(err)
	}
	pause := strconv.Itoa(int((played + 500*time.Millisecond).Milliseconds()))
	sc := strings.NewReplacer("PCAP_AUDIO", audio, "PCAP_DTMF", dtmf, "PAUSE_AUDIO", pause).Replace(string(scenario))
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
		for _, role := range []msg.Role{msg.RoleAgent, msg.RoleCustomer} {
			if n := len(c.Finals(role)); n < 3 {
				t.Errorf("call %s: %d final utterance jobs of the %s, want the example's sentences", id, n, role)
			}
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

// writeTwoLegPcap writes a pcap (Ethernet, IPv4, UDP) of two PCMA RTP
// streams of 20 ms packets, the first to port 40000 and the second to
// 40002, speed times real time; it returns how long it plays.
func writeTwoLegPcap(t *testing.T, name string, speed int, first, second []int16) time.Duration {
	t.Helper()
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	b.Write(hdr)
	gap := 20 * time.Millisecond / time.Duration(speed)
	n := max(len(first), len(second)) / 160
	for i := 0; i < n; i++ {
		for leg, pcm := range [][]int16{first, second} {
			frame := make([]int16, 160)
			copy(frame, pcm[min(i*160, len(pcm)):min(i*160+160, len(pcm))])
			lin := make([]byte, 320)
			for k, v := range frame {
				binary.LittleEndian.PutUint16(lin[2*k:], uint16(v))
			}
			rtp := make([]byte, 12, 12+160)
			rtp[0], rtp[1] = 0x80, 8 // PCMA
			binary.BigEndian.PutUint16(rtp[2:], uint16(i))
			binary.BigEndian.PutUint32(rtp[4:], uint32(i*160))
			binary.BigEndian.PutUint32(rtp[8:], uint32(0x5150+leg))
			rtp = append(rtp, g711.EncodeAlaw(lin)...)
			writePacket(&b, time.Duration(i)*gap, uint16(30000+2*leg), uint16(40000+2*leg), rtp)
		}
	}
	if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return time.Duration(n) * gap
}

// writePacket writes one pcap record of a UDP datagram 127.0.0.1 to
// 127.0.0.1 at offset at.
func writePacket(b *bytes.Buffer, at time.Duration, from, to uint16, payload []byte) {
	udp := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(udp, from)
	binary.BigEndian.PutUint16(udp[2:], to)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	udp = append(udp, payload...)
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	var sum uint32
	for k := 0; k < 20; k += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[k:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	eth := []byte{0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00}
	frame := append(append(eth, ip...), udp...)
	rec := make([]byte, 16)
	binary.LittleEndian.PutUint32(rec, uint32(at/time.Second))
	binary.LittleEndian.PutUint32(rec[4:], uint32(at%time.Second/time.Microsecond))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
	b.Write(rec)
	b.Write(frame)
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
