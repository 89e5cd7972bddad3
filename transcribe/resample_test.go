package transcribe

import (
	"errors"
	"math"
	"math/cmplx"
	"testing"
)

func tone(rate int, hz float64, n int, amp float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(amp * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return s
}

// levelDB is the amplitude, in dB relative to full scale, of the hz
// component of x (sampled at rate), measured on the middle of x with a
// Hann-windowed single-bin DFT.
func levelDB(x []float32, rate int, hz float64) float64 {
	x = x[len(x)/4 : 3*len(x)/4]
	var sum complex128
	var wsum float64
	for i, v := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(len(x)-1))
		wsum += w
		sum += complex(float64(v)*w, 0) * cmplx.Exp(complex(0, -2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return 20 * math.Log10(2*cmplx.Abs(sum)/wsum+1e-20)
}

func TestResample8kTo16k(t *testing.T) {
	r, err := NewResampler(8000, 16000)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.phases) != 2 {
		t.Fatalf("8k->16k has %d phases, want an exact 2x (2 phases)", len(r.phases))
	}
	if n0, n1 := len(r.phases[0]), len(r.phases[1]); min(n0, n1) != 1 {
		t.Errorf("half-band phases have %d and %d taps, want one of them a pure delay (1 tap)", n0, n1)
	}
	for _, tc := range []struct {
		hz        float64
		maxLossDB float64
		minImgDB  float64 // image attenuation at 8000-hz
	}{
		{300, 0.01, 80},
		{1000, 0.01, 80},
		{3400, 0.01, 80},
		{3900, 0.01, 80},
	} {
		in := tone(8000, tc.hz, 8000, 0.5)
		out := r.Resample(nil, in)
		if len(out) != 16000 {
			t.Fatalf("%v Hz: %d samples out, want 16000", tc.hz, len(out))
		}
		ref := 20 * math.Log10(0.5)
		pass := levelDB(out, 16000, tc.hz)
		img := levelDB(out, 16000, 8000-tc.hz)
		t.Logf("%4.0f Hz tone: passband %+.3f dB, image at %4.0f Hz %.1f dB below the tone", tc.hz, pass-ref, 8000-tc.hz, pass-img)
		if loss := ref - pass; math.Abs(loss) > tc.maxLossDB {
			t.Errorf("%v Hz tone changed by %.3f dB, want within %.2f dB", tc.hz, -loss, tc.maxLossDB)
		}
		if att := pass - img; att < tc.minImgDB {
			t.Errorf("%v Hz tone: image at %v Hz only %.1f dB down, want >= %.0f dB", tc.hz, 8000-tc.hz, att, tc.minImgDB)
		}
	}
}

func TestResampleAlignment(t *testing.T) {
	// An impulse stays where it was on the output's time axis.
	r, _ := NewResampler(8000, 16000)
	in := make([]float32, 800)
	in[400] = 1
	out := r.Resample(nil, in)
	peak := 0
	for i, v := range out {
		if v > out[peak] {
			peak = i
		}
	}
	if peak != 800 {
		t.Fatalf("impulse at input 400 peaks at output %d, want 800", peak)
	}
}

func TestResampleDown(t *testing.T) {
	// 44.1 kHz to 16 kHz: a 1 kHz tone passes, a 12 kHz tone (above the
	// new Nyquist frequency) is removed rather than aliased to 4 kHz.
	r, err := NewResampler(44100, 16000)
	if err != nil {
		t.Fatal(err)
	}
	in := tone(44100, 1000, 44100, 0.5)
	if got := levelDB(r.Resample(nil, in), 16000, 1000) - 20*math.Log10(0.5); math.Abs(got) > 0.05 {
		t.Errorf("1 kHz through 44.1k->16k changed by %.3f dB", got)
	}
	alias := levelDB(r.Resample(nil, tone(44100, 12000, 44100, 0.5)), 16000, 4000) - 20*math.Log10(0.5)
	t.Logf("12 kHz tone aliased to 4 kHz at %.1f dB", alias)
	if alias > -75 {
		t.Errorf("12 kHz tone aliases to 4 kHz at %.1f dB, want below -75 dB", alias)
	}
	if n := r.OutLen(44100); n != 16000 {
		t.Errorf("OutLen(44100) = %d", n)
	}
}

func TestResampleIdentityAndRates(t *testing.T) {
	r, err := NewResampler(16000, 16000)
	if err != nil {
		t.Fatal(err)
	}
	in := []float32{0.1, -0.2, 0.3}
	if out := r.Resample(nil, in); len(out) != 3 || out[1] != -0.2 {
		t.Fatalf("identity resample = %v", out)
	}
	for _, bad := range [][2]int{{0, 16000}, {8000, 1}, {1 << 20, 16000}} {
		if _, err := NewResampler(bad[0], bad[1]); !errors.Is(err, ErrRate) {
			t.Errorf("NewResampler(%d, %d) error = %v, want ErrRate", bad[0], bad[1], err)
		}
	}
}

func BenchmarkResample8kTo16k(b *testing.B) {
	r, _ := NewResampler(8000, 16000)
	in := tone(8000, 440, 10*8000, 0.3) // 10 s utterance
	dst := make([]float32, 0, r.OutLen(len(in)))
	b.SetBytes(int64(2 * len(in)))
	b.ReportAllocs()
	for b.Loop() {
		dst = r.Resample(dst[:0], in)
	}
}

// Resuming from the settled output of a shorter prefix gives exactly what
// resampling the whole input gives, at every pair of lengths.
func TestResampleResumes(t *testing.T) {
	for _, rates := range [][2]int{{8000, 16000}, {16000, 8000}, {44100, 16000}, {8000, 8000}} {
		r, err := NewResampler(rates[0], rates[1])
		if err != nil {
			t.Fatal(err)
		}
		src := tone(rates[0], 440, 3000, 0.3)
		for i, v := range tone(rates[0], 1234, len(src), 0.2) {
			src[i] += v
		}
		for _, n := range []int{0, 1, 7, 160, 999, 1600, 2999} {
			for _, m := range []int{n, n + 1, n + 37, 3000} {
				if m > len(src) || m < n {
					continue
				}
				prev := r.Resample(nil, src[:n])
				settled := r.Settled(n)
				if settled > len(prev) {
					t.Fatalf("%v: Settled(%d) = %d beyond the %d samples out", rates, n, settled, len(prev))
				}
				got := r.ResampleFrom(prev[:settled:settled], src[:m], settled)
				want := r.Resample(nil, src[:m])
				if len(got) != len(want) {
					t.Fatalf("%v: %d then %d samples: resumed %d out, whole %d", rates, n, m, len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%v: %d then %d samples: out[%d] resumed %g, whole %g", rates, n, m, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkResampleInterims is the resampling of one 10 s turn sent as
// interims every 2 s and its final: whole each time, or resumed.
func BenchmarkResampleInterims(b *testing.B) {
	r, _ := NewResampler(8000, 16000)
	in := tone(8000, 440, 10*8000, 0.3)
	for _, resume := range []bool{false, true} {
		b.Run(map[bool]string{false: "whole", true: "resumed"}[resume], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var prev []float32
				done := 0
				for end := 2 * 8000; end <= len(in); end += 2 * 8000 {
					from := 0
					if resume {
						from = r.Settled(done)
					}
					out := make([]float32, from, r.OutLen(end))
					copy(out, prev)
					prev = r.ResampleFrom(out, in[:end], from)
					done = end
				}
			}
		})
	}
}

// The resampler's fast paths (a dot product over the taps in input order,
// and the symmetric taps' half products) give what the filter's taps
// applied one by one give, for rates with symmetric and with asymmetric
// phases, from the first output sample to the last.
func TestResampleMatchesTapByTap(t *testing.T) {
	for _, rates := range [][2]int{{8000, 16000}, {8000, 44100}, {48000, 16000}} {
		r, err := NewResampler(rates[0], rates[1])
		if err != nil {
			t.Fatal(err)
		}
		src := make([]float32, 3000)
		for i := range src {
			src[i] = float32(math.Sin(float64(i)*0.37) * math.Cos(float64(i)*0.011))
		}
		got := r.Resample(nil, src)
		var worst float64
		for n := range got {
			taps, j0 := r.tap(n)
			var want float64
			for i, tp := range taps {
				// taps are in input order: the last meets src[j0].
				if j := j0 - (len(taps) - 1 - i); j >= 0 && j < len(src) {
					want += float64(tp) * float64(src[j])
				}
			}
			worst = max(worst, math.Abs(float64(got[n])-want))
		}
		if worst > 1e-5 {
			t.Errorf("%d -> %d Hz: an output sample differs by %g from its taps applied one by one", rates[0], rates[1], worst)
		}
	}
}
