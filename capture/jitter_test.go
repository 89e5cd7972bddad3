package capture

import (
	"slices"
	"testing"
	"time"
)

// trace runs pushes through a jitter buffer and records what it plays:
// a sequence number (from the timestamp) or -1 for a loss.
type trace struct {
	j   *jitter
	out []int
}

func (tr *trace) play(p played) {
	if p.lost {
		tr.out = append(tr.out, -1)
		return
	}
	tr.out = append(tr.out, int(p.ts))
}

func (tr *trace) push(at time.Time, seqs ...uint16) {
	for _, s := range seqs {
		tr.j.push(at, s, uint32(s), 0, nil, tr.play)
	}
}

func TestJitter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// t1 is after the first packet's hold: play-out has begun.
	t1 := t0.Add(time.Second)
	started := func(tr *trace, seq uint16) {
		tr.push(t0, seq)
		tr.j.tick(t1.Add(-time.Millisecond), tr.play)
		tr.j.tick(t1, tr.play)
	}
	for _, tc := range []struct {
		name string
		run  func(tr *trace)
		want []int
		n    jitterCounts
	}{
		{"in order", func(tr *trace) { started(tr, 1); tr.push(t1, 2, 3) }, []int{1, 2, 3}, jitterCounts{received: 3}},
		{"first packets held for an earlier one", func(tr *trace) {
			tr.push(t0, 3, 1, 2)
			tr.j.tick(t0.Add(50*time.Millisecond), tr.play)
			tr.push(t0.Add(50*time.Millisecond), 0)
			tr.j.tick(t0.Add(200*time.Millisecond), tr.play)
			tr.j.tick(t0.Add(250*time.Millisecond), tr.play)
		}, []int{0, 1, 2, 3}, jitterCounts{received: 4, reordered: 3}},
		{"swap", func(tr *trace) { started(tr, 1); tr.push(t1, 3, 2, 4) }, []int{1, 2, 3, 4}, jitterCounts{received: 4, reordered: 1}},
		{"held behind a missing one", func(tr *trace) { started(tr, 1); tr.push(t1, 3, 4, 5) }, []int{1}, jitterCounts{received: 4}},
		{"loss given up after the wait", func(tr *trace) {
			started(tr, 1)
			tr.push(t1, 3, 4, 5)
			tr.j.tick(t1.Add(50*time.Millisecond), tr.play)
			tr.j.tick(t1.Add(150*time.Millisecond), tr.play) // quiet once: not yet
			tr.j.tick(t1.Add(200*time.Millisecond), tr.play)
		}, []int{1, -1, 3, 4, 5}, jitterCounts{received: 4, lost: 1}},
		{"late after loss, and its duplicate", func(tr *trace) {
			started(tr, 1)
			tr.push(t1, 3)
			tr.push(t1.Add(150*time.Millisecond), 4) // a push decides at once
			tr.push(t1.Add(150*time.Millisecond), 2, 2)
		}, []int{1, -1, 3, 4}, jitterCounts{received: 5, lost: 1, late: 1, duplicate: 1}},
		{"duplicate held and played", func(tr *trace) { started(tr, 1); tr.push(t1, 3, 3, 2, 2) }, []int{1, 2, 3}, jitterCounts{received: 5, reordered: 1, duplicate: 2}},
		{"wrap", func(tr *trace) { started(tr, 65534); tr.push(t1, 65535, 0, 1) }, []int{65534, 65535, 0, 1}, jitterCounts{received: 4}},
		{"reorder across wrap", func(tr *trace) { started(tr, 65534); tr.push(t1, 0, 65535, 1) }, []int{65534, 65535, 0, 1}, jitterCounts{received: 4, reordered: 1}},
		{"restart after two in a row", func(tr *trace) {
			started(tr, 10)
			tr.push(t1, 11, 30000, 30001)
			tr.push(t1.Add(time.Second), 30002)
		}, []int{10, 11, 30001, 30002}, jitterCounts{received: 5, late: 1}},
		{"stray far packet dropped, and its duplicate", func(tr *trace) { started(tr, 10); tr.push(t1, 11, 30000, 30000, 12) }, []int{10, 11, 12}, jitterCounts{received: 5, late: 1, duplicate: 1}},
		{"flush", func(tr *trace) {
			started(tr, 1)
			tr.push(t1, 4)
			tr.j.flush(tr.play)
		}, []int{1, -1, -1, 4}, jitterCounts{received: 2, lost: 2}},
	} {
		tr := &trace{j: newJitter(60*time.Millisecond, 100*time.Millisecond)}
		tc.run(tr)
		if !slices.Equal(tr.out, tc.want) || tr.j.n != tc.n {
			t.Errorf("%s: played %v counts %+v; want %v %+v", tc.name, tr.out, tr.j.n, tc.want, tc.n)
		}
	}
}

// TestJitterWaitAdapts: the wait follows the spread of transit times,
// within its bounds, and forgets a spread after a few seconds.
func TestJitterWaitAdapts(t *testing.T) {
	t0 := time.Unix(1000, 0)
	j := newJitter(40*time.Millisecond, 300*time.Millisecond)
	seq := 0
	// send pushes n 20 ms packets whose transit alternates between 0 and
	// extra.
	send := func(n int, extra time.Duration) {
		for range n {
			at := t0.Add(time.Duration(seq)*20*time.Millisecond + time.Duration(seq%2)*extra)
			j.push(at, uint16(seq), uint32(seq*160), ptPCMU, nil, func(played) {})
			seq++
		}
	}
	if j.wait != 300*time.Millisecond {
		t.Errorf("wait %v before any packet, want the most, 300ms", j.wait)
	}
	send(10, 0)
	if j.wait != 300*time.Millisecond {
		t.Errorf("wait %v after 10 packets, want the most until a block is measured", j.wait)
	}
	send(100, 80*time.Millisecond)
	if j.wait != 90*time.Millisecond {
		t.Errorf("wait %v at 80 ms of spread, want 90ms", j.wait)
	}
	send(300, 0)
	if j.wait != 40*time.Millisecond {
		t.Errorf("wait %v 6 s after the jitter stopped, want the least, 40ms", j.wait)
	}
	send(100, time.Second/2)
	if j.wait != 300*time.Millisecond {
		t.Errorf("wait %v at 500 ms of spread, want the most, 300ms", j.wait)
	}
	if j.n.lost != 0 || j.n.late != 0 {
		t.Errorf("counts %+v: packets lost or late", j.n)
	}
}
