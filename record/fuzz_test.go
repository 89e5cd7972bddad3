package record_test

import (
	"bytes"
	"testing"

	"github.com/earshot-dev/earshot/record"
)

// FuzzParseWAV (seeds in testdata/fuzz/FuzzParseWAV: recordings with and
// without gaps, a PCM WAV refused): any bytes are a recording or ErrFormat, never a panic or
// a huge allocation; a recording's data starts inside the input.
func FuzzParseWAV(f *testing.F) {
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		rec, err := record.ParseWAV(r)
		if err != nil {
			return
		}
		if rec.DataOffset > int64(len(b)) || rec.Frames < 0 {
			t.Fatalf("data at %d of %d bytes, %d frames", rec.DataOffset, len(b), rec.Frames)
		}
		for _, g := range rec.Gaps {
			if g.Start < 0 || g.End < g.Start {
				t.Fatalf("gap %+v", g)
			}
		}
	})
}
