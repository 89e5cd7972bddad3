package mediastream_test

import (
	"errors"
	"testing"

	"github.com/earshot-dev/earshot/capture/mediastream"
)

// FuzzParse: any bytes are a message or an ErrProtocol, never a panic;
// what a parsed message carries decodes or is refused.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := mediastream.Parse(b)
		if err != nil {
			if !errors.Is(err, mediastream.ErrProtocol) {
				t.Fatalf("error %v is not ErrProtocol", err)
			}
			return
		}
		switch {
		case m.Start != nil:
			_, _ = m.Start.MediaFormat.Codec()
		case m.Media != nil:
			if at, _, err := m.Media.Audio(); err == nil && at < 0 {
				t.Fatalf("media at %d", at)
			}
		}
	})
}
