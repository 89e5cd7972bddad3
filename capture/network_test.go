package capture_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/msg"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// datagram is one packet as an impaired network delivers it: when it
// leaves the sender (its send time plus the network's delay) and, for RTP,
// its place in the stream (-1 for RTCP).
type datagram struct {
	at   time.Duration
	seq  int
	data []byte
}

// deliver sends the datagrams from w in the order of their times, each at
// its time after the start (the pacing of a network, not a wait for the
// receiver), and returns that order.
func deliver(t *testing.T, w *wire, ds []datagram) (sent []datagram, slip time.Duration) {
	t.Helper()
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].at < ds[j].at })
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for _, d := range ds {
		if wait := time.Until(start.Add(d.at)); wait > 0 {
			timer.Reset(wait)
			<-timer.C
		}
		slip = max(slip, time.Since(start.Add(d.at)))
		w.send(d.data)
	}
	return ds, slip
}

// stream builds the 20 ms PCMU packets of pcm for ssrc, and the audio they
// decode to.
func stream(t *testing.T, ssrc uint32, pcm []int16) (pkts [][]byte, decoded []int16) {
	t.Helper()
	for i := 0; i+160 <= len(pcm); i += 160 {
		payload, dec := ulaw(pcm[i : i+160])
		pkts = append(pkts, rtpPacket(t, ssrc, uint16(40000+i/160), uint32(7_000_000+i), 0, payload))
		decoded = append(decoded, dec...)
	}
	return pkts, decoded
}

func onlyCall(t *testing.T, calls map[string]*callEvents) *callEvents {
	t.Helper()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	for _, c := range calls {
		return c
	}
	return nil
}

// TestJitterLosesNothing: every packet is delayed by 0-100 ms or 0-200 ms
// (uniform, from a seeded RNG), so that they arrive heavily reordered;
// the jitter buffer adapts its wait and plays every packet, none lost or
// late, and the turns are where they were sent on the call clock, their
// audio the audio sent.
func TestJitterLosesNothing(t *testing.T) {
	for _, jit := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		t.Run("0-"+jit.String(), func(t *testing.T) {
			t.Parallel()
			// The wire is the test's own sender: when the machine holds it
			// back past the schedule, the packets did not arrive with the
			// jitter scripted, so a failed run is tried again (three at
			// most).
			for try := 1; ; try++ {
				problem, slip := jitterRun(t, jit)
				if problem == "" {
					return
				}
				if slip < maxSlip || try == 3 {
					t.Fatalf("%s (the sender ran up to %v behind its schedule)", problem, slip)
				}
				t.Logf("run %d: %s; the sender ran up to %v behind its schedule: trying again", try, problem, slip)
			}
		})
	}
}

// maxSlip is how far behind its schedule the test's sender may fall for a
// jitter run to count.
const maxSlip = 20 * time.Millisecond

// jitterRun sends a two-turn stream with up to jit of jitter and says what
// capture got wrong ("" for nothing), and how far the sender slipped.
func jitterRun(t *testing.T, jit time.Duration) (problem string, slip time.Duration) {
	r := newRig(t, capture.Config{})
	w := newWire(t, r.addr)
	pkts, dec := stream(t, 0x5151, tones(6000, [2]int{200, 2200}, [2]int{3200, 5800}))
	rng := rand.New(rand.NewPCG(11, uint64(jit)))
	var ds []datagram
	for i, p := range pkts {
		ds = append(ds, datagram{at: time.Duration(i)*20*time.Millisecond + time.Duration(rng.Int64N(int64(jit)+1)), seq: i, data: p})
	}
	ds = append(ds, datagram{at: time.Duration(len(pkts))*20*time.Millisecond + jit + 20*time.Millisecond, seq: -1, data: bye(0x5151)})
	_, slip = deliver(t, w, ds)
	c := onlyCall(t, r.waitEnded(1, 10*time.Second))
	st := c.Ended.Streams
	if len(st) != 1 || st[0].Received != uint64(len(pkts)) || st[0].Lost != 0 || st[0].Late != 0 || st[0].Duplicate != 0 {
		return fmt.Sprintf("streams %+v, want all %d packets received, none lost or late", st, len(pkts)), slip
	}
	t.Logf("jitter 0-%v: %d packets, %d reordered; RFC 3550 jitter %d ms, buffer delay %d ms",
		jit, st[0].Received, st[0].Reordered, st[0].JitterMS, st[0].BufferMS)
	jobs := c.Finals(msg.RoleA)
	want := [][2]int64{{140, 2260}, {3140, 5860}}
	if len(jobs) != len(want) {
		return fmt.Sprintf("%d final jobs, want %d", len(jobs), len(want)), slip
	}
	for i, j := range jobs {
		if j.StartMS != want[i][0] || j.EndMS != want[i][1] {
			return fmt.Sprintf("turn %d at %d..%d ms, want %d..%d ms as sent", i+1, j.StartMS, j.EndMS, want[i][0], want[i][1]), slip
		}
		if !slices.Equal(j.PCM, dec[j.StartMS*8:j.EndMS*8]) {
			return fmt.Sprintf("turn %d: the audio is not the audio sent", i+1), slip
		}
	}
	return "", slip
}

