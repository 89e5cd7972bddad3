package wav

import (
	"bytes"
	"errors"
	"testing"

	"github.com/earshot-dev/earshot/internal/sharedtest"
)

func TestRoundTrip(t *testing.T) {
	in := &Audio{SampleRate: 8000, Channels: 2, Samples: []int16{0, 1, -1, 32767, -32768, 5}}
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if out.SampleRate != 8000 || out.Channels != 2 || len(out.Samples) != len(in.Samples) {
		t.Fatalf("got %+v", out)
	}
	for i := range in.Samples {
		if out.Samples[i] != in.Samples[i] {
			t.Fatalf("sample %d = %d, want %d", i, out.Samples[i], in.Samples[i])
		}
	}
	if m := out.Mono(); len(m) != 3 || m[0] != 0 || m[1] != 16383 || m[2] != -16381 {
		t.Fatalf("mono = %v", m)
	}
}

func TestReadShared(t *testing.T) {
	a, err := ReadFile(sharedtest.Path(t, "data/speech/osr-8k/OSR_us_000_0034_8k.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if a.SampleRate != 8000 || a.Channels != 1 {
		t.Fatalf("rate %d channels %d", a.SampleRate, a.Channels)
	}
	if secs := float64(len(a.Samples)) / 8000; secs < 35 || secs > 36.5 {
		t.Fatalf("duration %.2fs, want about 35.6s", secs)
	}
}

func TestG711(t *testing.T) {
	// Reference values from ITU-T G.711: mu-law 0xFF and A-law 0xD5 are the
	// smallest positive steps; 0x80 / 0xAA are the largest.
	cases := []struct {
		name string
		got  int16
		want int16
	}{
		{"mu 0xFF", muLaw(0xFF), 0},
		{"mu 0x80", muLaw(0x80), 32124},
		{"mu 0x00", muLaw(0x00), -32124},
		{"A 0xD5", aLaw(0xD5), 8},
		{"A 0xAA", aLaw(0xAA), 32256},
		{"A 0x2A", aLaw(0x2A), -32256},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	valid := func() []byte {
		var b bytes.Buffer
		_ = Write(&b, &Audio{SampleRate: 8000, Channels: 1, Samples: []int16{1, 2, 3}})
		return b.Bytes()
	}
	float := valid()
	float[20] = 3 // IEEE float
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"empty":     {nil, ErrNotWAV},
		"mp3":       {[]byte("ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00"), ErrNotWAV},
		"no chunks": {valid()[:12], ErrTruncated},
		"no data":   {valid()[:36], ErrTruncated},
		"float":     {float, ErrUnsupported},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Read(bytes.NewReader(c.in)); !errors.Is(err, c.want) {
				t.Fatalf("Read = %v, want %v", err, c.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	_ = Write(&b, &Audio{SampleRate: 8000, Channels: 1, Samples: []int16{1, -2, 3}})
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := Read(bytes.NewReader(in))
		if err != nil {
			return
		}
		if a.Channels < 1 || len(a.Samples)%a.Channels != 0 {
			t.Fatalf("decoded %d samples over %d channels", len(a.Samples), a.Channels)
		}
	})
}
