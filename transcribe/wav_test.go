package transcribe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/earshot-dev/earshot/internal/sharedtest"
)

func TestWAVRoundTrip(t *testing.T) {
	in := tone(8000, 440, 800, 0.5)
	w, err := ReadWAV(bytes.NewReader(EncodeWAV(in, 8000)))
	if err != nil {
		t.Fatal(err)
	}
	if w.Rate != 8000 || len(w.Channels) != 1 || len(w.Channels[0]) != 800 || w.DurationMS() != 100 {
		t.Fatalf("read back rate %d, %d channels, %d ms", w.Rate, len(w.Channels), w.DurationMS())
	}
	for i, s := range w.Channels[0] {
		if math.Abs(float64(s-in[i])) > 1.0/32767 {
			t.Fatalf("sample %d = %v, want %v", i, s, in[i])
		}
	}
}

// stereoWAV builds a stereo file with an extra chunk before the data and
// WAVE_FORMAT_EXTENSIBLE.
func stereoWAV(left, right []int16) []byte {
	var b []byte
	b = append(b, "RIFF\x00\x00\x00\x00WAVE"...)
	b = append(b, "LIST\x03\x00\x00\x00abc\x00"...) // odd size, padded
	b = append(b, "fmt "...)
	b = binary.LittleEndian.AppendUint32(b, 40)
	b = binary.LittleEndian.AppendUint16(b, 0xFFFE)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint32(b, 16000)
	b = binary.LittleEndian.AppendUint32(b, 64000)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 22)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = append(b, 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71) // KSDATAFORMAT_SUBTYPE_PCM
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(4*len(left)))
	for i := range left {
		b = binary.LittleEndian.AppendUint16(b, uint16(left[i]))
		b = binary.LittleEndian.AppendUint16(b, uint16(right[i]))
	}
	return b
}

func TestWAVStreamedSize(t *testing.T) {
	// A writer that could not seek back leaves the data size 0 or a
	// placeholder (0xFFFFFFFF; sox writes 0x7FFFF000 to a pipe).
	for _, size := range [][]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {0x00, 0xf0, 0xff, 0x7f}} {
		b := EncodeWAV(tone(8000, 440, 80, 0.5), 8000)
		copy(b[40:], size)
		w, err := ReadWAV(bytes.NewReader(b))
		if err != nil || len(w.Channels[0]) != 80 {
			t.Fatalf("data size %x: %v", size, err)
		}
	}
}

func TestWAVStereoExtensible(t *testing.T) {
	w, err := ReadWAV(bytes.NewReader(stereoWAV([]int16{16384, -16384}, []int16{-32768, 0})))
	if err != nil {
		t.Fatal(err)
	}
	if w.Rate != 16000 || len(w.Channels) != 2 || w.Channels[0][1] != -0.5 || w.Channels[1][0] != -1 {
		t.Fatalf("stereo = %+v", w)
	}
}

func TestWAVBad(t *testing.T) {
	good := EncodeWAV(tone(8000, 440, 80, 0.5), 8000)
	mutate := func(off int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], v)
		return b
	}
	for name, b := range map[string][]byte{
		"empty":      nil,
		"not riff":   []byte("OggS\x00\x00\x00\x00WAVEfmt "),
		"float":      mutate(20, 3, 0),
		"6 channels": mutate(22, 6, 0),
		"rate 100":   mutate(24, 100, 0, 0, 0),
		"no data":    good[:36],
		"empty data": mutate(40, 0, 0, 0, 0)[:44],
		"short fmt":  mutate(16, 4, 0, 0, 0),
	} {
		if _, err := ReadWAV(bytes.NewReader(b)); !errors.Is(err, ErrWAV) {
			t.Errorf("%s: error %v, want ErrWAV", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestWAVShared(t *testing.T) {
	for _, p := range []string{"data/speech/osr-8k/OSR_us_000_0034_8k.wav", "data/speech/jfk/jfk-16k.wav"} {
		f, err := os.Open(sharedtest.Path(t, p))
		if err != nil {
			t.Fatal(err)
		}
		w, err := ReadWAV(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if lvl := Level(w.Channels[0]); lvl < -40 || lvl > -3 {
			t.Errorf("%s: speech level %.1f dBFS", p, lvl)
		}
		t.Logf("%s: %d Hz, %d ms", p, w.Rate, w.DurationMS())
	}
}

func FuzzReadWAV(f *testing.F) {
	f.Add(EncodeWAV(tone(8000, 440, 16, 0.5), 8000))
	f.Add(stereoWAV([]int16{1, 2}, []int16{3, 4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ReadWAV(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrWAV) {
				t.Fatalf("error %v is not ErrWAV", err)
			}
			return
		}
		if len(w.Channels) < 1 || len(w.Channels) > 2 || len(w.Channels[0]) == 0 || w.Rate < MinRate || w.Rate > MaxRate {
			t.Fatalf("accepted %d channels at %d Hz", len(w.Channels), w.Rate)
		}
		for _, c := range w.Channels {
			if len(c) != len(w.Channels[0]) {
				t.Fatal("channels of different lengths")
			}
		}
	})
}

func FuzzPeekJob(f *testing.F) {
	j := job("call-1", 1, speech(10))
	b, _ := msgEncode(j)
	f.Add("earshot.audio.call-1.agent", b)
	f.Add("earshot.audio.call-1.b", []byte("ESU1\x00\x00\x00\x02{}"))
	f.Add("earshot.audio..x", []byte("ESU1\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, subject string, b []byte) {
		j, ok := peekJob(subject, b)
		if !ok {
			return
		}
		if j.CallID == "" || !j.Leg.Valid() {
			t.Fatalf("peekJob accepted %+v", j)
		}
	})
}
