package sender_test

import (
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/earshot-dev/earshot/capture/sender"
)

// soxWAV makes a WAV with sox (a 1 kHz tone of 0.5 s) or skips.
func soxWAV(t *testing.T, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("sox"); err != nil {
		t.Skip("sox is not installed")
	}
	p := filepath.Join(t.TempDir(), name)
	all := append([]string{"-n"}, args...)
	all = append(all, p, "synth", "0.5", "sine", "1000", "vol", "0.5")
	if b, err := exec.Command("sox", all...).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, b)
	}
	return p
}

func TestReadWAVConvertsToNarrowbandMono(t *testing.T) {
	for _, args := range [][]string{
		{"-r", "8000", "-c", "1", "-b", "16"},
		{"-r", "16000", "-c", "1", "-b", "16"},
		{"-r", "44100", "-c", "2", "-b", "16"},
	} {
		pcm, err := sender.ReadWAVFile(soxWAV(t, "t.wav", args...))
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if len(pcm) < 3990 || len(pcm) > 4000 {
			t.Errorf("%v: %d samples, want 0.5 s at 8 kHz", args, len(pcm))
		}
		// The tone survives: RMS of a 0.5-amplitude sine is 0.354 of full scale.
		var sum float64
		for _, s := range pcm[200 : len(pcm)-200] {
			sum += float64(s) * float64(s)
		}
		if rms := math.Sqrt(sum/float64(len(pcm)-400)) / 32768; rms < 0.33 || rms > 0.37 {
			t.Errorf("%v: tone RMS %.3f of full scale, want 0.354", args, rms)
		}
	}
	// A tone above the new Nyquist frequency is filtered out, not aliased.
	if _, err := exec.LookPath("sox"); err == nil {
		p := filepath.Join(t.TempDir(), "hi.wav")
		if b, err := exec.Command("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", p, "synth", "0.5", "sine", "6000", "vol", "0.5").CombinedOutput(); err != nil {
			t.Fatalf("sox: %v %s", err, b)
		}
		pcm, err := sender.ReadWAVFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, s := range pcm[200 : len(pcm)-200] {
			sum += float64(s) * float64(s)
		}
		if rms := math.Sqrt(sum/float64(len(pcm)-400)) / 32768; rms > 0.01 {
			t.Errorf("a 6 kHz tone comes out at RMS %.3f of full scale; it should be filtered out", rms)
		}
	}
}

func TestReadWAVRefusesWhatItCannotSend(t *testing.T) {
	for _, args := range [][]string{{"-r", "4000", "-c", "1", "-b", "16"}, {"-r", "8000", "-c", "1", "-e", "floating-point", "-b", "32"}} {
		_, err := sender.ReadWAVFile(soxWAV(t, "bad.wav", args...))
		if !errors.Is(err, sender.ErrWAV) {
			t.Errorf("%v: %v, want ErrWAV", args, err)
		}
	}
}
