package sender

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/earshot-dev/earshot/internal/wav"
)

// ErrWAV: a file that is not a WAV file capture can send.
var ErrWAV = errors.New("unusable WAV file")

// ReadWAVFile reads a 16-bit PCM WAV file as 8 kHz mono (see ReadWAV).
func ReadWAVFile(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadWAV(f, path)
}

// ReadWAV reads a WAV stream (16-bit or 8-bit PCM, or G.711) of 8 to 96 kHz
// and any number of channels, and returns it as 8 kHz mono: channels are
// averaged and other rates resampled (windowed-sinc low-pass). name names it
// in errors.
func ReadWAV(r io.Reader, name string) ([]int16, error) {
	a, err := wav.Read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v (convert with: sox IN -r 8000 -c 1 -b 16 -e signed-integer OUT.wav)", name, ErrWAV, err)
	}
	if a.SampleRate < 8000 || a.SampleRate > 96000 {
		return nil, fmt.Errorf("%s: %w: %d Hz; want 8000-96000 Hz (convert with: sox IN -r 8000 OUT.wav)", name, ErrWAV, a.SampleRate)
	}
	pcm := resample(a.Mono(), a.SampleRate)
	if len(pcm) == 0 {
		return nil, fmt.Errorf("%s: %w: no audio", name, ErrWAV)
	}
	return pcm, nil
}

// resample converts mono audio at rate from (at least 8 kHz) to 8 kHz with
// a Hann-windowed sinc low-pass at 0.9 of the new Nyquist frequency.
func resample(in []int16, from int) []int16 {
	if from == 8000 {
		return in
	}
	ratio := 8000 / float64(from)
	cutoff := 0.45 * ratio // cycles per input sample
	width := 16 / ratio    // half the filter, in input samples
	out := make([]int16, int(float64(len(in))*ratio))
	for i := range out {
		x := float64(i) / ratio
		lo, hi := int(math.Ceil(x-width)), int(math.Floor(x+width))
		var sum, norm float64
		for k := max(lo, 0); k <= hi && k < len(in); k++ {
			d := float64(k) - x
			w := 0.5 + 0.5*math.Cos(math.Pi*d/width)
			h := w * 2 * cutoff
			if d != 0 {
				h = w * math.Sin(2*math.Pi*cutoff*d) / (math.Pi * d)
			}
			sum += h * float64(in[k])
			norm += h
		}
		if norm != 0 {
			sum /= norm
		}
		out[i] = int16(max(-32768, min(32767, math.Round(sum))))
	}
	return out
}
