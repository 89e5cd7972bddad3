package capture_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/pcap"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/zaf/g711"
)

// offlineDecode decodes a stream's packets the simple way: in extended
// sequence order, a missing packet as 160 samples of silence, a timestamp
// gap of up to 5 s as silence.
func offlineDecode(t *testing.T, pkts []pcap.Packet) []int16 {
	t.Helper()
	type p struct {
		ext     int64
		ts      uint32
		pt      uint8
		payload []byte
	}
	var ps []p
	var last int64 = -1
	seen := map[int64]bool{}
	for _, k := range pkts {
		seq := int64(binary.BigEndian.Uint16(k.Data[2:4]))
		ext := seq
		if last >= 0 {
			ext = last&^0xffff | seq
			if ext-last > 1<<15 {
				ext -= 1 << 16
			} else if last-ext > 1<<15 {
				ext += 1 << 16
			}
		}
		if ext > last {
			last = ext
		}
		if seen[ext] {
			continue
		}
		seen[ext] = true
		cc := int(k.Data[0] & 0x0f)
		ps = append(ps, p{ext, binary.BigEndian.Uint32(k.Data[4:8]), k.Data[1] & 0x7f, k.Data[12+4*cc:]})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].ext < ps[j].ext })
	var out []int16
	var expect uint32
	for i, k := range ps {
		if i > 0 {
			for m := ps[i-1].ext + 1; m < k.ext; m++ {
				out = append(out, make([]int16, 160)...)
				expect += 160
			}
			if gap := int32(k.ts - expect); gap > 0 && gap <= 40000 {
				out = append(out, make([]int16, gap)...)
			}
		}
		for _, b := range k.payload {
			if k.pt == 8 {
				out = append(out, g711.DecodeAlawFrame(b))
			} else {
				out = append(out, g711.DecodeUlawFrame(b))
			}
		}
		expect = k.ts + uint32(len(k.payload))
	}
	return out
}

// indexOf finds needle in hay.
func indexOf(hay, needle []int16) int {
outer:
	for i := 0; i+len(needle) <= len(hay); i++ {
		for k, s := range needle {
			if hay[i+k] != s {
				continue outer
			}
		}
		return i
	}
	return -1
}

