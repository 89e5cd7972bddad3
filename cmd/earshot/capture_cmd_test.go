package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// captureFreePort finds a UDP port free for a moment.
func captureFreePort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// captureRun runs an earshot command line in-process.
func captureRun(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(ctx, args, stdio{strings.NewReader(""), &out, &errb})
	return code, out.String(), errb.String()
}

// captureStart runs earshot capture with args until the test ends, and
// returns when it answers announces on nc.
func captureStart(t *testing.T, nc *nats.Conn, args ...string) {
	t.Helper()
	stageStart(t, append([]string{"capture"}, args...)...)
	ready := time.After(10 * time.Second)
	for {
		m, err := nc.Request(msg.SubjectAnnounce, []byte(`{}`), time.Second)
		if err == nil && len(m.Data) > 0 {
			return
		}
		if !errors.Is(err, nats.ErrNoResponders) && err != nil {
			t.Fatal(err)
		}
		select {
		case <-ready:
			t.Fatal("earshot capture did not answer announces within 10s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// captureEspeakWAV writes text as an 8 kHz mono WAV.
func captureEspeakWAV(t *testing.T, dir, name, text string) string {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	raw, out := filepath.Join(dir, name+"-raw.wav"), filepath.Join(dir, name+".wav")
	if b, err := exec.Command("espeak-ng", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, b)
	}
	if b, err := exec.Command("sox", raw, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", out, "pad", "0.3", "0.8").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, b)
	}
	return out
}

// TestCaptureStageWithSendAndReplay runs earshot capture against a real
// NATS server and feeds it with earshot send (announced over NATS) and
// earshot replay.
func TestCaptureStageWithSendAndReplay(t *testing.T) {
	// Registered first, so it runs after every other cleanup (the server's).
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before, natsJetStreamLeak) })
	srv, conn := bustest.Start(t)
	dir := t.TempDir()
	agent := captureEspeakWAV(t, dir, "agent", "Good morning, thank you for calling.")
	customer := captureEspeakWAV(t, dir, "customer", "Hello, I have a question about my bill.")
	rtpAddr := captureFreePort(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	events := make(chan *nats.Msg, 10000)
	sub, err := conn.NC.ChanSubscribe("earshot.call.>", events)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	captureStart(t, conn.NC, "--nats", srv.ClientURL(), "--rtp", rtpAddr, "--call-timeout", "5s", "--http", httpAddr, "--capture-token", "s3cret")
	ended := func(id string) *msg.CallEvent {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case m := <-events:
				var e msg.CallEvent
				if err := msg.Unmarshal(m.Data, &e); err != nil {
					t.Fatal(err)
				}
				if e.Kind == msg.CallEnded && (id == "" || e.CallID == id) {
					return &e
				}
			case <-timeout:
				t.Fatalf("call %q did not end", id)
			}
		}
	}
	code, out, errOut := captureRun(context.Background(), "send", "--agent", agent, "--customer", customer,
		"--to", rtpAddr, "--call", "cmd-call-1", "--speed", "10", "--announce", srv.ClientURL(),
		"--agent-name", "alice", "--queue", "billing", "--attr", "tier=gold")
	if code != 0 {
		t.Fatalf("earshot send exited %d: %s", code, errOut)
	}
	if !strings.Contains(out, "sent agent leg of call cmd-call-1") || !strings.Contains(out, "sent customer leg") {
		t.Errorf("earshot send printed %q", out)
	}
	e := ended("cmd-call-1")
	if e.FinalJobs[msg.RoleAgent] != 1 || e.FinalJobs[msg.RoleCustomer] != 1 || e.Reason != msg.EndBye {
		t.Errorf("call cmd-call-1 ended %+v, want one final job per leg, by BYE", e)
	}
	if e.Agent != "alice" || e.Queue != "billing" || e.Attributes["tier"] != "gold" {
		t.Errorf("call cmd-call-1 ended with agent %q, queue %q, attributes %v; want what send announced", e.Agent, e.Queue, e.Attributes)
	}

	// A directory of scripted calls, sent side by side, each announced.
	callsDir := filepath.Join(dir, "calls")
	if err := os.MkdirAll(callsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, q := range []string{"billing", "sales"} {
		name := filepath.Join(callsDir, fmt.Sprintf("call%d", i))
		script := fmt.Sprintf(`{"call_id": "scripted-%d", "agent": "agent-%d", "queue": %q, "turns": []}`, i, i, q)
		if err := os.WriteFile(name+".json", []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		for src, dst := range map[string]string{agent: name + ".agent.wav", customer: name + ".customer.wav"} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	code, out, errOut = captureRun(context.Background(), "send", "--calls", callsDir, "--calls-stagger", "0s",
		"--to", rtpAddr, "--speed", "10", "--announce", srv.ClientURL())
	if code != 0 || !strings.Contains(out, "sent call scripted-1 (agent agent-1, queue sales)") {
		t.Fatalf("earshot send --calls exited %d: %s %s", code, out, errOut)
	}
	for range 2 {
		e := ended("")
		if !strings.HasPrefix(e.CallID, "scripted-") || e.Agent != "agent-"+e.CallID[len("scripted-"):] || e.Queue == "" {
			t.Errorf("scripted call ended %+v", e)
		}
	}

	// The HTTP announce wants the capture's token.
	req, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/api/calls/announce", strings.NewReader(`{"call_id":"x","end":true}`))
	req.Header.Set("Authorization", "Bearer wrong")
	req.Close = true
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("announce with a wrong token: %s, want 401", resp.Status)
	}
	// The same over the HTTP announce endpoint; then the metrics show both calls.
	code, _, errOut = captureRun(context.Background(), "send", "--agent", agent, "--to", rtpAddr,
		"--call", "cmd-call-2", "--speed", "10", "--announce", "http://"+httpAddr+"/api/calls/announce", "--announce-token", "s3cret")
	if code != 0 {
		t.Fatalf("earshot send with an HTTP announce exited %d: %s", code, errOut)
	}
	if e := ended("cmd-call-2"); e.FinalJobs[msg.RoleAgent] != 1 || e.Legs[0].Role != msg.RoleAgent {
		t.Errorf("call cmd-call-2 ended %+v", e)
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`earshot_capture_calls_total 4`, `earshot_capture_announces_total{result="ok"} 4`, `earshot_capture_jobs_total{kind="final"} 7`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	pcapFile := sharedtest.Path(t, "data/pcaps/sipp/dtmf_2833_5.pcap")
	code, out, errOut = captureRun(context.Background(), "replay", pcapFile, "--to", rtpAddr, "--speed", "max")
	if code != 0 {
		t.Fatalf("earshot replay exited %d: %s", code, errOut)
	}
	if !strings.Contains(out, "1 streams, 10 packets") {
		t.Errorf("earshot replay printed %q", out)
	}
	if e := ended(""); e.Reason != msg.EndBye || len(e.Streams) != 1 || e.Streams[0].Received != 10 {
		t.Errorf("replayed call ended %+v", e)
	}
}

func TestCaptureCommandsRefuseBadInput(t *testing.T) {
	srv, _ := bustest.Start(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "notes.pcap")
	if err := os.WriteFile(garbage, []byte("these are not packets\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "cut.pcap")
	full, err := os.ReadFile(sharedtest.Path(t, "data/pcaps/SIP_CALL_RTP_G711.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, full[:len(full)/2+7], 0o600); err != nil {
		t.Fatal(err)
	}
	float := filepath.Join(dir, "float.wav")
	if b, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-e", "floating-point", "-b", "32", float, "synth", "0.1", "sine", "440").CombinedOutput(); err != nil {
		t.Skipf("sox: %v %s", err, b)
	}
	mono := filepath.Join(dir, "mono.wav")
	if b, err := exec.Command("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", mono, "synth", "0.1", "sine", "440").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, b)
	}
	badSurvey := filepath.Join(dir, "bad-survey.yaml")
	if err := os.WriteFile(badSurvey, []byte("surveys:\n  - name: a\n    questions: [{id: q, prompt: p, scale: 1-5}]\n    start: later\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", filepath.Join(dir, "absent.pcap")}, "absent.pcap"},
		{[]string{"replay", garbage}, "not a pcap or pcapng file"},
		{[]string{"replay", truncated, "--speed", "max"}, "truncated capture"},
		{[]string{"replay", garbage, "--speed", "0"}, "--speed"},
		{[]string{"replay", garbage, "--to", "127.0.0.1:9-2"}, "--to"},
		{[]string{"send", "--to", "127.0.0.1:9"}, "--agent"},
		{[]string{"send", "--agent", float}, "32 bits"},
		{[]string{"send", "--agent", float, "--call", "bad id"}, "--call"},
		{[]string{"send", "--agent", mono, "--announce", "ftp://x"}, "--announce"},
		{[]string{"send", "--agent", mono, "--queue", "billing"}, "give --announce"},
		{[]string{"send", "--calls", dir, "--announce", "nats://127.0.0.1:9"}, "no NAME.json"},
		{[]string{"send", "--calls", dir, "--agent", mono, "--announce", "nats://127.0.0.1:9"}, "leave out --agent"},
		{[]string{"send", "--agent", mono, "--attr", "novalue"}, "KEY=VALUE"},
		{[]string{"capture", "--nats", srv.ClientURL(), "--rtp", "nowhere"}, "--rtp"},
		{[]string{"capture", "--nats", srv.ClientURL(), "--agent-net", "10.0.0.0/99"}, "--agent-net"},
		{[]string{"capture", "--nats", srv.ClientURL(), "--rtp-readers", "65"}, "--rtp-readers"},
		{[]string{"capture", "--nats", srv.ClientURL(), "--rtp", "127.0.0.1:0", "--surveys", filepath.Join(dir, "absent.yaml")}, "absent.yaml"},
		{[]string{"capture", "--nats", srv.ClientURL(), "--rtp", "127.0.0.1:0", "--surveys", badSurvey}, "bad-survey.yaml: 1 problem(s); line 4 column 12: surveys[0].start"},
		{[]string{"capture", "--nats", srv.ClientURL(), "--media-ws", "127.0.0.1:0"}, "--media-ws-token"},
		{[]string{"capture", "--nats", srv.ClientURL(), "--media-ws", "127.0.0.1:0", "--media-ws-token", "t", "--media-ws-inbound", "boss"}, "--media-ws-inbound"},
	} {
		code, _, stderr := captureRun(context.Background(), tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("earshot %s: exit %d, stderr %q; want 2 and %q named", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}
