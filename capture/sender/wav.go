package sender

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrWAV: a file that is not a WAV file capture can send.
var ErrWAV = errors.New("unusable WAV file")

// maxWAV bounds the audio read from one file (1 hour at 8 kHz).
const maxWAV = 3600 * 8000 * 2

// ReadWAVFile reads an 8 kHz mono 16-bit PCM WAV file.
func ReadWAVFile(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadWAV(f, path)
}

// ReadWAV reads an 8 kHz mono 16-bit PCM WAV stream; name names it in errors.
func ReadWAV(r io.Reader, name string) ([]int16, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%s: %w: %d-byte RIFF header missing", name, ErrWAV, len(hdr))
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%s: %w: not a RIFF/WAVE file (starts %q)", name, ErrWAV, hdr[:4])
	}
	var haveFmt bool
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
			if format != 1 || channels != 1 || rate != 8000 || bits != 16 {
				return nil, fmt.Errorf("%s: %w: format %d, %d channels, %d Hz, %d bits; want PCM (1), mono, 8000 Hz, 16 bits (convert with: sox IN -r 8000 -c 1 -b 16 -e signed-integer OUT.wav)",
					name, ErrWAV, format, channels, rate, bits)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%s: %w: data chunk before fmt chunk", name, ErrWAV)
			}
			if size > maxWAV {
				size = maxWAV
			}
			b, err := io.ReadAll(io.LimitReader(r, int64(size)))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			// A data chunk shorter than its header says (a recording cut
			// short, or a stream written without its final size) gives
			// what is there.
			pcm := make([]int16, len(b)/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
			}
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
