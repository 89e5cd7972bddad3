package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/internal/loadprobe"
	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/internal/wav"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// loadFreePortRange finds n consecutive UDP ports of 127.0.0.1 free for a
// moment, as HOST:PORT1-PORT2.
func loadFreePortRange(t *testing.T, n int) string {
	t.Helper()
	for range 50 {
		var conns []*net.UDPConn
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		base := c.LocalAddr().(*net.UDPAddr).Port
		for p := base + 1; p < base+n && p < 65536; p++ {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
		if len(conns) == n {
			return fmt.Sprintf("127.0.0.1:%d-%d", base, base+n-1)
		}
	}
	t.Fatalf("no %d consecutive free UDP ports", n)
	return ""
}

// TestLoadCountsWhatCaptureSees runs earshot load with the example calls
// against earshot capture on a port range (announced over a real NATS
// server) and checks that capture ended exactly the calls load says it
// started, with exactly the RTP packets load says it sent.
func TestLoadCountsWhatCaptureSees(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before, natsJetStreamLeak) })
	srv, conn := bustest.Start(t)
	rtp := loadFreePortRange(t, 4)
	events := make(chan *nats.Msg, 10000)
	sub, err := conn.NC.ChanSubscribe(msg.AllCalls, events)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	// No recordings: nats.go v1.55.0's ObjectStore.Put may leave a goroutine
	// waiting on a nil channel for ever (its cleanup races the goroutine
	// that watches the connection), which later tests would find.
	captureStart(t, conn.NC, "--nats", srv.ClientURL(), "--rtp", rtp, "--call-timeout", "5s", "--record", "none")

	code, out, errOut := captureRun(context.Background(), "load", "--to", rtp, "--calls", "4", "--duration", "1500ms",
		"--ramp", "20", "--speed", "40", "--scripts", "../../examples/calls", "--announce", srv.ClientURL(), "--json")
	if code != 0 {
		t.Fatalf("earshot load exited %d: %s %s", code, out, errOut)
	}
	var tot loadTotals
	if err := json.Unmarshal([]byte(out), &tot); err != nil {
		t.Fatalf("earshot load --json printed %q: %v", out, err)
	}
	if tot.CallsStarted < 4 || tot.CallsFinished != tot.CallsStarted || tot.SendErrors != 0 || tot.Packets == 0 ||
		tot.Utterances < 4 || tot.Bytes <= 12*tot.Packets {
		t.Fatalf("earshot load sent %+v, want at least 4 calls, all finished, no errors", tot)
	}

	t.Logf("earshot load sent %+v", tot)
	ids, packets := map[string]bool{}, 0
	timeout := time.After(30 * time.Second)
	for len(ids) < tot.CallsStarted {
		select {
		case m := <-events:
			var e msg.CallEvent
			if err := msg.Unmarshal(m.Data, &e); err != nil {
				t.Fatal(err)
			}
			if e.Kind != msg.CallEnded {
				continue
			}
			if !strings.HasPrefix(e.CallID, "load-") || ids[e.CallID] || e.Reason != msg.EndBye {
				t.Errorf("capture ended call %s (%s): want a fresh load-... call id, ended by BYE", e.CallID, e.Reason)
			}
			ids[e.CallID] = true
			for _, s := range e.Streams {
				packets += int(s.Received)
			}
		case <-timeout:
			t.Fatalf("capture ended %d calls of the %d load started", len(ids), tot.CallsStarted)
		}
	}
	if packets != tot.Packets {
		t.Errorf("capture received %d packets, load says it sent %d", packets, tot.Packets)
	}
	// Nothing more: every call capture saw was counted.
	if err := conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	for len(events) > 0 {
		var e msg.CallEvent
		if err := msg.Unmarshal((<-events).Data, &e); err == nil && e.Kind == msg.CallEnded {
			t.Errorf("capture ended call %s beyond the %d load counted", e.CallID, tot.CallsStarted)
		}
	}
}

// TestLoadRampStopsAtDuration: a call slot whose turn on the ramp comes
// after --duration does not start, nor keep earshot load waiting for it.
func TestLoadRampStopsAtDuration(t *testing.T) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	code, out, errOut := captureRun(context.Background(), "load", "--to", sink.LocalAddr().String(), "--calls", "3",
		"--ramp", "0.001", "--duration", "50ms", "--speed", "max", "--scripts", "../../examples/calls", "--json")
	if code != 0 {
		t.Fatalf("earshot load exited %d: %s %s", code, out, errOut)
	}
	var tot loadTotals
	if err := json.Unmarshal([]byte(out), &tot); err != nil {
		t.Fatalf("earshot load --json printed %q: %v", out, err)
	}
	if tot.CallsStarted < 1 || tot.CallsFinished != tot.CallsStarted {
		t.Errorf("earshot load sent %+v, want the first slot's calls only, all finished", tot)
	}
}

func TestLoadRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--calls", "0"}, "--calls"},
		{[]string{"--calls", "100000"}, "--calls"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--duration", "1000h"}, "--duration"},
		{[]string{"--ramp", "-1"}, "--ramp"},
		{[]string{"--to", "nowhere"}, "--to"},
		{[]string{"--speed", "0"}, "--speed"},
		{[]string{"--scripts", t.TempDir()}, "--scripts"},
		{[]string{"--announce", "ftp://x"}, "--announce"},
		{[]string{"extra"}, "extra"},
		{[]string{"--ui", "http://127.0.0.1:1"}, "--ui"},
		{[]string{"--pid", "earshot"}, "--pid"},
		{[]string{"--pid", "earshot=-3"}, "--pid"},
		{[]string{"--settle", "-1s"}, "--settle"},
		{[]string{"--transcriber", "nowhere"}, "--transcriber"},
	} {
		code, _, errOut := captureRun(context.Background(), append([]string{"load", "--scripts", "../../examples/calls"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("earshot load %v: exit %d, %q; want 2 naming %s", c.args, code, errOut, c.want)
		}
	}
}

// TestLoadMeasuresThePipeline drives earshot run (transcribing through the
// http engine with earshot load's scripted transcriber) with a short
// scripted call whose customer says a rule's words, and checks that
// earshot load --nats --ui saw every stage of it: the final jobs, their
// final segments, the alert on NATS and on the live board, the queues and
// the CPU.
func TestLoadMeasuresThePipeline(t *testing.T) {
	if !synthcall.Available() {
		t.Skip(synthcall.ErrNoTools)
	}
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before, natsJetStreamLeak) })
	dir := t.TempDir()
	script := `{"call_id": "short", "agent": "alice", "queue": "billing", "turns": [
		{"leg": "agent", "at_ms": 0, "text": "Thank you for calling."},
		{"leg": "customer", "at_ms": 2500, "text": "This is ridiculous, I want to cancel my account today."}]}`
	path := filepath.Join(dir, "short.json")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := synthcall.LoadScript(path)
	if err != nil {
		t.Fatal(err)
	}
	call, err := synthcall.Render(context.Background(), sc.SynthTurns(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for role, pcm := range call.Legs {
		if err := wav.WriteFile(synthcall.LegFile(path, role), &wav.Audio{SampleRate: msg.SampleRate, Channels: 1, Samples: pcm}); err != nil {
			t.Fatal(err)
		}
	}

	srv, _ := bustest.Start(t)
	asrAddr := e2eFreeTCP(t)
	asrCtx, stopASR := context.WithCancel(context.Background())
	asrDone := make(chan string, 1)
	go func() {
		code, _, errOut := captureRun(asrCtx, "load", "--transcriber", asrAddr, "--calls", "0", "--scripts", dir)
		asrDone <- fmt.Sprintf("exit %d: %s", code, errOut)
	}()
	defer func() {
		stopASR()
		if s := <-asrDone; !strings.HasPrefix(s, "exit 0") {
			t.Errorf("earshot load --transcriber: %s", s)
		}
	}()
	es := e2eStartEarshot(t, srv.ClientURL(), "--engine", "http", "--asr-url", "http://"+asrAddr)
	defer es.stop()

	code, out, errOut := captureRun(context.Background(), "load", "--to", es.rtpAddr, "--calls", "1", "--duration", "100ms",
		"--scripts", dir, "--announce", srv.ClientURL(), "--nats", srv.ClientURL(), "--ui", "http://"+es.httpAddr,
		"--ui-password", es.password, "--pid", fmt.Sprintf("earshot=%d", os.Getpid()), "--settle", "60s", "--json")
	if code != 0 {
		t.Fatalf("earshot load exited %d: %s %s", code, out, errOut)
	}
	var tot loadTotals
	if err := json.Unmarshal([]byte(out), &tot); err != nil || tot.Probe == nil {
		t.Fatalf("earshot load --json printed %q: %v", out, err)
	}
	r := tot.Probe
	t.Logf("probe: %+v", r)
	stages := map[string]loadprobe.Stage{}
	for _, s := range r.Stages {
		stages[s.Name] = s
	}
	for _, name := range []string{"job published", "final segment", "alert published", "alert in browser"} {
		s := stages[name]
		// Each stage comes after the utterance's end (less capture's
		// post-roll) and, on an idle pipeline, within seconds.
		if s.Count == 0 || s.Missing != 0 || s.P50MS < -100 || s.MaxMS > 20000 {
			t.Errorf("stage %q: %+v, want every utterance, each within 20 s of its end", name, s)
		}
	}
	if n := stages["final segment"].Count; n != stages["job published"].Count || n < 2 {
		t.Errorf("%d final segments for %d final jobs, want one each, at least 2", n, stages["job published"].Count)
	}
	// Both are times of arrival at two listeners (a NATS subscription and
	// the board's stream), so the board may be a hair ahead, never by much.
	if stages["alert in browser"].P50MS < stages["alert published"].P50MS-50 {
		t.Errorf("the board showed the alert (%v ms) well before it was published (%v ms)", stages["alert in browser"].P50MS, stages["alert published"].P50MS)
	}
	queues := map[string]bool{}
	for _, q := range r.Queues {
		queues[q.Consumer] = true
	}
	if !queues["asr"] || !queues["store"] {
		t.Errorf("queues %+v: want the asr and store consumers", r.Queues)
	}
	cpu := map[string]float64{}
	for _, c := range r.CPU {
		cpu[c.Name] = c.Cores
	}
	if cpu["earshot"] <= 0 || cpu["load"] <= 0 {
		t.Errorf("cpu %+v: want earshot's and load's above 0", r.CPU)
	}
	mem := map[string]loadprobe.Memory{}
	for _, m := range r.Memory {
		mem[m.Name] = m
	}
	for _, name := range []string{"earshot", "load"} {
		if m := mem[name]; m.Samples == 0 || m.FirstMB <= 0 || m.MaxMB < m.LastMB {
			t.Errorf("memory of %s %+v: want its resident memory sampled at the start at least", name, m)
		}
	}
}

// Loads started in the same millisecond (the fault harness starts one per
// capture at once) name their calls apart: with the time alone, their
// call ids were the same, and JetStream dropped one capture's call events
// as duplicates of the other's.
func TestLoadRunsNamedApart(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		r := loadRun()
		if seen[r] {
			t.Fatalf("run %q named twice in 1,000", r)
		}
		seen[r] = true
		if id := "load-" + r + "-99-99"; msg.ValidateCallID(id) != nil {
			t.Fatalf("call id %q: %v", id, msg.ValidateCallID(id))
		}
	}
}
