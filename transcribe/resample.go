package transcribe

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Resampling limits: the rates a Resampler converts between.
const (
	MinRate = 4000
	MaxRate = 192000
)

// ErrRate is returned for a sample rate outside MinRate..MaxRate.
var ErrRate = errors.New("unsupported sample rate")

// Resampler converts audio between two sample rates with a polyphase
// windowed-sinc low-pass FIR (Kaiser window, 80 dB stopband). The cut-off
// sits at the lower of the two Nyquist frequencies with a transition band
// reaching 2.5% of it to each side, so for 8 kHz to 16 kHz (an exact 2x: two
// phases) a 3.9 kHz tone passes and its 4.1 kHz image is removed. That 2x
// filter is a half-band filter: one of its phases is a pure delay, which the
// design finds (taps that are zero are trimmed), so it costs one
// multiply-add per tap per input sample. The output is aligned with the
// input: the filter's delay is compensated. A Resampler is immutable and
// safe for concurrent use.
type Resampler struct {
	from, to int
	up, down int         // to/from reduced: up/down
	phases   [][]float32 // [phase][tap], taps in input order (the last meets the newest input), zero ends trimmed
	half     [][]float32 // [phase] the first half of the phase's taps when they are symmetric (the long phase of 8 to 16 kHz), else nil
	offset   []int       // [phase] how many zero taps were trimmed from the newest-input end of the untrimmed phase
	delay    int         // filter centre, in prototype samples
}

// Kaiser design parameters.
const (
	stopbandDB      = 80.0
	transitionRatio = 0.025 // half the transition band, as a fraction of the lower Nyquist frequency
)

// NewResampler designs the filter converting from Hz to to Hz.
func NewResampler(from, to int) (*Resampler, error) {
	for _, r := range []int{from, to} {
		if r < MinRate || r > MaxRate {
			return nil, fmt.Errorf("transcribe: resample %d Hz to %d Hz: %w: %d Hz (want %d..%d)", from, to, ErrRate, r, MinRate, MaxRate)
		}
	}
	g := gcd(from, to)
	r := &Resampler{from: from, to: to, up: to / g, down: from / g}
	if r.up == 1 && r.down == 1 {
		return r, nil
	}
	// The prototype runs at up*from Hz.
	fp := float64(r.up) * float64(from)
	nyq := float64(min(from, to)) / 2
	tw := 2 * transitionRatio * nyq // full transition width, Hz
	n := int(math.Ceil((stopbandDB-7.95)/(2.285*2*math.Pi*tw/fp))) + 1
	k := (n + r.up - 1) / r.up // taps per phase
	length := k * r.up
	r.delay = length / 2
	beta := 0.1102 * (stopbandDB - 8.7)
	fc := nyq / fp // normalised cut-off (cycles per prototype sample)
	i0b := besselI0(beta)
	proto := make([]float64, length)
	for i := range proto {
		x := float64(i - r.delay)
		sinc := 2 * fc
		if x != 0 {
			sinc = math.Sin(2*math.Pi*fc*x) / (math.Pi * x)
		}
		w := 0.0
		if t := x / float64(r.delay); t >= -1 && t <= 1 {
			w = besselI0(beta*math.Sqrt(1-t*t)) / i0b
		}
		proto[i] = float64(r.up) * sinc * w
	}
	r.phases = make([][]float32, r.up)
	r.offset = make([]int, r.up)
	const zero = 1e-9
	for p := range r.phases {
		lo, hi := 0, k
		for lo < hi && math.Abs(proto[p+lo*r.up]) < zero {
			lo++
		}
		for hi > lo && math.Abs(proto[p+(hi-1)*r.up]) < zero {
			hi--
		}
		taps := make([]float32, hi-lo)
		for j := range taps {
			taps[len(taps)-1-j] = float32(proto[p+(lo+j)*r.up])
		}
		r.phases[p], r.offset[p] = taps, lo
		var half []float32
		if rev := slices.Clone(taps); len(taps) > 1 {
			if slices.Reverse(rev); slices.Equal(rev, taps) {
				half = taps[:(len(taps)+1)/2]
			}
		}
		r.half = append(r.half, half)
	}
	return r, nil
}

// From and To are the rates the Resampler converts between.
func (r *Resampler) From() int { return r.from }

// To is the output rate.
func (r *Resampler) To() int { return r.to }

// OutLen is the number of output samples for n input samples.
func (r *Resampler) OutLen(n int) int {
	return int((int64(n)*int64(r.up) + int64(r.down) - 1) / int64(r.down))
}

