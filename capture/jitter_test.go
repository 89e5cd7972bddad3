package capture

import (
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

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJitter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		run  func(tr *trace)
		want []int
		n    jitterCounts
	}{
		{"in order", func(tr *trace) { tr.push(t0, 1, 2, 3) }, []int{1, 2, 3}, jitterCounts{received: 3}},
		{"swap", func(tr *trace) { tr.push(t0, 1, 3, 2, 4) }, []int{1, 2, 3, 4}, jitterCounts{received: 4, reordered: 1}},
		{"loss given up at depth", func(tr *trace) { tr.push(t0, 1, 3, 4, 5) }, []int{1, -1, 3, 4, 5}, jitterCounts{received: 4, lost: 1}},
		{"late after loss", func(tr *trace) { tr.push(t0, 1, 3, 4, 5, 2) }, []int{1, -1, 3, 4, 5}, jitterCounts{received: 5, lost: 1, late: 1}},
		{"duplicate held and played", func(tr *trace) { tr.push(t0, 1, 3, 3, 2, 2) }, []int{1, 2, 3}, jitterCounts{received: 5, reordered: 1, duplicate: 2}},
		{"wrap", func(tr *trace) { tr.push(t0, 65534, 65535, 0, 1) }, []int{65534, 65535, 0, 1}, jitterCounts{received: 4}},
		{"reorder across wrap", func(tr *trace) { tr.push(t0, 65534, 0, 65535, 1) }, []int{65534, 65535, 0, 1}, jitterCounts{received: 4, reordered: 1}},
		{"restart after two in a row", func(tr *trace) { tr.push(t0, 10, 11, 30000, 30001, 30002) }, []int{10, 11, 30001, 30002}, jitterCounts{received: 5, late: 1}},
		{"stray far packet dropped", func(tr *trace) { tr.push(t0, 10, 11, 30000, 12) }, []int{10, 11, 12}, jitterCounts{received: 4, late: 1}},
		{"waited too long", func(tr *trace) {
			tr.push(t0, 1, 3)
			tr.j.tick(t0.Add(50*time.Millisecond), tr.play)
			tr.j.tick(t0.Add(150*time.Millisecond), tr.play)
		}, []int{1, -1, 3}, jitterCounts{received: 2, lost: 1}},
		{"flush", func(tr *trace) {
			tr.push(t0, 1, 4)
			tr.j.flush(tr.play)
		}, []int{1, -1, -1, 4}, jitterCounts{received: 2, lost: 2}},
	} {
		tr := &trace{j: newJitter(3, 100*time.Millisecond)}
		tc.run(tr)
		if !equal(tr.out, tc.want) || tr.j.n != tc.n {
			t.Errorf("%s: played %v counts %+v; want %v %+v", tc.name, tr.out, tr.j.n, tc.want, tc.n)
		}
	}
}