func TestReplaySIPCallIntoCapture(t *testing.T) {
	file := sharedtest.Path(t, "data/pcaps/SIP_CALL_RTP_G711.pcap")
	r := newRig(t, capture.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calls, err := sender.ReplayFile(ctx, file, sender.ReplayConfig{
		To: []netip.AddrPort{r.addr}, Speed: sender.Speed{Factor: 20}, Calls: []string{"12013223@200.57.7.195"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || len(calls[0].Streams) != 2 {
		t.Fatalf("replayed %d calls (%+v), want one of two streams", len(calls), calls)
	}
	got := r.waitEnded(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d calls, want 1", len(got))
	}
	for id, c := range got {
		if c.Started == nil || c.Ended == nil {
			t.Fatalf("call %s: started %v ended %v", id, c.Started, c.Ended)
		}
		if c.Ended.Reason != msg.EndBye {
			t.Errorf("call %s ended by %q, want %q", id, c.Ended.Reason, msg.EndBye)
		}
		if c.Ended.DurationMS < 26000 || c.Ended.DurationMS > 27500 {
			t.Errorf("call %s lasted %d ms, want the capture's 26.4 s however fast it was replayed", id, c.Ended.DurationMS)
		}
		if len(c.Ended.Legs) != 2 || len(c.Ended.Streams) != 2 {
			t.Fatalf("call %s: legs %+v streams %+v, want two of each", id, c.Ended.Legs, c.Ended.Streams)
		}
		finals := 0
		legOffset := map[msg.Role]int64{} // ms, from the jobs
		firstAt := map[msg.Role]time.Duration{}
		for _, st := range c.Ended.Streams {
			var rs *sender.ReplayedStream
			for i := range calls[0].Streams {
				if calls[0].Streams[i].SSRC == st.SSRC {
					rs = &calls[0].Streams[i]
				}
			}
			if rs == nil {
				t.Fatalf("stream %08x was not replayed", st.SSRC)
			}
			if st.Received != uint64(len(rs.Packets)) || st.Lost != 0 || st.Duplicate != 0 || st.Late != 0 || st.Refused != 0 {
				t.Errorf("leg %s: stats %+v, want %d received and nothing else", st.Leg, st, len(rs.Packets))
			}
			firstAt[st.Leg] = rs.Packets[0].At
			ref := offlineDecode(t, rs.Packets)
			jobs := c.Finals(st.Leg)
			if len(jobs) != c.Ended.FinalJobs[st.Leg] {
				t.Errorf("leg %s: %d final jobs seen, ended event says %d", st.Leg, len(jobs), c.Ended.FinalJobs[st.Leg])
			}
			if len(jobs) == 0 {
				t.Errorf("leg %s: no utterance jobs", st.Leg)
			}
			finals += len(jobs)
			prevEnd := -1
			var offset int64 = -1
			for _, j := range jobs {
				i := indexOf(ref, j.PCM)
				if i < 0 {
					t.Fatalf("job %s: %d samples not found in the offline decode of %08x", j.ID(), len(j.PCM), st.SSRC)
				}
				if i < prevEnd {
					t.Errorf("job %s starts at sample %d, before the previous job ended (%d)", j.ID(), i, prevEnd)
				}
				prevEnd = i + len(j.PCM)
				// The leg's place on the call clock is fixed: every job
				// sits at the same offset from the offline decode.
				off := j.StartMS - int64(i)/8
				if offset < 0 {
					offset = off
				} else if d := off - offset; d < -1 || d > 1 {
					t.Errorf("job %s at %d ms is %d ms off the leg's clock", j.ID(), j.StartMS, d)
				}
				t.Logf("leg %s job %s: %d..%d ms, sample %d", st.Leg, j.ID(), j.StartMS, j.EndMS, i)
			}
			legOffset[st.Leg] = offset
		}
		// Replayed 20 times faster than real time, the legs still start as
		// far apart on the call clock as in the capture.
		want := (firstAt[msg.RoleB] - firstAt[msg.RoleA]).Milliseconds()
		t.Logf("leg b starts %d ms after leg a in the capture, %d ms on the call clock", want, legOffset[msg.RoleB]-legOffset[msg.RoleA])
		if got := legOffset[msg.RoleB] - legOffset[msg.RoleA]; got-want > 60 || want-got > 60 {
			t.Errorf("leg b starts %d ms after leg a on the call clock, %d ms in the capture", got, want)
		}
		total := uint64(len(c.Jobs))
		if n := r.audioInStream(); n != total {
			t.Errorf("JetStream holds %d jobs, %d were published (%d finals)", n, total, finals)
		}
	}
}

// TestReplayReportsRefusedStreams: replayed to one port without announces,
// the SIP call takes the port's two streams and the short stream that
// starts during it is refused by capture; replay says so beforehand, and
// capture refuses exactly that stream's packets.
func TestReplayReportsRefusedStreams(t *testing.T) {
	file := sharedtest.Path(t, "data/pcaps/SIP_CALL_RTP_G711.pcap")
	r := newRig(t, capture.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calls, err := sender.ReplayFile(ctx, file, sender.ReplayConfig{To: []netip.AddrPort{r.addr}, Speed: sender.Speed{Factor: 20}})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || len(calls[0].Refused) != 0 || len(calls[1].Refused) != 1 {
		t.Fatalf("replayed %+v; want the SIP call taken and the short stream refused", calls)
	}
	r.waitEnded(1, 30*time.Second)
	want := uint64(len(calls[1].Refused[0].Packets))
	if got := r.cap.Refused(capture.ErrNoRoom); got != want {
		t.Fatalf("capture refused %d packets for no room, want %d (the stream replay reported)", got, want)
	}
}