// Resample appends the resampled src to dst and returns it.
func (r *Resampler) Resample(dst, src []float32) []float32 {
	return r.ResampleFrom(dst, src, 0)
}

// Settled is how many leading output samples of n input samples no later
// input changes: those of a longer src that begins with the same n
// samples are the same.
func (r *Resampler) Settled(n int) int {
	if r.phases == nil {
		return n
	}
	out := r.OutLen(n)
	for i := range out {
		if _, j0 := r.tap(i); j0 >= n {
			return i
		}
	}
	return out
}

// ResampleFrom appends output samples from..OutLen(len(src)) of the
// resampled src to dst and returns it: with the first from output samples
// of an earlier, shorter src (at most Settled of its length) already in
// dst, the result is the same as resampling src whole.
func (r *Resampler) ResampleFrom(dst, src []float32, from int) []float32 {
	if r.phases == nil {
		return append(dst, src[min(from, len(src)):]...)
	}
	out := r.OutLen(len(src)) - from
	if out <= 0 {
		return dst
	}
	base := len(dst)
	dst = append(dst, make([]float32, out)...)
	y := dst[base:]
	for n := range y {
		p, j0 := r.phase(from + n)
		taps := r.phases[p]
		if lo := j0 - len(taps) + 1; lo >= 0 && j0 < len(src) {
			// Every tap reads src: one dot product of two runs.
			if h := r.half[p]; h != nil {
				y[n] = dotSymmetric(h, src[lo:j0+1])
			} else {
				y[n] = dot(taps, src[lo:j0+1])
			}
			continue
		}
		// At an end of src: x[j0-k] for k in 0..len(taps)-1, within src.
		last := len(taps) - 1
		kLo := max(0, j0-len(src)+1)
		kHi := min(len(taps), j0+1)
		var acc float32
		for k := kLo; k < kHi; k++ {
			acc += taps[last-k] * src[j0-k]
		}
		y[n] = acc
	}
	return dst
}

// tap is the filter phase of output sample n and the index of the newest
// input sample it reads.
func (r *Resampler) tap(n int) (taps []float32, j0 int) {
	p, j0 := r.phase(n)
	return r.phases[p], j0
}

// dotSymmetric is dot(a, x) for symmetric taps a given by their first
// half h (the middle one included when len(x) is odd): each tap
// multiplies the sum of the two inputs it meets, half the products.
func dotSymmetric(h, x []float32) float32 {
	n := len(x)
	m := n / 2 // pairs
	h = h[:(n+1)/2]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= m; i += 4 {
		hh, xx := h[i:i+4:i+4], x[i:i+4:i+4]
		yy := x[n-i-4 : n-i : n-i]
		s0 += hh[0] * (xx[0] + yy[3])
		s1 += hh[1] * (xx[1] + yy[2])
		s2 += hh[2] * (xx[2] + yy[1])
		s3 += hh[3] * (xx[3] + yy[0])
	}
	for ; i < m; i++ {
		s0 += h[i] * (x[i] + x[n-1-i])
	}
	if n%2 == 1 {
		s1 += h[m] * x[m]
	}
	return (s0 + s1) + (s2 + s3)
}

// phase is the filter phase of output sample n and the index of the
// newest input sample it reads.
func (r *Resampler) phase(n int) (p, j0 int) {
	up := int64(r.up)
	t := int64(n)*int64(r.down) + int64(r.delay)
	p = int(t % up)
	return p, int(t/up) - r.offset[p]
}

// dot is the sum of a[i]*x[i] (len(x) >= len(a)), four products at a time
// in four sums: the loop the resampler spends its time in, without a
// bounds check and with four independent chains of additions. The order
// of the additions depends on len(a) alone, so an output sample comes out
// the same whether resampled whole or resumed.
func dot(a, x []float32) float32 {
	x = x[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		aa, xx := a[i:i+4:i+4], x[i:i+4:i+4]
		s0 += aa[0] * xx[0]
		s1 += aa[1] * xx[1]
		s2 += aa[2] * xx[2]
		s3 += aa[3] * xx[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// PCM16ToFloat appends src scaled to -1..1 to dst.
func PCM16ToFloat(dst []float32, src []int16) []float32 {
	for _, s := range src {
		dst = append(dst, float32(s)/32768)
	}
	return dst
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// besselI0 is the zeroth-order modified Bessel function of the first kind.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-12 {
			break
		}
	}
	return sum
}
