// Command bench-e2e is `make bench-e2e`: for each call count it starts
// `earshot run` (built into a temporary directory) with the http engine
// pointed at earshot load's scripted load-test transcriber, drives it with
// `earshot load` (N concurrent two-leg calls, announced, measured), and
// writes a table of the results into README.md between the markers
// <!-- bench-e2e --> and <!-- /bench-e2e -->. At the top call count it
// also takes a CPU profile of earshot and reports the resampler's share.
//
// With -soak (`make soak`) it runs one call count for the whole duration
// instead and writes, between <!-- soak --> and <!-- /soak -->, each
// process's resident memory (sampled every 10 s by earshot load) with its
// least-squares slope, the queues' depths and growth, and the p95 from an
// utterance's end to its final segment; it exits 1 when that p95 is 1 s
// or more.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/earshot-dev/earshot/internal/loadprobe"
)

// result is one earshot load --json.
type result struct {
	Calls         int               `json:"-"`
	CallsStarted  int               `json:"calls_started"`
	CallsFinished int               `json:"calls_finished"`
	SendErrors    int               `json:"send_errors"`
	Probe         *loadprobe.Report `json:"probe"`
	Resampler     string            `json:"-"`
	When          time.Time         `json:"-"`
}

func main() {
	calls := flag.String("calls", "100,500,1000,2000", "call counts, comma-separated")
	duration := flag.Duration("duration", time.Minute, "how long each run starts calls")
	top := flag.Duration("top-duration", 0, "how long the largest call count runs (default --duration; the throughput issue asks 5m)")
	ramp := flag.Float64("ramp", 50, "calls started per second until all N run")
	base := flag.Int("port", 47100, "first of the ports used: NATS, web view, transcriber, profiler, then 8 RTP ports")
	readme := flag.String("readme", "README.md", "where the table goes (\"\": print it only)")
	scripts := flag.String("scripts", "examples/calls", "scripted calls to play")
	rules := flag.String("rules", "examples/rules.yaml", "rules earshot runs")
	soak := flag.Bool("soak", false, "one call count for the whole duration: memory slopes, queues and latency into the README's soak section")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *calls, *duration, *top, *ramp, *base, *readme, *scripts, *rules, *soak); err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, callsList string, duration, top time.Duration, ramp float64, base int, readme, scripts, rules string, soak bool) error {
	var counts []int
	for _, f := range strings.Split(callsList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-calls %q: want positive numbers, comma-separated", callsList)
		}
		counts = append(counts, n)
	}
	if top == 0 {
		top = duration
	}
	if soak && len(counts) != 1 {
		return fmt.Errorf("-soak -calls %q: want one call count", callsList)
	}
	tmp, err := os.MkdirTemp("", "earshot-bench-e2e-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "earshot")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/earshot")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	if soak {
		r, err := once(ctx, bin, tmp, counts[0], duration, ramp, base, scripts, rules, false)
		if err != nil {
			return fmt.Errorf("%d calls: %w", counts[0], err)
		}
		table, p95 := renderSoak(r, duration, ramp)
		fmt.Print(table)
		if readme != "" {
			if err := replaceSection(readme, table, soakStart, soakEnd); err != nil {
				return err
			}
		}
		if p95 >= 1000 {
			return fmt.Errorf("p95 utterance end -> final segment %.0f ms, want under 1 s", p95)
		}
		return nil
	}
	var results []result
	for i, n := range counts {
		d := duration
		if i == len(counts)-1 {
			d = top
		}
		r, err := once(ctx, bin, tmp, n, d, ramp, base, scripts, rules, i == len(counts)-1)
		if err != nil {
			return fmt.Errorf("%d calls: %w", n, err)
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "bench-e2e: %d calls done\n", n)
	}
	table := render(results, duration, top, ramp)
	fmt.Print(table)
	if readme == "" {
		return nil
	}
	return replaceSection(readme, table, startMark, endMark)
}

