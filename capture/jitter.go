package capture

import (
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// Jitter buffer sizes.
const (
	ringSize    = 64   // packets held at most (a power of two)
	histSize    = 1024 // sequence numbers remembered after play-out (a power of two)
	maxDropout  = 3000 // a jump further than this is a sequence restart (RFC 3550 A.1)
	maxMisorder = 1000 // further back than this is a restart, not a late packet
)

// The delay estimate: transit times of the last spreadBlocks blocks of
// blockLen audio packets (4-5 s at 20 ms).
const (
	blockLen     = 50
	spreadBlocks = 5
	// spreadMargin is added to the measured spread of transit times.
	spreadMargin = 10 * time.Millisecond
	// transitJump is a change of transit time between two packets that is
	// no network's jitter (a timestamp jump): the estimate starts over.
	transitJump = time.Second
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

// spread estimates how much the network delays packets: the spread of
// their transit times (arrival minus media timestamp) over the last few
// seconds, the way Asterisk's adaptive jitterbuf sizes itself from a
// history of delays; and the RFC 3550 interarrival jitter, for the books.
type spread struct {
	blocks  [spreadBlocks]struct{ lo, hi int64 } // transit, µs
	cur, n  int                                  // the block being filled, packets in it
	total   int                                  // packets in the estimate, up to a full window
	tsExt   int64                                // extended timestamp of the last audio packet
	lastTS  uint32
	last    int64   // transit of the last audio packet, µs
	jitter  float64 // RFC 3550 interarrival jitter, µs
	started bool
}

// add takes one audio packet's arrival.
func (s *spread) add(now time.Time, ts uint32) {
	if s.started {
		s.tsExt += int64(int32(ts - s.lastTS))
	}
	s.lastTS = ts
	transit := now.UnixMicro() - s.tsExt*1_000_000/msg.SampleRate
	if s.started {
		d := transit - s.last
		if d < 0 {
			d = -d
		}
		if d > transitJump.Microseconds() {
			s.reset()
		} else {
			s.jitter += (float64(d) - s.jitter) / 16
		}
	}
	s.started, s.last = true, transit
	b := &s.blocks[s.cur]
	if s.n == 0 {
		b.lo, b.hi = transit, transit
	}
	b.lo, b.hi = min(b.lo, transit), max(b.hi, transit)
	s.n++
	s.total = min(s.total+1, blockLen*spreadBlocks)
	if s.n == blockLen {
		s.cur = (s.cur + 1) % spreadBlocks
		s.n = 0
	}
}

func (s *spread) reset() {
	s.cur, s.n, s.total = 0, 0, 0
}

// target is how long a missing packet is waited for: the spread of transit
// times plus a margin, within [lo, hi]; hi until a block of packets has
// been seen.
func (s *spread) target(lo, hi time.Duration) time.Duration {
	if s.total < blockLen {
		return hi
	}
	first, last := int64(1<<62), int64(-1<<62)
	blocks := min(s.total/blockLen+1, spreadBlocks)
	for i := 0; i < blocks; i++ {
		k := (s.cur - i + spreadBlocks) % spreadBlocks
		if k == s.cur && s.n == 0 {
			continue
		}
		first, last = min(first, s.blocks[k].lo), max(last, s.blocks[k].hi)
	}
	return min(max(time.Duration(last-first)*time.Microsecond+spreadMargin, lo), hi)
}

// jitter puts one stream's packets in order. It holds the packets after a
// missing one until the missing one comes or the first of them has waited
// the target delay, which adapts to the measured spread of transit times
// within [minWait, maxWait]. It is not safe for concurrent use; its owner
// serialises calls.
type jitter struct {
	minWait, maxWait time.Duration
	wait             time.Duration // the target delay now
	lastPush         time.Time
	quiet            bool // the last tick found no packet for longer than wait
	started          bool
	primed           bool  // play-out began: an earlier packet is late
	next             int64 // extended sequence number to play next
	max              int64 // highest extended sequence number taken
	queued           int
	ring             [ringSize]slot
	hist             [histSize / 64]uint64 // received bits of sequence numbers before next
	stray            int64                 // candidate restart point, -1 when none
	delay            spread
	n                jitterCounts
}

func newJitter(minWait, maxWait time.Duration) *jitter {
	return &jitter{minWait: minWait, maxWait: maxWait, wait: maxWait, stray: -1}
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

func (j *jitter) markReceived(ext int64) {
	i := ext & (histSize - 1)
	j.hist[i/64] |= 1 << (i % 64)
}

func (j *jitter) clearHist(ext int64) {
	i := ext & (histSize - 1)
	j.hist[i/64] &^= 1 << (i % 64)
}

func (j *jitter) wasReceived(ext int64) bool {
	i := ext & (histSize - 1)
	return j.hist[i/64]&(1<<(i%64)) != 0
}

// push takes one packet and calls out for everything that can now be
// played, in order. payload is copied when it must be held.
func (j *jitter) push(now time.Time, seq uint16, ts uint32, pt uint8, payload []byte, out func(played)) {
	j.n.received++
	j.lastPush = now
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
		switch {
		case j.stray == int64(seq):
			j.n.duplicate++
			return
		case j.stray >= 0 && int64(seq) == (j.stray+1)&0xffff:
			j.flush(out)
			j.max = 1<<16 | int64(seq)
			j.next = j.max
			j.hist = [histSize / 64]uint64{}
			j.stray = -1
			j.primed = false
			j.delay.reset()
			ext = j.max
		default:
			j.stray = int64(seq)
			j.n.late++
			return
		}
	}
	j.stray = -1
	if ext < j.next && !j.primed && j.max-ext < ringSize {
		j.next = ext // before play-out began: an earlier packet came later
	}
	if ext < j.next {
		if j.next-ext < histSize && j.wasReceived(ext) {
			j.n.duplicate++
		} else {
			j.n.late++
			if j.next-ext < histSize {
				j.markReceived(ext) // a copy of it is a duplicate
			}
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
	if !now.IsZero() && (pt == ptPCMU || pt == ptPCMA) {
		j.delay.add(now, ts)
		j.wait = j.delay.target(j.minWait, j.maxWait)
	}
	// Fast path: the packet to play next, nothing waiting.
	if ext == j.next && j.queued == 0 && j.primed {
		j.markReceived(ext)
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
	j.primed = true
	s := &j.ring[j.next&(ringSize-1)]
	if s.used && s.ext == j.next {
		s.used = false
		j.queued--
		j.markReceived(j.next)
		out(played{pt: s.pt, ts: s.ts, payload: s.payload})
	} else {
		j.clearHist(j.next)
		j.n.lost++
		out(played{lost: true})
	}
	j.next++
}

// drain plays what is in order, and gives up on a missing packet once the
// first packet held after it waited the target delay. The stream's first
// packets are held that long too, for an earlier one that comes later.
func (j *jitter) drain(now time.Time, out func(played)) {
	if !j.primed && !j.overdue(now) {
		return
	}
	for j.queued > 0 {
		s := &j.ring[j.next&(ringSize-1)]
		if !(s.used && s.ext == j.next) && !j.overdue(now) {
			return
		}
		j.playOne(out)
	}
}

// overdue reports whether the first buffered packet has waited longer than
// the target delay.
func (j *jitter) overdue(now time.Time) bool {
	if now.IsZero() {
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

// tick plays out what waited too long once the stream has gone quiet for
// longer than the wait at two ticks in a row. While packets come, pushes
// decide: a packet read from the socket proves that those sent before it
// were read, whereas a tick may run while the socket's reader lags (a busy
// machine) with the missing packet waiting to be read.
func (j *jitter) tick(now time.Time, out func(played)) {
	quiet := !now.IsZero() && now.Sub(j.lastPush) > j.wait
	if quiet && j.quiet {
		j.drain(now, out)
	}
	j.quiet = quiet
}

// flush plays out everything held, concealing the gaps.
func (j *jitter) flush(out func(played)) {
	for j.queued > 0 {
		j.playOne(out)
	}
}
