package siprec_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/earshot-dev/earshot/capture/siprec"
)

// FuzzParseMetadata: any bytes are metadata or an ErrMetadata, never a
// panic; what is taken stays within its bounds.
func FuzzParseMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := siprec.ParseMetadata(b)
		if err != nil {
			if !errors.Is(err, siprec.ErrMetadata) {
				t.Fatalf("error %v is not ErrMetadata", err)
			}
			return
		}
		if len(m.Extensions) > 32 || len(m.Participants) > 64 {
			t.Fatalf("%d extensions, %d participants", len(m.Extensions), len(m.Participants))
		}
		for _, p := range m.Participants {
			for _, id := range p.Send {
				_ = m.StreamOf(m.Streams[id])
			}
		}
	})
}

// FuzzParseOffer: any bytes are an offer or an ErrSDP/ErrCodec; an offer
// taken has an answer that parses back with as many streams.
func FuzzParseOffer(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := siprec.ParseOffer(b)
		if err != nil {
			if !errors.Is(err, siprec.ErrSDP) && !errors.Is(err, siprec.ErrCodec) {
				t.Fatalf("error %v is neither ErrSDP nor ErrCodec", err)
			}
			return
		}
		ports := make([]int, len(o.Streams))
		for i := range ports {
			ports[i] = 20000 + 2*i
		}
		a, err := siprec.ParseOffer(siprec.Answer(o, netip.MustParseAddr("127.0.0.1"), ports, 1))
		if err != nil || len(a.Streams) != len(o.Streams) {
			t.Fatalf("answer to %d streams: %v", len(o.Streams), err)
		}
	})
}

// FuzzSplitBody: any content type and body split or give an ErrBody.
func FuzzSplitBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, ct string, b []byte) {
		if _, _, err := siprec.SplitBody(ct, b); err != nil && !errors.Is(err, siprec.ErrBody) {
			t.Fatalf("error %v is not ErrBody", err)
		}
	})
}
