package capture

import "time"

// Jitter buffer sizes.
const (
	ringSize    = 64   // packets held at most (a power of two)
	histSize    = 1024 // sequence numbers remembered after play-out (a power of two)
	maxDropout  = 3000 // a jump further than this is a sequence restart (RFC 3550 A.1)
	maxMisorder = 1000 // further back than this is a restart, not a late packet
)

// jitterCounts are a stream's packet counters.
type jitterCounts struct {
	received, lost, late, duplicate, reordered uint64
}

// slot holds one buffered packet.
type slot struct {
	used    bool
	ext     int64
	pt      uint8
	ts      uint32
	arrived time.Time
	payload []byte
}

// played is what the jitter buffer hands on, in sequence order: a packet,
// or (lost) the place of one that never came in time.
type played struct {
	lost    bool
	pt      uint8
	ts      uint32
	payload []byte
}

// jitter puts one stream's packets in order. It is not safe for concurrent
// use; its owner serialises calls.
type jitter struct {
	depth   int
	wait    time.Duration
	started bool
	next    int64 // extended sequence number to play next
	max     int64 // highest extended sequence number taken
	queued  int
	ring    [ringSize]slot
	hist    [histSize / 64]uint64 // received bits of played sequence numbers
	stray   int64                 // candidate restart point, -1 when none
	n       jitterCounts
}

func newJitter(depth int, wait time.Duration) *jitter {
	return &jitter{depth: depth, wait: wait, stray: -1}
}

// extend turns a 16-bit sequence number into the extended one closest to
// the highest taken so far.
func (j *jitter) extend(seq uint16) int64 {
	ext := j.max&^0xffff | int64(seq)
	switch d := ext - j.max; {
	case d > 1<<15:
		ext -= 1 << 16
	case d < -(1 << 15):
		ext += 1 << 16
	}
	return ext
}

func (j *jitter) markPlayed(ext int64) {
	i := ext & (histSize - 1)
	j.hist[i/64] |= 1 << (i % 64)
}

func (j *jitter) clearHist(ext int64) {
	i := ext & (histSize - 1)
	j.hist[i/64] &^= 1 << (i % 64)
}

func (j *jitter) wasPlayed(ext int64) bool {
	i := ext & (histSize - 1)
	return j.hist[i/64]&(1<<(i%64)) != 0
}

// push takes one packet and calls out for everything that can now be
// played, in order. payload is copied when it must be held.
func (j *jitter) push(now time.Time, seq uint16, ts uint32, pt uint8, payload []byte, out func(played)) {
	j.n.received++
	if !j.started {
		j.started = true
		j.max = 1<<16 | int64(seq) // keep extended numbers positive across early wraps
		j.next = j.max
	}
	ext := j.extend(seq)
	d := ext - j.max
	if d > maxDropout || d < -maxMisorder {
		// A stray packet far away, or the sequence restarted: restart
		// only when the next packet follows it.
		if j.stray >= 0 && int64(seq) == (j.stray+1)&0xffff {
			j.flush(out)
			j.max = 1<<16 | int64(seq)
			j.next = j.max
			j.hist = [histSize / 64]uint64{}
			j.stray = -1
			ext = j.max
		} else {
			j.stray = int64(seq)
			j.n.late++
			return
		}
	}
	j.stray = -1
	if ext < j.next {
		if j.next-ext < histSize && j.wasPlayed(ext) {
			j.n.duplicate++
		} else {
			j.n.late++
		}
		return
	}
	s := &j.ring[ext&(ringSize-1)]
	if s.used && s.ext == ext {
		j.n.duplicate++
		return
	}
	if ext < j.max {
		j.n.reordered++
	} else {
		j.max = ext
	}
	// Fast path: the packet to play next, nothing waiting.
	if ext == j.next && j.queued == 0 {
		j.markPlayed(ext)
		j.next++
		out(played{pt: pt, ts: ts, payload: payload})
		return
	}
	// Make room: a packet this far ahead forces the oldest places out.
	for ext-j.next >= ringSize {
		j.playOne(out)
	}
	s = &j.ring[ext&(ringSize-1)]
	s.used, s.ext, s.pt, s.ts, s.arrived = true, ext, pt, ts, now
	s.payload = append(s.payload[:0], payload...)
	j.queued++
	j.drain(now, out)
}

// playOne plays the next place: its packet, or a loss.
func (j *jitter) playOne(out func(played)) {
	s := &j.ring[j.next&(ringSize-1)]
	if s.used && s.ext == j.next {
		s.used = false
		j.queued--
		j.markPlayed(j.next)
		out(played{pt: s.pt, ts: s.ts, payload: s.payload})
	} else {
		j.clearHist(j.next)
		j.n.lost++
		out(played{lost: true})
	}
	j.next++
}

// drain plays what is in order, and gives up on a missing packet when the
// buffer holds depth packets after it or its successor waited too long.
func (j *jitter) drain(now time.Time, out func(played)) {
	for j.queued > 0 {
		s := &j.ring[j.next&(ringSize-1)]
		if s.used && s.ext == j.next {
			j.playOne(out)
			continue
		}
		if j.max-j.next < int64(j.depth) && !j.overdue(now) {
			return
		}
		j.playOne(out)
	}
}

// overdue reports whether a buffered packet has waited longer than wait.
func (j *jitter) overdue(now time.Time) bool {
	if j.wait <= 0 || now.IsZero() {
		return false
	}
	for e := j.next; e <= j.max; e++ {
		s := &j.ring[e&(ringSize-1)]
		if s.used && s.ext == e {
			return now.Sub(s.arrived) > j.wait
		}
	}
	return false
}

// tick plays out what waited too long.
func (j *jitter) tick(now time.Time, out func(played)) { j.drain(now, out) }

// flush plays out everything held, concealing the gaps.
func (j *jitter) flush(out func(played)) {
	for j.queued > 0 {
		j.playOne(out)
	}
}