// once runs one call count against a fresh earshot.
func once(ctx context.Context, bin, tmp string, n int, d time.Duration, ramp float64, base int, scripts, rules string, profile bool) (result, error) {
	natsAddr := fmt.Sprintf("127.0.0.1:%d", base)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", base+1)
	asrAddr := fmt.Sprintf("127.0.0.1:%d", base+2)
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", base+3)
	rtp := fmt.Sprintf("127.0.0.1:%d-%d", base+10, base+17)
	// The http engine's workers are requests in flight to the
	// transcription servers, not CPU: as many as a GPU pool takes.
	const asrWorkers = 64
	data := filepath.Join(tmp, fmt.Sprintf("data-%d", n))

	asr := exec.CommandContext(ctx, bin, "load", "--transcriber", asrAddr, "--calls", "0", "--scripts", scripts)
	asr.Stderr = os.Stderr
	if err := asr.Start(); err != nil {
		return result{}, err
	}
	defer stopProcess(asr)
	if err := waitTCP(ctx, asrAddr); err != nil {
		return result{}, fmt.Errorf("transcriber: %w", err)
	}

	out := &syncWriter{w: &bytes.Buffer{}}
	logf, err := os.Create(filepath.Join(tmp, fmt.Sprintf("earshot-%d.log", n)))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	es := exec.CommandContext(ctx, bin, "run", "--data", data, "--nats-listen", natsAddr, "--http", httpAddr,
		"--rtp", rtp, "--engine", "http", "--asr-url", "http://"+asrAddr, "--asr-workers", strconv.Itoa(asrWorkers), "--rules", rules, "--record", "none",
		"--pprof", pprofAddr, "--log-level", "warn")
	es.Stdout, es.Stderr = out, logf
	if err := es.Start(); err != nil {
		return result{}, err
	}
	defer stopProcess(es)
	if err := waitHTTP(ctx, "http://"+httpAddr+"/healthz"); err != nil {
		return result{}, fmt.Errorf("earshot run: %w (log: %s)", err, logf.Name())
	}
	// The first start prints the admin's password once the web view serves.
	pw := regexp.MustCompile(`with password (\S+)`)
	m := pw.FindStringSubmatch(out.String())
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); m = pw.FindStringSubmatch(out.String()) {
		time.Sleep(100 * time.Millisecond)
	}
	if m == nil {
		return result{}, fmt.Errorf("earshot run printed no first admin password: %q", out.String())
	}

	prof := make(chan string, 1)
	if profile {
		// A CPU profile of the middle of the run, when every call is on.
		go func() { prof <- resamplerShare(ctx, bin, pprofAddr, d, tmp) }()
	} else {
		prof <- ""
	}
	load := exec.CommandContext(ctx, bin, "load", "--to", rtp, "--calls", strconv.Itoa(n), "--duration", d.String(),
		"--ramp", strconv.FormatFloat(ramp, 'f', -1, 64), "--scripts", scripts, "--announce", "nats://"+natsAddr,
		"--nats", "nats://"+natsAddr, "--ui", "http://"+httpAddr, "--ui-password", m[1],
		"--pid", fmt.Sprintf("earshot=%d", es.Process.Pid), "--pid", fmt.Sprintf("transcriber=%d", asr.Process.Pid), "--json")
	load.Stderr = os.Stderr
	b, err := load.Output()
	if err != nil {
		return result{}, fmt.Errorf("earshot load: %w", err)
	}
	r := result{Calls: n, When: time.Now().UTC(), Resampler: <-prof}
	if err := json.Unmarshal(b, &r); err != nil || r.Probe == nil {
		return result{}, fmt.Errorf("earshot load printed %q: %v", b, err)
	}
	return r, nil
}

// resamplerShare profiles earshot for a third of d, from a third of the way
// in, and returns the resampler's share of the samples (flat, in
// transcribe.(*Resampler) functions), or why not.
func resamplerShare(ctx context.Context, bin, addr string, d time.Duration, tmp string) string {
	sec := max(5, int(d.Seconds()/3))
	select {
	case <-ctx.Done():
		return ""
	case <-time.After(d / 3):
	}
	file := filepath.Join(tmp, "cpu.pprof")
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, sec)
	resp, err := http.Get(url)
	if err != nil {
		return "no profile: " + err.Error()
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err.Error()
	}
	_, err = f.ReadFrom(resp.Body)
	f.Close()
	if err != nil {
		return "no profile: " + err.Error()
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=100000", bin, file).Output()
	if err != nil {
		return "pprof: " + err.Error()
	}
	var share float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// flat flat% sum% cum cum% name
		if len(f) >= 6 && strings.Contains(f[len(f)-1], "transcribe.(*Resampler)") {
			if v, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64); err == nil {
				share += v
			}
		}
	}
	return fmt.Sprintf("%.1f%%", share)
}

