package transcribe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrWAV is returned for a file that is not a WAV file this package reads.
var ErrWAV = errors.New("unsupported or malformed WAV")

// MaxWAVData bounds the audio read from one WAV file (1 GiB: 9 hours of
// 16 kHz mono PCM16, or 1.5 hours of 48 kHz stereo).
const MaxWAVData = 1 << 30

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

// ReadWAV reads a RIFF WAVE file of 16-bit PCM with one or two channels
// (WAVE_FORMAT_PCM, or WAVE_FORMAT_EXTENSIBLE with the PCM sub-format) at a
// rate from MinRate to MaxRate.
func ReadWAV(r io.Reader) (*WAV, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: RIFF header: %v", ErrWAV, err)
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: starts %q, not a RIFF WAVE file", ErrWAV, hdr[:4])
	}
	var w *WAV
	var channels int
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if w == nil {
				return nil, fmt.Errorf("%w: no fmt chunk before the end of the file", ErrWAV)
			}
			return nil, fmt.Errorf("%w: no data chunk before the end of the file", ErrWAV)
		}
		id, size := string(ch[:4]), binary.LittleEndian.Uint32(ch[4:])
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrWAV, size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("%w: fmt chunk: %v", ErrWAV, err)
			}
			format := binary.LittleEndian.Uint16(b[0:])
			channels = int(binary.LittleEndian.Uint16(b[2:]))
			rate := binary.LittleEndian.Uint32(b[4:])
			bits := binary.LittleEndian.Uint16(b[14:])
			if format == 0xFFFE && size >= 40 {
				format = binary.LittleEndian.Uint16(b[24:]) // the sub-format GUID's first two bytes
			}
			if format != 1 || bits != 16 {
				return nil, fmt.Errorf("%w: format %d with %d bits per sample; want 16-bit PCM (format 1), e.g. sox IN -b 16 -e signed OUT.wav", ErrWAV, format, bits)
			}
			if channels < 1 || channels > 2 {
				return nil, fmt.Errorf("%w: %d channels; want mono or stereo", ErrWAV, channels)
			}
			if rate < MinRate || rate > MaxRate {
				return nil, fmt.Errorf("%w: sample rate %d Hz; want %d..%d", ErrWAV, rate, MinRate, MaxRate)
			}
			w = &WAV{Rate: int(rate), Channels: make([][]float32, channels)}
		case "data":
			if w == nil {
				return nil, fmt.Errorf("%w: data chunk before the fmt chunk", ErrWAV)
			}
			n := int64(size)
			streamed := size == math.MaxUint32 || size == 0 // size unknown: read to the end
			if streamed {
				n = MaxWAVData + 1
			} else if n > MaxWAVData {
				return nil, fmt.Errorf("%w: data chunk of %d bytes, more than %d: split the file (e.g. sox IN.wav OUT.wav trim 0 3600 : newfile : restart)", ErrWAV, n, MaxWAVData)
			}
			b, err := io.ReadAll(io.LimitReader(r, n))
			if err != nil {
				return nil, fmt.Errorf("%w: data chunk: %v", ErrWAV, err)
			}
			if streamed && len(b) > MaxWAVData {
				return nil, fmt.Errorf("%w: more than %d bytes of audio: split the file", ErrWAV, MaxWAVData)
			}
			frames := len(b) / (2 * channels)
			for c := range w.Channels {
				w.Channels[c] = make([]float32, frames)
			}
			for i := range frames {
				for c := range channels {
					w.Channels[c][i] = float32(int16(binary.LittleEndian.Uint16(b[2*(i*channels+c):]))) / 32768
				}
			}
			if frames == 0 {
				return nil, fmt.Errorf("%w: no audio in the data chunk", ErrWAV)
			}
			return w, nil
		default:
			if _, err := io.CopyN(io.Discard, r, int64(size)+int64(size%2)); err != nil {
				return nil, fmt.Errorf("%w: %q chunk of %d bytes: %v", ErrWAV, id, size, err)
			}
		}
	}
}

// EncodeWAV writes mono samples (-1..1) as a 16-bit PCM WAV file.
func EncodeWAV(samples []float32, rate int) []byte {
	b := make([]byte, 0, 44+2*len(samples))
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+2*len(samples)))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1) // PCM
	b = binary.LittleEndian.AppendUint16(b, 1) // mono
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(2*rate))
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(2*len(samples)))
	for _, s := range samples {
		v := math.Round(float64(s) * 32767)
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(max(-32768, min(32767, v)))))
	}
	return b
}
