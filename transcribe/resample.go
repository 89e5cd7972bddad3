package transcribe

import (
	"errors"
	"fmt"
	"math"
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
	phases   [][]float32 // [phase][tap], taps in reverse input order, zero ends trimmed
	offset   []int       // [phase] index of phases[phase][0] in the untrimmed phase
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
			taps[j] = float32(proto[p+(lo+j)*r.up])
		}
		r.phases[p], r.offset[p] = taps, lo
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
		taps, j0 := r.tap(from + n)
		// x[j0-k] for k in 0..len(taps)-1, within src.
		kLo := max(0, j0-len(src)+1)
		kHi := min(len(taps), j0+1)
		var acc float32
		for k := kLo; k < kHi; k++ {
			acc += taps[k] * src[j0-k]
		}
		y[n] = acc
	}
	return dst
}

// tap is the filter phase of output sample n and the index of the newest
// input sample it reads.
func (r *Resampler) tap(n int) (taps []float32, j0 int) {
	up := int64(r.up)
	t := int64(n)*int64(r.down) + int64(r.delay)
	p := t % up
	return r.phases[p], int(t/up) - r.offset[p]
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
