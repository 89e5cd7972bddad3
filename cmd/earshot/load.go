package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/internal/loadprobe"
	"github.com/earshot-dev/earshot/internal/scriptedasr"
	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
)

// The bounds of earshot load.
const (
	loadMaxCalls    = 5000
	loadMaxDuration = 24 * time.Hour
)

// loadTotals is what earshot load sent.
type loadTotals struct {
	CallsStarted  int `json:"calls_started"`
	CallsFinished int `json:"calls_finished"`
	// Utterances are the speech turns of the scripts of the calls started.
	Utterances int `json:"utterances"`
	// Packets and Bytes count the RTP packets (header and payload) of the
	// calls finished; the RTCP BYEs are left out.
	Packets    int `json:"packets"`
	Bytes      int `json:"bytes"`
	SendErrors int `json:"send_errors"`
	// Probe is what --nats (and --ui, --pid) saw of the Earshot.
	Probe *loadprobe.Report `json:"probe,omitempty"`
	// TranscriberRequests are the requests the --transcriber double answered.
	TranscriberRequests int64 `json:"transcriber_requests,omitempty"`
}

// loadCmd plays scripted calls as N concurrent calls for a bounded time.
// When --duration ends no new call starts and the running ones play to
// their end, so that every call counted is whole; an interrupt ends them
// at once (they count as send errors). With --nats it measures the
// Earshot it drives (loadprobe); with --transcriber it serves the
// load-test double of a transcription server (scriptedasr).
func loadCmd(ctx context.Context, args []string, std stdio) error {
	fset := flag.NewFlagSet("earshot load", flag.ContinueOnError)
	fset.SetOutput(std.err)
	to := fset.String("to", "127.0.0.1:40000", "capture address: HOST:PORT or HOST:PORT1-PORT2 (the calls are spread over the ports)")
	calls := fset.Int("calls", 1, fmt.Sprintf("N calls at once (1-%d; 0 with --transcriber: serve it only, until interrupted)", loadMaxCalls))
	duration := fset.Duration("duration", time.Minute, fmt.Sprintf("start calls for this long (at most %s); the running ones then play to their end", loadMaxDuration))
	ramp := fset.Float64("ramp", 0, "start the first N calls at R per second (0: all at once); those whose turn falls after --duration do not start")
	dir := fset.String("scripts", "examples/calls", "the scripted calls to play, cycled through (NAME.json with NAME.agent.wav and NAME.customer.wav)")
	speed := fset.String("speed", "1", "N times real time, or max")
	pcma := fset.Bool("pcma", false, "send G.711 A-law (default µ-law)")
	announce := fset.String("announce", "", "announce each call first: nats://HOST:PORT or http://HOST:PORT/api/calls/announce")
	token := fset.String("announce-token", "", "bearer token for an HTTP announce")
	asJSON := fset.Bool("json", false, "print the totals as one JSON object")
	transcriber := fset.String("transcriber", "", "LOAD-TEST DOUBLE, not a transcriber: serve on HOST:PORT an OpenAI-compatible transcription endpoint that answers at once with the text of the scripted turn nearest each request's length (for earshot run --engine http --asr-url http://HOST:PORT)")
	natsURL := fset.String("nats", "", "measure the Earshot on this NATS server (nats://HOST:PORT): latencies from each utterance's end, queue depths, CPU")
	uiURL := fset.String("ui", "", "with --nats: also time alerts on the web view's live board stream (http://HOST:PORT), as a browser gets them")
	uiUser := fset.String("ui-user", "admin", "web view user for --ui")
	uiPassword := fset.String("ui-password", "", "password of --ui-user (default $EARSHOT_UI_PASSWORD)")
	var pids pidFlag
	fset.Var(&pids, "pid", "with --nats: report the CPU of process NAME=PID too (repeatable), e.g. earshot=1234")
	watchJobs := fset.Int("watch-jobs", 50, "with --nats: time the jobs of the calls of the first N call slots (each job carries its audio, copied to earshot load)")
	settle := fset.Duration("settle", 30*time.Second, "with --nats: after the last call, wait at most this long for the final segments")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return badInputf("unexpected argument %q", fset.Arg(0))
	}
	if (*calls < 1 && !(*calls == 0 && *transcriber != "")) || *calls > loadMaxCalls {
		return badInputf("--calls %d: want 1 to %d (0 only with --transcriber)", *calls, loadMaxCalls)
	}
	if *uiURL != "" && *natsURL == "" {
		return badInputf("--ui %s: needs --nats", *uiURL)
	}
	if *settle < 0 {
		return badInputf("--settle %s: want 0 or more", *settle)
	}
	if *uiPassword == "" {
		*uiPassword = os.Getenv("EARSHOT_UI_PASSWORD")
	}
	if *duration <= 0 || *duration > loadMaxDuration {
		return badInputf("--duration %s: want more than 0 and at most %s", *duration, loadMaxDuration)
	}
	if *ramp < 0 || *ramp > 1e6 {
		return badInputf("--ramp %g: want calls per second, 0 (all at once) or more", *ramp)
	}
	dsts, err := capture.ParseListen(*to)
	if err != nil {
		return badInputf("--to: %v", err)
	}
	sp, err := sender.ParseSpeed(*speed)
	if err != nil {
		return badInputf("--speed: %v", err)
	}
	scripts, sc, err := loadScripted("--scripts", *dir, sender.SendConfig{PCMA: *pcma, Speed: sp})
	if err != nil {
		return err
	}
	var tot loadTotals
	stopASR := func() int64 { return 0 }
	if *transcriber != "" {
		if stopASR, err = serveScriptedASR(*transcriber, scripts, sc, std); err != nil {
			return err
		}
		defer stopASR()
		if *calls == 0 {
			<-ctx.Done()
			return nil
		}
	}
	ann, closeAnn, err := captureAnnouncer(*announce, *token)
	if err != nil {
		return err
	}
	defer closeAnn()
	var probe *loadprobe.Probe
	if *natsURL != "" {
		nc, err := nats.Connect(*natsURL, nats.Name("earshot-load"))
		if err != nil {
			return fmt.Errorf("--nats %s: %w", *natsURL, err)
		}
		defer nc.Close()
		var ports []int
		for _, d := range dsts {
			ports = append(ports, int(d.Port()))
		}
		probe, err = loadprobe.Start(ctx, loadprobe.Config{NATS: nc, UI: *uiURL, UIUser: *uiUser, UIPassword: *uiPassword,
			PIDs: pids, Ports: ports, Logger: slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			return err
		}
	}

	run := loadRun()
	deadline := time.Now().Add(*duration)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	// Slot n keeps one call going on port n mod the ports, so that a port
	// never has two unannounced calls at once.
	for n := range *calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if *ramp > 0 {
				at := time.Duration(float64(n) / *ramp * float64(time.Second))
				if at >= *duration {
					return // its turn comes after the end
				}
				t := time.NewTimer(at)
				defer t.Stop()
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
			for k := 0; ctx.Err() == nil && time.Now().Before(deadline); k++ {
				i := (n + k*(*calls)) % len(scripts)
				cfg := scripts[i]
				cfg.To = dsts[n%len(dsts)]
				cfg.CallID = fmt.Sprintf("load-%s-%d-%d", run, n, k)
				cfg.Announcer = ann
				cfg.Legs = append([]sender.Leg(nil), cfg.Legs...)
				for l := range cfg.Legs {
					cfg.Legs[l].SSRC = 0 // fresh
				}
				mu.Lock()
				tot.CallsStarted++
				tot.Utterances += len(sc[i].Turns)
				mu.Unlock()
				if probe != nil {
					// The call clock starts where capture starts it: at the
					// announce, else at the first packet.
					if ann != nil {
						probe.CallStarted(cfg.CallID, time.Now())
					} else {
						cfg.Started = func(t0 time.Time) { probe.CallStarted(cfg.CallID, t0) }
					}
					if n < *watchJobs {
						probe.Watch(cfg.CallID)
					}
				}
				sent, err := sender.Send(ctx, cfg)
				mu.Lock()
				if err != nil {
					tot.SendErrors++
				} else {
					tot.CallsFinished++
					for l, leg := range sent.Legs {
						tot.Packets += leg.Packets
						tot.Bytes += 12*leg.Packets + len(cfg.Legs[l].PCM) // G.711: a byte a sample
					}
				}
				mu.Unlock()
				if err != nil && ctx.Err() == nil {
					fmt.Fprintf(std.err, "earshot load: call %s: %v\n", cfg.CallID, err)
				}
			}
		}()
	}
	wg.Wait()
	if probe != nil {
		probe.SendingEnded()
		sctx, cancel := context.WithTimeout(ctx, *settle)
		probe.Settle(sctx)
		cancel()
		tot.Probe = probe.Stop()
	}
	tot.TranscriberRequests = stopASR()
	if *asJSON {
		return json.NewEncoder(std.out).Encode(tot)
	}
	fmt.Fprintf(std.out, "calls started %d, finished %d; utterances %d; packets %d; bytes %d; send errors %d\n",
		tot.CallsStarted, tot.CallsFinished, tot.Utterances, tot.Packets, tot.Bytes, tot.SendErrors)
	if r := tot.Probe; r != nil {
		printProbe(std.out, r, *calls)
	}
	return nil
}

