package audiosocket_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/earshot-dev/earshot/capture/audiosocket"
)

// FuzzReadFrame: any bytes are frames until a clean end, a cut-short
// frame or an ErrFrame, never a panic; a frame read is written back the
// same.
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		var buf []byte
		for {
			before := r.Len()
			fr, nb, err := audiosocket.ReadFrame(r, buf)
			buf = nb
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, audiosocket.ErrFrame) {
					t.Fatalf("error %v", err)
				}
				return
			}
			read := b[len(b)-before : len(b)-r.Len()]
			if again := audiosocket.AppendFrame(nil, fr.Kind, fr.Payload); !bytes.Equal(again, read) {
				t.Fatalf("frame %x written back as %x", read, again)
			}
		}
	})
}