// render makes the README table.
func render(rs []result, duration, top time.Duration, ramp float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Taken %s with `make bench-e2e` (each run %s, the largest %s; calls ramped up at %g/s):\n\n",
		rs[len(rs)-1].When.Format("2006-01-02 15:04 MST"), duration, top, ramp)
	b.WriteString("| calls | jobs/s | job published p50/p95 | final segment p50/p95 | alert published p50/p95 | alert in browser p50/p95 | deepest queue, max (growth/s) | Earshot CPU, cores (CPU ms/s per call) | load gen, transcriber CPU, cores | kernel drops | load average |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	ms := func(r *loadprobe.Report, name string) string {
		for _, s := range r.Stages {
			if s.Name == name {
				if s.Count == 0 {
					return "-"
				}
				return fmt.Sprintf("%.0f / %.0f ms", s.P50MS, s.P95MS)
			}
		}
		return "-"
	}
	for _, r := range rs {
		p := r.Probe
		deep := "-"
		var most uint64
		for _, q := range p.Queues {
			if q.Max >= most {
				most, deep = q.Max, fmt.Sprintf("%s %d (%+.1f)", q.Consumer, q.Max, q.Growth)
			}
		}
		cpu := map[string]float64{}
		for _, c := range p.CPU {
			cpu[c.Name] = c.Cores
		}
		fmt.Fprintf(&b, "| %d | %.0f | %s | %s | %s | %s | %s | %.2f cores (%.2f ms/s) | %.2f, %.2f | %d | %.1f (max %.1f) |\n",
			r.Calls, p.JobsPerSec, ms(p, "job published"), ms(p, "final segment"), ms(p, "alert published"), ms(p, "alert in browser"),
			deep, cpu["earshot"], 1000*cpu["earshot"]/float64(r.Calls), cpu["load"], cpu["transcriber"], p.KernelDrops, p.LoadAverage[0], p.LoadMax)
	}
	for _, r := range rs {
		if r.Resampler != "" {
			fmt.Fprintf(&b, "\nResampler (transcribe.(*Resampler)) share of Earshot's CPU profile at %d calls: %s.\n", r.Calls, r.Resampler)
		}
	}
	return b.String()
}

// renderSoak makes the README's soak figures and returns the p95 from an
// utterance's end to its final segment, in ms.
func renderSoak(r result, duration time.Duration, ramp float64) (string, float64) {
	p := r.Probe
	var b strings.Builder
	var seg loadprobe.Stage
	for _, s := range p.Stages {
		if s.Name == "final segment" {
			seg = s
		}
	}
	fmt.Fprintf(&b, "Taken %s with `make soak CALLS=%d DURATION=%s` (calls ramped up at %g/s; %d calls started, %d jobs, %.0f jobs/s; load average %.1f at the end, at most %.1f):\n\n",
		r.When.Format("2006-01-02 15:04 MST"), r.Calls, duration, ramp, r.CallsStarted, p.Jobs, p.JobsPerSec, p.LoadAverage[0], p.LoadMax)
	fmt.Fprintf(&b, "- utterance end -> final segment: p50 %.0f ms, p95 %.0f ms, max %.0f ms (%d utterances, %d missing)\n\n",
		seg.P50MS, seg.P95MS, seg.MaxMS, seg.Count, seg.Missing)
	b.WriteString("| process | RSS first / max / last | slope (least squares), whole run | slope, second half of the load | samples |\n|---|---|---|---|---|\n")
	for _, m := range p.Memory {
		fmt.Fprintf(&b, "| %s | %.0f / %.0f / %.0f MB | %+.2f MB/min | %+.2f MB/min | %d |\n", m.Name, m.FirstMB, m.MaxMB, m.LastMB, m.SlopeMBPerMin, m.LateSlopeMBPerMin, m.Samples)
	}
	b.WriteString("\n| queue (durable consumer) | max depth | at the end | growth while loaded |\n|---|---|---|---|\n")
	for _, q := range p.Queues {
		fmt.Fprintf(&b, "| %s | %d | %d | %+.2f/s |\n", q.Consumer, q.Max, q.Last, q.Growth)
	}
	return b.String(), seg.P95MS
}

const (
	startMark = "<!-- bench-e2e -->"
	endMark   = "<!-- /bench-e2e -->"
	soakStart = "<!-- soak -->"
	soakEnd   = "<!-- /soak -->"
)

// replaceSection puts table between the README's markers start and end.
func replaceSection(path, table, startMark, endMark string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, startMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s ... %s section for the table", path, startMark, endMark)
	}
	s = s[:i+len(startMark)] + "\n" + table + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// stopProcess interrupts cmd and waits for it, killing it after 20 s.
func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func waitTCP(ctx context.Context, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not listening: %w", addr, errors.Join(err, ctx.Err()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", url, errors.Join(err, ctx.Err()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// syncWriter is a buffer written by one goroutine and read by another.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
