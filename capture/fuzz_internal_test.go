package capture

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// FuzzJitter pushes a sequence of 16-bit sequence numbers through a jitter
// buffer and checks its books balance: every packet is played, a
// duplicate, or late; places are played in order, each once.
func FuzzJitter(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		j := newJitter(60*time.Millisecond, 300*time.Millisecond)
		var playedN, lostN uint64
		seen := map[uint32]bool{} // ts carries the push index
		out := func(p played) {
			if p.lost {
				lostN++
				return
			}
			playedN++
			if seen[p.ts] {
				t.Fatalf("packet pushed at %d played twice", p.ts)
			}
			seen[p.ts] = true
		}
		// Arrivals 0-15 ms apart (the low bits of the sequence byte), with
		// a tick every fourth packet: holds, give-ups and the wait's
		// estimate all run.
		now := time.Unix(1000, 0)
		for i := 0; i+1 < len(b); i += 2 {
			now = now.Add(time.Duration(b[i+1]&15) * time.Millisecond)
			j.push(now, binary.BigEndian.Uint16(b[i:]), uint32(i), 0, b[i:i+2], out)
			if i%8 == 6 {
				j.tick(now, out)
			}
		}
		j.flush(out)
		n := j.n
		if n.received != playedN+n.duplicate+n.late {
			t.Fatalf("received %d != played %d + duplicate %d + late %d", n.received, playedN, n.duplicate, n.late)
		}
		if n.lost != lostN {
			t.Fatalf("lost counter %d, %d losses played", n.lost, lostN)
		}
		if j.queued != 0 {
			t.Fatalf("%d packets still queued after flush", j.queued)
		}
	})
}

// FuzzRTCPBye checks the BYE reader never panics and that its errors are
// ErrMalformed.
func FuzzRTCPBye(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ssrcs, err := rtcpByeSSRCs(b)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		if len(ssrcs) > len(b)/4 {
			t.Fatalf("%d SSRCs from %d bytes", len(ssrcs), len(b))
		}
	})
}

// FuzzTelephoneEvent checks the RFC 4733 reader.
func FuzzTelephoneEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := parseTelephoneEvent(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if ev.Event != b[0] || ev.End != (b[1]&0x80 != 0) || ev.Duration != binary.BigEndian.Uint16(b[2:]) {
			t.Fatalf("event %+v from % x", ev, b[:4])
		}
		if d := digit(ev.Event); (ev.Event < 16) != (d != "") {
			t.Fatalf("event %d named %q", ev.Event, d)
		}
	})
}
