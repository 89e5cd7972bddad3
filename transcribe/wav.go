package transcribe

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/earshot-dev/earshot/internal/wav"
)

// ErrWAV is returned for a file that is not a WAV file this package reads.
var ErrWAV = errors.New("unsupported or malformed WAV")

// WAV is decoded WAV audio: one slice of samples (-1..1) per channel.
type WAV struct {
	Rate     int
	Channels [][]float32
}

// Duration of the audio in milliseconds.
func (w *WAV) DurationMS() int64 {
	if len(w.Channels) == 0 || w.Rate == 0 {
		return 0
	}
	return int64(len(w.Channels[0])) * 1000 / int64(w.Rate)
}

// ReadWAV reads a WAV file (16-bit or 8-bit PCM, or G.711) with one or two
// channels at a rate from MinRate to MaxRate.
func ReadWAV(r io.Reader) (*WAV, error) {
	a, err := wav.Read(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWAV, err)
	}
	if a.Channels > 2 {
		return nil, fmt.Errorf("%w: %d channels; want mono or stereo", ErrWAV, a.Channels)
	}
	if a.SampleRate < MinRate || a.SampleRate > MaxRate {
		return nil, fmt.Errorf("%w: sample rate %d Hz; want %d..%d", ErrWAV, a.SampleRate, MinRate, MaxRate)
	}
	frames := len(a.Samples) / a.Channels
	if frames == 0 {
		return nil, fmt.Errorf("%w: no audio in the data chunk", ErrWAV)
	}
	w := &WAV{Rate: a.SampleRate, Channels: make([][]float32, a.Channels)}
	for c := range w.Channels {
		w.Channels[c] = make([]float32, frames)
		for i := range frames {
			w.Channels[c][i] = float32(a.Samples[i*a.Channels+c]) / 32768
		}
	}
	return w, nil
}

// EncodeWAV writes mono samples (-1..1) as a 16-bit PCM WAV file.
func EncodeWAV(samples []float32, rate int) []byte {
	pcm := make([]int16, len(samples))
	for i, s := range samples {
		pcm[i] = int16(max(-32768, min(32767, math.Round(float64(s)*32767))))
	}
	return wav.Append(make([]byte, 0, 44+2*len(pcm)), &wav.Audio{SampleRate: rate, Channels: 1, Samples: pcm})
}