// printProbe writes what the probe saw as text.
func printProbe(w io.Writer, r *loadprobe.Report, calls int) {
	fmt.Fprintf(w, "over %.0f s: %d jobs, %.1f jobs/s (those of %d calls timed); %d final segments; kernel drops on the capture ports %d; load average %.2f %.2f %.2f (highest %.2f)\n",
		r.Seconds, r.Jobs, r.JobsPerSec, r.JobCalls, r.FinalSegments, r.KernelDrops, r.LoadAverage[0], r.LoadAverage[1], r.LoadAverage[2], r.LoadMax)
	for _, s := range r.Stages {
		fmt.Fprintf(w, "utterance end -> %-16s p50 %7.0f ms  p95 %7.0f ms  max %7.0f ms  (%d; %d missing)\n", s.Name, s.P50MS, s.P95MS, s.MaxMS, s.Count, s.Missing)
	}
	for _, q := range r.Queues {
		fmt.Fprintf(w, "queue %-12s max %6d  at the end %6d  growth %+.2f/s\n", q.Consumer, q.Max, q.Last, q.Growth)
	}
	for _, c := range r.CPU {
		fmt.Fprintf(w, "cpu %-12s %.2f cores (%.4f per call)\n", c.Name, c.Cores, c.Cores/float64(calls))
	}
	for _, m := range r.Memory {
		fmt.Fprintf(w, "memory %-12s %.0f MB at the start, %.0f MB at most, %.0f MB at the end; slope %+.2f MB/min, %+.2f MB/min over the second half of the load (%d samples)\n",
			m.Name, m.FirstMB, m.MaxMB, m.LastMB, m.SlopeMBPerMin, m.LateSlopeMBPerMin, m.Samples)
	}
}

