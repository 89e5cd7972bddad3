package loadprobe

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and a ')' of its own; utime 250, stime 50.
	line := "4242 (earshot (x) run) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0\n"
	got, err := parseStat(line)
	if err != nil || got != 3.0 {
		t.Errorf("parseStat = %v, %v; want 3 s", got, err)
	}
	for _, bad := range []string{"", "1 (x S 1", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 a b c"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
}

func TestParseUDPDrops(t *testing.T) {
	const table = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 0100007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 1 2 0000000000000000 7
  101: 0100007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 2 2 0000000000000000 5
  102: 0100007F:9C41 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 3 2 0000000000000000 100
`
	// Port 0x9C40 = 40000, two sockets (SO_REUSEPORT): both count.
	if got := parseUDPDrops(bufio.NewScanner(strings.NewReader(table)), map[int]bool{40000: true}); got != 12 {
		t.Errorf("drops on 40000 = %d, want 12", got)
	}
}

func TestQuantileAndSlope(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	if q := quantile(xs, 0.5); q != 10 {
		t.Errorf("p50 = %v, want 10", q)
	}
	if q := quantile(xs, 0.95); q != 19 {
		t.Errorf("p95 = %v, want 19", q)
	}
	var grow, flat []point
	for i := range 10 {
		grow = append(grow, point{t: float64(i), v: float64(100 + 5*i)})
		flat = append(flat, point{t: float64(i), v: float64(3 + i%2)})
	}
	if s := slope(grow); s != 5 {
		t.Errorf("slope of a queue growing 5/s = %v", s)
	}
	if s := slope(flat); s > 0.2 || s < -0.2 {
		t.Errorf("slope of a flat queue = %v", s)
	}
	// A process that climbs to its working size and stays there: the
	// second half of the load is flat, the whole run is not; samples
	// after the load ended (t > 20) are left out.
	var warm []point
	for i := range 25 {
		warm = append(warm, point{t: float64(i), v: float64(50 + 40*min(i, 6))})
	}
	if s := slope(warm); s < 5 {
		t.Errorf("slope over a climb and a plateau = %v, want clearly positive", s)
	}
	if late := lateHalf(warm, 20); len(late) != 11 || late[0].t != 10 || late[len(late)-1].t != 20 {
		t.Errorf("second half of a load ending at 20 s: %v", late)
	} else if s := slope(late); s != 0 {
		t.Errorf("slope over the plateau = %v, want 0", s)
	}
}

// TestBoardAlertsMatchInOrder: each rise of a call's alert count on the
// board is one alert shown, matched in order to the alerts published; a
// snapshot after a reconnect counts the alerts it holds without a time.
func TestBoardAlertsMatchInOrder(t *testing.T) {
	p := &Probe{cfg: Config{UI: "http://x"}, calls: map[string]time.Time{}, jobs: map[string]seen{}, finals: map[string]seen{},
		alerts: map[string][]alertSeen{}, shown: map[string][]time.Time{}, counts: map[string]int{}, queues: map[string]*queueStats{},
		start: time.Now(), cancel: func() {}}
	t0 := time.Now()
	p.CallStarted("c", t0)
	// Three alerts on words: the first's segment was seen (ending at
	// 1000 ms; its match says 900), the others' only by their matches.
	p.finals["c/agent/1/0"] = seen{call: "c", endMS: 1000, at: t0.Add(1050 * time.Millisecond)}
	match := func(seg string, end int64) []msg.Match { return []msg.Match{{SegmentID: seg, EndMS: end}} }
	p.alerts["c"] = []alertSeen{{matches: match("c/agent/1/0", 900), at: t0.Add(1100 * time.Millisecond)},
		{matches: match("c/agent/2/0", 2000), at: t0.Add(2100 * time.Millisecond)},
		{at: t0.Add(2200 * time.Millisecond)}, // on sentiment: not timed, but shown
		{matches: match("c/agent/3/0", 3000), at: t0.Add(3100 * time.Millisecond)}}
	p.onBoard("row", []byte(`{"call_id":"c","alerts":1}`), t0.Add(1200*time.Millisecond))
	p.onBoard("row", []byte(`{"call_id":"c","alerts":1}`), t0.Add(1500*time.Millisecond)) // another change: no new alert
	p.onBoard("snapshot", []byte(`{"rows":[{"call_id":"c","alerts":2}]}`), t0.Add(2500*time.Millisecond))
	p.onBoard("row", []byte(`{"call_id":"c","alerts":3}`), t0.Add(2300*time.Millisecond))
	p.onBoard("row", []byte(`{"call_id":"c","alerts":4}`), t0.Add(3400*time.Millisecond))
	r := p.Stop()
	for _, s := range r.Stages {
		if s.Name == "alert in browser" {
			// 200 ms and 400 ms; the one in the snapshot has no time.
			if s.Count != 2 || s.Missing != 1 || s.P50MS != 200 || s.MaxMS != 400 {
				t.Errorf("alert in browser: %+v, want 200 and 400 ms, one missing", s)
			}
			return
		}
	}
	t.Error("no alert in browser stage")
}

func TestParseRSS(t *testing.T) {
	status := "Name:\tearshot\nVmPeak:\t  900000 kB\nVmRSS:\t   51200 kB\nThreads:\t12\n"
	if got, err := parseRSS(status); err != nil || got != 50 {
		t.Errorf("parseRSS = %v, %v; want 50 MB", got, err)
	}
	for _, bad := range []string{"", "Name:\tkthreadd\n", "VmRSS:\t12 MB\n", "VmRSS:\tx kB\n"} {
		if _, err := parseRSS(bad); err == nil {
			t.Errorf("parseRSS(%q): no error", bad)
		}
	}
	// This process's own, read as the probe reads the others'.
	if mb, err := rssMB(os.Getpid()); err != nil || mb <= 0 {
		t.Errorf("rssMB(self) = %v, %v", mb, err)
	}
}
