package capture_test

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/internal/sharedtest"
	"github.com/earshot-dev/earshot/msg"
)

// span is a stretch of speech in ms.
type span struct{ start, end int64 }

// truthSpans measures where the speech of a whole recording is, offline
// and looking at all of it at once (unlike capture's causal VAD): 10 ms
// frames, a frame is speech when its energy is within 35 dB of the loudest
// frame of the file, and speech runs closer than mergeMS are one sentence.
func truthSpans(pcm []int16, mergeMS int64) []span {
	const f = 80 // 10 ms
	n := len(pcm) / f
	e := make([]float64, n)
	peak := 0.0
	for i := range e {
		for _, s := range pcm[i*f : (i+1)*f] {
			e[i] += float64(s) * float64(s)
		}
		peak = math.Max(peak, e[i])
	}
	thr := peak * math.Pow(10, -35.0/10)
	var out []span
	for i := 0; i < n; i++ {
		if e[i] < thr {
			continue
		}
		s := int64(i * 10)
		for i < n && e[i] >= thr {
			i++
		}
		end := int64(i * 10)
		if len(out) > 0 && s-out[len(out)-1].end < mergeMS {
			out[len(out)-1].end = end
		} else {
			out = append(out, span{s, end})
		}
	}
	// Drop blips shorter than 100 ms.
	var keep []span
	for _, sp := range out {
		if sp.end-sp.start >= 100 {
			keep = append(keep, sp)
		}
	}
	return keep
}

// sendAndCollect sends pcm as one leg of an undeclared call into a capture
// and returns that call's events.
func sendAndCollect(t *testing.T, cfg capture.Config, legs ...sender.Leg) *callEvents {
	t.Helper()
	r := newRig(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sender.Send(ctx, sender.SendConfig{To: r.addr, Legs: legs, Speed: sender.Speed{Factor: 20}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.waitEnded(1, 30*time.Second) {
		return c
	}
	panic("unreachable")
}

// checkSentences wants one final job per truth span, each within 150 ms.
func checkSentences(t *testing.T, c *callEvents, leg msg.Role, truth []span) {
	t.Helper()
	jobs := c.Finals(leg)
	if len(jobs) != len(truth) {
		for _, j := range jobs {
			t.Logf("job %s: %d..%d ms", j.ID(), j.StartMS, j.EndMS)
		}
		t.Fatalf("%d final jobs, want one per sentence: %d (truth %v)", len(jobs), len(truth), truth)
	}
	for i, j := range jobs {
		ds, de := j.StartMS-truth[i].start, j.EndMS-truth[i].end
		t.Logf("sentence %d: truth %d..%d ms, job %d..%d ms (%+d, %+d)", i+1, truth[i].start, truth[i].end, j.StartMS, j.EndMS, ds, de)
		if ds < -150 || ds > 150 || de < -150 || de > 150 {
			t.Errorf("sentence %d: job %d..%d ms is more than 150 ms off the truth %d..%d ms", i+1, j.StartMS, j.EndMS, truth[i].start, truth[i].end)
		}
	}
}

func TestOSRSentencesBecomeOneJobEach(t *testing.T) {
	pcm, err := sender.ReadWAVFile(sharedtest.Path(t, "data/speech/osr-8k/OSR_us_000_0034_8k.wav"))
	if err != nil {
		t.Fatal(err)
	}
	// The last sentence has a 600 ms pause at its comma; the sentences are
	// at least 830 ms apart.
	truth := truthSpans(pcm, 700)
	if len(truth) != 10 {
		t.Fatalf("the offline analysis finds %d sentences, the file has 10: %v", len(truth), truth)
	}
	c := sendAndCollect(t, capture.Config{}, sender.Leg{Role: msg.RoleCustomer, PCM: pcm})
	checkSentences(t, c, msg.RoleA, truth)
	checkInterims(t, c)
}

// checkInterims wants every interim job to be the start of its part's
// final job, with revisions counting up from 1, published before the final.
func checkInterims(t *testing.T, c *callEvents) {
	t.Helper()
	rev := map[string]int{}
	finals := map[string]*msg.UtteranceJob{}
	n := 0
	for _, j := range c.Jobs {
		if !j.Interim {
			finals[j.ID()] = j
			continue
		}
		n++
		if finals[j.ID()] != nil {
			t.Errorf("interim %s rev %d after its final", j.ID(), j.Rev)
		}
		if j.Rev != rev[j.ID()]+1 {
			t.Errorf("interim %s rev %d after rev %d", j.ID(), j.Rev, rev[j.ID()])
		}
		rev[j.ID()] = j.Rev
	}
	for _, j := range c.Jobs {
		f := finals[j.ID()]
		if !j.Interim {
			continue
		}
		if f == nil {
			t.Errorf("interim %s has no final", j.ID())
			continue
		}
		if j.StartMS != f.StartMS || len(j.PCM) > len(f.PCM) || indexOf(f.PCM[:len(j.PCM)], j.PCM) != 0 {
			t.Errorf("interim %s rev %d (%d..%d ms) is not the start of its final (%d..%d ms)", j.ID(), j.Rev, j.StartMS, j.EndMS, f.StartMS, f.EndMS)
		}
	}
	if n == 0 {
		t.Error("no interim jobs, though sentences are longer than 2 s")
	}
}

// espeak synthesises text as 8 kHz mono 16-bit PCM.
func espeak(t *testing.T, dir, name, text string) []int16 {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng is not installed (apt-get install espeak-ng)")
	}
	if _, err := exec.LookPath("sox"); err != nil {
		t.Skip("sox is not installed (apt-get install sox)")
	}
	raw := filepath.Join(dir, name+"-raw.wav")
	out := filepath.Join(dir, name+".wav")
	if b, err := exec.Command("espeak-ng", "-v", "en-us", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, b)
	}
	if b, err := exec.Command("sox", raw, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", out).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, b)
	}
	pcm, err := sender.ReadWAVFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

func TestEspeakSentencesBecomeOneJobEach(t *testing.T) {
	dir := t.TempDir()
	sentences := []string{
		"Thank you for calling, my name is Anna, how can I help you today?",
		"I would like to check the balance of my account.",
		"Of course. Can you tell me your date of birth, please?",
		"It is the fourth of July, nineteen eighty two.",
	}
	var pcm []int16
	gap := make([]int16, 8000*13/10) // 1.3 s between sentences
	pcm = append(pcm, gap[:4000]...)
	for i, s := range sentences {
		pcm = append(pcm, espeak(t, dir, fmt.Sprint(i), s)...)
		pcm = append(pcm, gap...)
	}
	truth := truthSpans(pcm, 500)
	if len(truth) != len(sentences) {
		t.Fatalf("the offline analysis finds %d sentences, want %d: %v", len(truth), len(sentences), truth)
	}
	c := sendAndCollect(t, capture.Config{}, sender.Leg{Role: msg.RoleAgent, PCM: pcm})
	checkSentences(t, c, msg.RoleA, truth)
}
