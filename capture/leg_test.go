package capture

import (
	"math"
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

type recSink struct{ jobs []*msg.UtteranceJob }

func (r *recSink) job(_ *leg, j *msg.UtteranceJob) {
	if !j.Interim {
		r.jobs = append(r.jobs, j)
	}
}
func (r *recSink) talkStart(*leg, int64)               {}
func (r *recSink) talkEnd(*leg, int64, int64, float64) {}

// TestLongSilenceGapsOnlyMoveTheClock: a 4 s timestamp gap filled while
// idle gives the same turns as 4 s of silent packets.
func TestLongSilenceGapsOnlyMoveTheClock(t *testing.T) {
	cfg := Config{}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	p := cfg.vadParams()
	tone := make([]int16, 8000)
	for i := range tone {
		tone[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	run := func(fill func(l *leg)) []*msg.UtteranceJob {
		sink := &recSink{}
		l := &leg{call: &call{id: "c"}, role: msg.RoleA, p: &p, sink: sink, floor: p.absEnergy}
		l.buf = append(l.buf, tone...)
		l.analyse()
		fill(l)
		l.buf = append(l.buf, tone...)
		l.analyse()
		l.finish()
		return sink.jobs
	}
	gap := run(func(l *leg) { l.silence(4 * 8000) })
	packets := run(func(l *leg) {
		for i := 0; i < 4*8000/160; i++ {
			l.buf = append(l.buf, make([]int16, 160)...)
			l.analyse()
		}
	})
	if len(gap) != 2 || len(packets) != 2 {
		t.Fatalf("%d and %d jobs, want 2 each", len(gap), len(packets))
	}
	for i := range gap {
		g, p := gap[i], packets[i]
		if g.StartMS != p.StartMS || g.EndMS != p.EndMS || len(g.PCM) != len(p.PCM) {
			t.Errorf("job %d: %d..%d ms (%d samples) from a gap, %d..%d ms (%d) from packets", i, g.StartMS, g.EndMS, len(g.PCM), p.StartMS, p.EndMS, len(p.PCM))
		}
	}
	if gap[1].StartMS != 5000-cfg.PreRoll.Milliseconds() {
		t.Errorf("second turn starts at %d ms, want %d", gap[1].StartMS, 5000-cfg.PreRoll.Milliseconds())
	}
}
