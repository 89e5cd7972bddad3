package sender_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/earshot-dev/earshot/capture/sender"
)

// FuzzReadWAV: any input is read or refused with ErrWAV.
func FuzzReadWAV(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, err := sender.ReadWAV(bytes.NewReader(b), "fuzz.wav")
		if err != nil {
			if !errors.Is(err, sender.ErrWAV) {
				t.Fatalf("error %v is not ErrWAV", err)
			}
			return
		}
		if len(pcm) == 0 || 2*len(pcm) > len(b) {
			t.Fatalf("%d samples from %d bytes", len(pcm), len(b))
		}
	})
}
