package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
)

// The bounds of earshot load.
const (
	loadMaxCalls    = 1000
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
}

// loadCmd plays scripted calls as N concurrent calls for a bounded time.
// When --duration ends no new call starts and the running ones play to
// their end, so that every call counted is whole; an interrupt ends them
// at once (they count as send errors).
func loadCmd(ctx context.Context, args []string, std stdio) error {
	fset := flag.NewFlagSet("earshot load", flag.ContinueOnError)
	fset.SetOutput(std.err)
	to := fset.String("to", "127.0.0.1:40000", "capture address: HOST:PORT or HOST:PORT1-PORT2 (the calls are spread over the ports)")
	calls := fset.Int("calls", 1, fmt.Sprintf("N calls at once (1-%d)", loadMaxCalls))
	duration := fset.Duration("duration", time.Minute, fmt.Sprintf("start calls for this long (at most %s); the running ones then play to their end", loadMaxDuration))
	ramp := fset.Float64("ramp", 0, "start the first N calls at R per second (0: all at once); those whose turn falls after --duration do not start")
	dir := fset.String("scripts", "examples/calls", "the scripted calls to play, cycled through (NAME.json with NAME.agent.wav and NAME.customer.wav)")
	speed := fset.String("speed", "1", "N times real time, or max")
	pcma := fset.Bool("pcma", false, "send G.711 A-law (default µ-law)")
	announce := fset.String("announce", "", "announce each call first: nats://HOST:PORT or http://HOST:PORT/api/calls/announce")
	token := fset.String("announce-token", "", "bearer token for an HTTP announce")
	asJSON := fset.Bool("json", false, "print the totals as one JSON object")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return badInputf("unexpected argument %q", fset.Arg(0))
	}
	if *calls < 1 || *calls > loadMaxCalls {
		return badInputf("--calls %d: want 1 to %d", *calls, loadMaxCalls)
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
	scripts, turns, err := loadScripted("--scripts", *dir, sender.SendConfig{PCMA: *pcma, Speed: sp})
	if err != nil {
		return err
	}
	ann, closeAnn, err := captureAnnouncer(*announce, *token)
	if err != nil {
		return err
	}
	defer closeAnn()

	run := strconv.FormatInt(time.Now().UnixMilli(), 36)
	deadline := time.Now().Add(*duration)
	var (
		mu  sync.Mutex
		tot loadTotals
		wg  sync.WaitGroup
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
				tot.Utterances += turns[i]
				mu.Unlock()
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
	if *asJSON {
		return json.NewEncoder(std.out).Encode(tot)
	}
	fmt.Fprintf(std.out, "calls started %d, finished %d; utterances %d; packets %d; bytes %d; send errors %d\n",
		tot.CallsStarted, tot.CallsFinished, tot.Utterances, tot.Packets, tot.Bytes, tot.SendErrors)
	return nil
}
