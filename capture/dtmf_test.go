package capture_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
)

func TestSIPpDTMFPcapsGiveDigitsAndNoAudio(t *testing.T) {
	r := newRig(t, capture.Config{})
	for name, want := range map[string]string{
		"0": "0", "1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "6": "6",
		"7": "7", "8": "8", "9": "9", "pound": "#", "star": "*",
	} {
		file := sharedtest.Path(t, "data/pcaps/sipp/dtmf_2833_"+name+".pcap")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		calls, err := sender.ReplayFile(ctx, file, sender.ReplayConfig{To: []netip.AddrPort{r.addr}, Speed: sender.Speed{Factor: 10}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for id, c := range r.waitEnded(1, 10*time.Second) {
			if len(c.DTMF) != 1 || c.DTMF[0].Digit != want {
				t.Errorf("%s: call %s: DTMF %+v, want the one digit %q", file, id, c.DTMF, want)
			} else if d := c.DTMF[0]; d.Leg != msg.RoleA || d.DurationMS <= 0 {
				t.Errorf("%s: DTMF %+v: want leg a and a duration", file, d)
			}
			if len(c.Jobs) != 0 || c.Ended.FinalJobs[msg.RoleA] != 0 {
				t.Errorf("%s: %d utterance jobs (final jobs %v), want none", file, len(c.Jobs), c.Ended.FinalJobs)
			}
			if st := c.Ended.Streams; len(st) != 1 || st[0].Received != uint64(len(calls[0].Streams[0].Packets)) || st[0].Refused != 0 || st[0].Lost != 0 {
				t.Errorf("%s: stream stats %+v", file, st)
			}
		}
	}
}