// pidFlag is --pid NAME=PID, repeatable.
type pidFlag map[string]int

func (p *pidFlag) String() string { return fmt.Sprint(map[string]int(*p)) }

func (p *pidFlag) Set(v string) error {
	name, n, ok := strings.Cut(v, "=")
	pid, err := strconv.Atoi(n)
	if !ok || name == "" || err != nil || pid <= 0 {
		return fmt.Errorf("--pid %q: want NAME=PID with a process id", v)
	}
	if *p == nil {
		*p = pidFlag{}
	}
	(*p)[name] = pid
	return nil
}

// loadRun names a load's calls apart from every other load's: the time in
// milliseconds and 32 random bits, base 36. Loads started in the same
// millisecond (one per capture, as the fault harness starts them) gave
// their calls the same ids, and JetStream dropped one capture's events as
// duplicates of the other's.
func loadRun() string {
	return strconv.FormatInt(time.Now().UnixMilli(), 36) + strconv.FormatUint(uint64(rand.Uint32()), 36)
}

// serveScriptedASR serves the load-test double on addr; stop ends it and
// returns how many requests it answered.
func serveScriptedASR(addr string, cfgs []sender.SendConfig, scripts []*synthcall.Script, std stdio) (stop func() int64, err error) {
	var turns []scriptedasr.Turn
	for i, sc := range scripts {
		legs := map[msg.Role][]int16{}
		for _, l := range cfgs[i].Legs {
			legs[l.Role] = l.PCM
		}
		turns = append(turns, scriptedasr.TurnsOf(sc, legs)...)
	}
	srv, err := scriptedasr.New(turns)
	if err != nil {
		return nil, badInputf("--transcriber: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, badInputf("--transcriber %s: %v", addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	fmt.Fprintf(std.err, "earshot load: serving the scripted load-test transcriber (a test double, not a transcription engine) on http://%s\n", ln.Addr())
	var once sync.Once
	return func() int64 {
		once.Do(func() {
			_ = hs.Close()
			<-done
		})
		return srv.Requests()
	}, nil
}