// counters is a stream's counters without its delay figures.
func counters(st msg.StreamStats) msg.StreamStats {
	st.JitterMS, st.BufferMS = 0, 0
	return st
}

func bye(ssrc uint32) []byte {
	return []byte{0x81, 203, 0, 1, byte(ssrc >> 24), byte(ssrc >> 16), byte(ssrc >> 8), byte(ssrc)}
}

// TestCombinedImpairmentCountsExactly: jitter, loss, duplicates and
// packets held far past the jitter buffer at once, duplicates of those
// too; every counter is what the network did.
func TestCombinedImpairmentCountsExactly(t *testing.T) {
	t.Parallel()
	r := newRig(t, capture.Config{})
	w := newWire(t, r.addr)
	pkts, _ := stream(t, 0x1313, tones(6000, [2]int{0, 6000}))
	rng := rand.New(rand.NewPCG(13, 13))
	var ds []datagram
	var dropped, late, dups, lateDups int
	isLate := map[int]bool{}
	for i, p := range pkts {
		at := time.Duration(i)*20*time.Millisecond + time.Duration(rng.Int64N(int64(60*time.Millisecond)))
		switch x := rng.IntN(100); {
		case i < 5 || i > len(pkts)-5: // the ends as sent: a trailing gap has no place
		case x < 4:
			dropped++
			continue
		case x < 8:
			late++
			isLate[i] = true
			at += 800 * time.Millisecond // far past the buffer's 300 ms at most
		}
		ds = append(ds, datagram{at: at, seq: i, data: p})
		if dupP := map[bool]int{false: 6, true: 50}[isLate[i]]; rng.IntN(100) < dupP {
			dups++
			if isLate[i] {
				lateDups++
			}
			ds = append(ds, datagram{at: at + time.Duration(rng.Int64N(int64(40*time.Millisecond))), seq: i, data: p})
		}
	}
	end := time.Duration(len(pkts))*20*time.Millisecond + time.Second
	ds = append(ds, datagram{at: end, seq: -1, data: bye(0x1313)})
	order, _ := deliver(t, w, ds)
	// reordered: in time, first of its copies, after a higher one.
	reordered, top := 0, -1
	seen := map[int]bool{}
	for _, d := range order {
		if d.seq < 0 || isLate[d.seq] || seen[d.seq] {
			continue
		}
		seen[d.seq] = true
		if d.seq < top {
			reordered++
		}
		top = max(top, d.seq)
	}
	c := onlyCall(t, r.waitEnded(1, 10*time.Second))
	want := msg.StreamStats{
		Leg: msg.RoleA, SSRC: 0x1313, Received: uint64(len(ds) - 1), Lost: uint64(dropped + late),
		Late: uint64(late), Duplicate: uint64(dups), Reordered: uint64(reordered),
	}
	if len(c.Ended.Streams) != 1 {
		t.Fatalf("streams %+v, want one", c.Ended.Streams)
	}
	if got := counters(c.Ended.Streams[0]); got != want {
		t.Errorf("counters\n got %+v\nwant %+v (%d duplicates of late packets)", got, want, lateDups)
	}
	if lateDups == 0 {
		t.Errorf("the plan duplicated no late packet: choose another seed")
	}
}

// TestStragglersAfterByeAreLate: packets of an ended call that come after
// its BYE (the network reordered them) are counted late and dropped: no
// phantom call takes them, and the next call on the port is not refused.
func TestStragglersAfterByeAreLate(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRig(t, capture.Config{Metrics: reg})
	a, b, next := newWire(t, r.addr), newWire(t, r.addr), newWire(t, r.addr)
	pa, _ := stream(t, 0xa, tones(1000, [2]int{0, 1000}))
	pb, _ := stream(t, 0xb, tones(1000, [2]int{0, 1000}))
	for i := range 45 {
		a.send(pa[i])
		b.send(pb[i])
	}
	a.send(bye(0xa))
	b.send(bye(0xb))
	first := onlyCall(t, r.waitEnded(1, 10*time.Second))
	for i := 45; i < 50; i++ {
		a.send(pa[i])
		b.send(pb[i])
	}
	// A new call on the same port, after the stragglers.
	pn, _ := stream(t, 0xc, tones(1000, [2]int{0, 1000}))
	for _, p := range pn {
		next.send(p)
	}
	next.send(bye(0xc))
	second := onlyCall(t, r.waitEnded(1, 10*time.Second))
	if second.Started == nil || second.Started.CallID == first.Ended.CallID || len(second.Ended.Legs) != 1 ||
		second.Ended.Legs[0].Source != next.addr().String() || second.Ended.Streams[0].Received != uint64(len(pn)) {
		t.Errorf("the call after: %+v %+v, want a new call of the new source alone", second.Started, second.Ended)
	}
	if n := r.cap.Refused(capture.ErrNoRoom); n != 0 {
		t.Errorf("%d packets refused for no room", n)
	}
	if v := testutil.ToFloat64(mustCollector(t, reg, "earshot_capture_packets_total", "outcome", "late")); v != 10 {
		t.Errorf("%v packets counted late, want the 10 stragglers", v)
	}
}
