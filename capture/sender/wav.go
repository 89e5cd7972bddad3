package sender

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// ErrWAV: a file that is not a WAV file capture can send.
var ErrWAV = errors.New("unusable WAV file")

// maxWAV bounds the audio read from one file (256 MiB: 4.6 hours at 8 kHz
// mono, 1.5 hours at 48 kHz stereo).
const maxWAV = 256 << 20

// ReadWAVFile reads a 16-bit PCM WAV file as 8 kHz mono (see ReadWAV).
func ReadWAVFile(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadWAV(f, path)
}

// ReadWAV reads a 16-bit PCM WAV stream of 8 to 96 kHz and any number of
// channels, and returns it as 8 kHz mono: channels are averaged and other
// rates resampled (windowed-sinc low-pass). name names it in errors.
func ReadWAV(r io.Reader, name string) ([]int16, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%s: %w: %d-byte RIFF header missing", name, ErrWAV, len(hdr))
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%s: %w: not a RIFF/WAVE file (starts %q)", name, ErrWAV, hdr[:4])
	}
	var (
		haveFmt bool
		nch, hz int
	)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if haveFmt {
				return nil, fmt.Errorf("%s: %w: no data chunk", name, ErrWAV)
			}
			return nil, fmt.Errorf("%s: %w: no fmt chunk", name, ErrWAV)
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("%s: %w: fmt chunk of %d bytes", name, ErrWAV, size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("%s: %w: fmt chunk truncated", name, ErrWAV)
			}
			format := binary.LittleEndian.Uint16(b[0:2])
			channels := binary.LittleEndian.Uint16(b[2:4])
			rate := binary.LittleEndian.Uint32(b[4:8])
			bits := binary.LittleEndian.Uint16(b[14:16])
			if format == 0xfffe && size >= 26 {
				format = binary.LittleEndian.Uint16(b[24:26])
			}
			if format != 1 || channels < 1 || channels > 8 || rate < 8000 || rate > 96000 || bits != 16 {
				return nil, fmt.Errorf("%s: %w: format %d, %d channels, %d Hz, %d bits; want PCM (1), 1-8 channels, 8000-96000 Hz, 16 bits (convert with: sox IN -r 8000 -c 1 -b 16 -e signed-integer OUT.wav)",
					name, ErrWAV, format, channels, rate, bits)
			}
			haveFmt = true
			nch, hz = int(channels), int(rate)
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%s: %w: data chunk before fmt chunk", name, ErrWAV)
			}
			if size > maxWAV && size != 0xffffffff {
				return nil, fmt.Errorf("%s: %w: %d bytes of audio, more than %d", name, ErrWAV, size, maxWAV)
			}
			size = min(size, maxWAV)
			b, err := io.ReadAll(io.LimitReader(r, int64(size)))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			// A data chunk shorter than its header says (a recording cut
			// short, or a stream written without its final size) gives
			// what is there.
			pcm := make([]int16, len(b)/2/nch)
			for i := range pcm {
				sum := 0
				for c := 0; c < nch; c++ {
					sum += int(int16(binary.LittleEndian.Uint16(b[2*(i*nch+c):])))
				}
				pcm[i] = int16(sum / nch)
			}
			pcm = resample(pcm, hz)
			if len(pcm) == 0 {
				return nil, fmt.Errorf("%s: %w: no audio", name, ErrWAV)
			}
			return pcm, nil
		default:
			if _, err := io.CopyN(io.Discard, r, int64(size+size%2)); err != nil {
				return nil, fmt.Errorf("%s: %w: %q chunk truncated", name, ErrWAV, id)
			}
		}
	}
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
