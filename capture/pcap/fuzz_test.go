package pcap_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/earshot-dev/earshot/capture/pcap"
)

// FuzzReadStreams: any input is read or refused with one of the package's
// errors, never a panic.
func FuzzReadStreams(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := pcap.ReadStreams(bytes.NewReader(b), "fuzz.pcap")
		if err != nil {
			for _, e := range []error{pcap.ErrNotCapture, pcap.ErrTruncated, pcap.ErrMalformed, pcap.ErrLinkType, pcap.ErrNoStreams} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("error %v is none of the package's", err)
		}
		for _, call := range c.Calls {
			for _, s := range call.Streams {
				if len(s.Packets) == 0 {
					t.Fatal("a stream without packets")
				}
			}
		}
	})
}
