package audiosocket

import "math"

// decimator turns 16 kHz samples into 8 kHz: a 31-tap windowed-sinc
// low-pass (cut-off 3.6 kHz, Hamming) and every other sample, keeping its
// history across frames.
type decimator struct {
	taps []float64
	x    []float64 // the last len(taps)-1 input samples, then the new ones
	next int       // index in x of the next output's newest input
}

func newDecimator() *decimator {
	const n = 31
	taps := make([]float64, n)
	fc := 3600.0 / 16000
	sum := 0.0
	for i := range taps {
		m := float64(i - (n-1)/2)
		sinc := 2 * fc
		if m != 0 {
			sinc = math.Sin(2*math.Pi*fc*m) / (math.Pi * m)
		}
		taps[i] = sinc * (0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/(n-1)))
		sum += taps[i]
	}
	for i := range taps {
		taps[i] /= sum
	}
	return &decimator{taps: taps, x: make([]float64, n-1), next: n - 1}
}

// run appends the 8 kHz samples of in to dst.
func (d *decimator) run(dst, in []int16) []int16 {
	for _, s := range in {
		d.x = append(d.x, float64(s))
	}
	n := len(d.taps)
	i := d.next
	for ; i < len(d.x); i += 2 {
		acc := 0.0
		for k, t := range d.taps {
			acc += t * d.x[i-k]
		}
		dst = append(dst, int16(max(-32768, min(32767, math.Round(acc)))))
	}
	drop := len(d.x) - (n - 1)
	copy(d.x, d.x[drop:])
	d.x = d.x[:n-1]
	d.next = i - drop
	return dst
}
