// Package wav reads and writes RIFF WAVE files of 16-bit PCM, 8-bit
// G.711 (mu-law, A-law) or 8-bit unsigned PCM audio, mono or multi-channel.
// It is the one WAV codec the command line tools and tests share.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Errors for errors.Is.
var (
	ErrNotWAV      = errors.New("not a RIFF WAVE file")
	ErrUnsupported = errors.New("unsupported WAVE encoding")
	ErrTruncated   = errors.New("truncated WAVE file")
)

// Audio is decoded audio: interleaved 16-bit samples.
type Audio struct {
	SampleRate int
	Channels   int
	Samples    []int16 // interleaved when Channels > 1
}

// Mono returns the audio mixed down to one channel.
func (a *Audio) Mono() []int16 {
	if a.Channels <= 1 {
		return a.Samples
	}
	out := make([]int16, len(a.Samples)/a.Channels)
	for i := range out {
		sum := 0
		for c := range a.Channels {
			sum += int(a.Samples[i*a.Channels+c])
		}
		out[i] = int16(sum / a.Channels)
	}
	return out
}

const (
	formatPCM      = 1
	formatALaw     = 6
	formatMuLaw    = 7
	formatExtended = 0xFFFE
	maxDataBytes   = 1 << 30
)

// ReadFile reads the WAV file at path; errors name the file.
func ReadFile(path string) (*Audio, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Read decodes a WAV stream.
func Read(r io.Reader) (*Audio, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %d-byte RIFF header missing", ErrNotWAV, len(hdr))
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: starts %q", ErrNotWAV, hdr[:4])
	}
	var (
		format, channels, bits uint16
		rate                   uint32
		haveFmt                bool
	)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if haveFmt {
				return nil, fmt.Errorf("%w: no data chunk", ErrTruncated)
			}
			return nil, fmt.Errorf("%w: no fmt chunk", ErrTruncated)
		}
		id, size := string(ch[:4]), binary.LittleEndian.Uint32(ch[4:])
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrNotWAV, size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("%w: fmt chunk", ErrTruncated)
			}
			format = binary.LittleEndian.Uint16(b[0:])
			channels = binary.LittleEndian.Uint16(b[2:])
			rate = binary.LittleEndian.Uint32(b[4:])
			bits = binary.LittleEndian.Uint16(b[14:])
			if format == formatExtended && size >= 26 {
				format = binary.LittleEndian.Uint16(b[24:])
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrNotWAV)
			}
			return decodeData(r, size, format, channels, bits, rate)
		default:
			if _, err := io.CopyN(io.Discard, r, int64(size)+int64(size%2)); err != nil {
				return nil, fmt.Errorf("%w: %q chunk", ErrTruncated, id)
			}
		}
	}
}

func decodeData(r io.Reader, size uint32, format, channels, bits uint16, rate uint32) (*Audio, error) {
	if channels == 0 || channels > 8 {
		return nil, fmt.Errorf("%w: %d channels", ErrUnsupported, channels)
	}
	if rate < 1000 || rate > 192000 {
		return nil, fmt.Errorf("%w: sample rate %d Hz", ErrUnsupported, rate)
	}
	var decode func([]byte) []int16
	switch {
	case format == formatPCM && bits == 16:
		decode = func(b []byte) []int16 {
			s := make([]int16, len(b)/2)
			for i := range s {
				s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
			}
			return s
		}
	case format == formatPCM && bits == 8:
		decode = func(b []byte) []int16 { return mapBytes(b, func(v byte) int16 { return (int16(v) - 128) << 8 }) }
	case format == formatMuLaw && bits == 8:
		decode = func(b []byte) []int16 { return mapBytes(b, muLaw) }
	case format == formatALaw && bits == 8:
		decode = func(b []byte) []int16 { return mapBytes(b, aLaw) }
	default:
		return nil, fmt.Errorf("%w: format %d with %d bits (want 16-bit PCM, 8-bit PCM, mu-law or A-law)", ErrUnsupported, format, bits)
	}
	// A writer that could not seek back (a pipe) leaves the size 0, or
	// a placeholder as large as it can be: then read to the end.
	n := int64(size)
	if size == 0 || n > maxDataBytes {
		n = maxDataBytes + 1
	}
	b, err := io.ReadAll(io.LimitReader(r, n))
	if err != nil {
		return nil, fmt.Errorf("%w: data: %v", ErrTruncated, err)
	}
	if len(b) > maxDataBytes {
		return nil, fmt.Errorf("%w: more than %d bytes of audio: split the file", ErrUnsupported, maxDataBytes)
	}
	frame := int(channels) * int(bits) / 8
	b = b[:len(b)-len(b)%frame]
	return &Audio{SampleRate: int(rate), Channels: int(channels), Samples: decode(b)}, nil
}

func mapBytes(b []byte, f func(byte) int16) []int16 {
	s := make([]int16, len(b))
	for i, v := range b {
		s[i] = f(v)
	}
	return s
}

// muLaw decodes one G.711 mu-law byte.
func muLaw(u byte) int16 {
	u = ^u
	t := (int(u&0x0f) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// aLaw decodes one G.711 A-law byte.
func aLaw(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0f) << 4
	seg := (a & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// Write writes mono or interleaved 16-bit PCM as a WAV stream.
func Write(w io.Writer, a *Audio) error {
	_, err := w.Write(Append(make([]byte, 0, 44+2*len(a.Samples)), a))
	return err
}

// Append appends a as a WAV stream (mono or interleaved 16-bit PCM) to b
// and returns it: for a caller that keeps the bytes, one allocation (or
// none, with room in b) instead of Write's copy into its writer.
func Append(b []byte, a *Audio) []byte {
	ch := max(a.Channels, 1)
	data := 2 * len(a.Samples)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+data))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, formatPCM)
	b = binary.LittleEndian.AppendUint16(b, uint16(ch))
	b = binary.LittleEndian.AppendUint32(b, uint32(a.SampleRate))
	b = binary.LittleEndian.AppendUint32(b, uint32(a.SampleRate*ch*2))
	b = binary.LittleEndian.AppendUint16(b, uint16(ch*2))
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(data))
	for _, s := range a.Samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

// WriteFile writes a to path.
func WriteFile(path string, a *Audio) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, a); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
