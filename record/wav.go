package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/zaf/g711"
)

// Recordings are WAV files of two G.711 µ-law channels at 8 kHz: channel 0
// the agent (or leg a), channel 1 the customer (or leg b), one byte per
// sample, interleaved. G.711 is what the calls carried, so a µ-law call is
// kept bit for bit. A gap (audio lost to a recorder restart or a failed
// write) is silence in the data and is named in the LIST/INFO ICMT
// comment as "gaps_ms=START-END,...".

const (
	channels    = 2
	wavFmtMulaw = 7
	wavFmtPCM   = 1
)

// ErrFormat is returned for a recording that is not a WAV this package wrote.
var ErrFormat = errors.New("record: not an Earshot recording")

// silentByte is µ-law zero.
var silentByte = g711.EncodeUlawFrame(0)

// Span is an interval on the call clock, in samples.
type Span struct{ Start, End int64 }

func gapsComment(gaps []Span) string {
	var b strings.Builder
	b.WriteString("gaps_ms=")
	for i, g := range gaps {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", g.Start*1000/sampleRate, g.End*1000/sampleRate)
	}
	return b.String()
}

// wavHeader returns the header of a recording of frames sample frames,
// with the gaps named. The data chunk follows it.
func wavHeader(frames int64, gaps []Span) []byte { return wavHeaderAs(wavFmtMulaw, 8, frames, gaps) }

// wavHeaderAs is wavHeader for another format (16-bit PCM for tools).
func wavHeaderAs(format, bits int, frames int64, gaps []Span) []byte {
	var list []byte
	if len(gaps) > 0 {
		c := []byte(gapsComment(gaps) + "\x00")
		if len(c)%2 == 1 {
			c = append(c, 0)
		}
		list = append(list, "LIST"...)
		list = binary.LittleEndian.AppendUint32(list, uint32(4+8+len(c)))
		list = append(list, "INFOICMT"...)
		list = binary.LittleEndian.AppendUint32(list, uint32(len(c)))
		list = append(list, c...)
	}
	return header(format, bits, frames, list)
}

// header writes RIFF, fmt (format, bits per sample), extra chunks and the
// data chunk's header.
func header(format, bits int, frames int64, extra []byte) []byte {
	blockAlign := channels * bits / 8
	data := frames * int64(blockAlign)
	fmtLen := 16
	if format != wavFmtPCM {
		fmtLen = 18 // cbSize, as non-PCM formats have it
	}
	h := make([]byte, 0, 64+len(extra))
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(int64(4+8+fmtLen+len(extra)+8)+data))
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, uint32(fmtLen))
	h = binary.LittleEndian.AppendUint16(h, uint16(format))
	h = binary.LittleEndian.AppendUint16(h, channels)
	h = binary.LittleEndian.AppendUint32(h, sampleRate)
	h = binary.LittleEndian.AppendUint32(h, uint32(sampleRate*blockAlign))
	h = binary.LittleEndian.AppendUint16(h, uint16(blockAlign))
	h = binary.LittleEndian.AppendUint16(h, uint16(bits))
	if fmtLen == 18 {
		h = binary.LittleEndian.AppendUint16(h, 0)
	}
	h = append(h, extra...)
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(data))
	return h
}

// Recording is a parsed recording header: where its µ-law data is and the
// gaps it names.
type Recording struct {
	DataOffset int64
	Frames     int64
	Gaps       []Span
}

// ParseWAV reads the header of a recording from r (which is left at the
// start of the data).
func ParseWAV(r io.Reader) (Recording, error) {
	var rec Recording
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return rec, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return rec, fmt.Errorf("%w: no RIFF WAVE header", ErrFormat)
	}
	off := int64(12)
	sawFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return rec, fmt.Errorf("%w: chunk at %d: %v", ErrFormat, off, err)
		}
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		off += 8
		id := string(ch[:4])
		if id == "data" {
			if !sawFmt {
				return rec, fmt.Errorf("%w: data before fmt", ErrFormat)
			}
			rec.DataOffset, rec.Frames = off, n/channels
			return rec, nil
		}
		if n > 1<<16 {
			return rec, fmt.Errorf("%w: %q chunk of %d bytes", ErrFormat, id, n)
		}
		body := make([]byte, n+n%2)
		if _, err := io.ReadFull(r, body); err != nil {
			return rec, fmt.Errorf("%w: %q chunk: %v", ErrFormat, id, err)
		}
		off += int64(len(body))
		switch id {
		case "fmt ":
			if n < 16 || binary.LittleEndian.Uint16(body) != wavFmtMulaw || binary.LittleEndian.Uint16(body[2:]) != channels ||
				binary.LittleEndian.Uint32(body[4:]) != sampleRate {
				return rec, fmt.Errorf("%w: not two channels of 8 kHz µ-law", ErrFormat)
			}
			sawFmt = true
		case "LIST":
			gaps, err := parseGaps(body[:n])
			if err != nil {
				return rec, err
			}
			rec.Gaps = gaps
		}
	}
}

func parseGaps(list []byte) ([]Span, error) {
	const pre = "INFOICMT"
	if len(list) < len(pre)+4 || string(list[:len(pre)]) != pre {
		return nil, nil
	}
	c := strings.TrimRight(string(list[len(pre)+4:]), "\x00")
	spec, ok := strings.CutPrefix(c, "gaps_ms=")
	if !ok {
		return nil, nil
	}
	var out []Span
	for _, g := range strings.Split(spec, ",") {
		a, b, ok := strings.Cut(g, "-")
		s, err1 := strconv.ParseInt(a, 10, 64)
		e, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || s < 0 || e < s {
			return nil, fmt.Errorf("%w: gap %q", ErrFormat, g)
		}
		out = append(out, Span{s * sampleRate / 1000, e * sampleRate / 1000})
	}
	return out, nil
}
