package record_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/capture/pcap"
	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"
	"github.com/zaf/g711"
)

// sharedData is the shared test material's directory, or "" (the test
// skips) when it is absent.
func sharedData(tb testing.TB) string {
	dir := os.Getenv("EARSHOT_SHARED")
	if dir == "" {
		dir = "../../shared"
	}
	dir = filepath.Join(dir, "data")
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("no shared test material at %s (set EARSHOT_SHARED)", dir)
	}
	return dir
}

// realCall is the two-way G.711 call of SIP_CALL_RTP_G711.pcap (a real
// line, 24 s), as the recorder keeps it: µ-law, each leg's packets placed
// by their time, silence where a leg sent nothing.
func realCall(tb testing.TB) (legs [2][]int16) {
	f, err := os.Open(filepath.Join(sharedData(tb), "pcaps", "SIP_CALL_RTP_G711.pcap"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	c, err := pcap.ReadStreams(f, f.Name())
	if err != nil {
		tb.Fatal(err)
	}
	var streams []*pcap.Stream
	for _, call := range c.Calls {
		if len(call.Streams) == 2 {
			streams = call.Streams
			break
		}
	}
	if streams == nil {
		tb.Fatal("no two-way call in the capture")
	}
	for i, s := range streams {
		for _, p := range s.Packets {
			payload := rtpPayload(p.Data)
			at := int(p.At * 8000 / time.Second)
			for len(legs[i]) < at+len(payload) {
				legs[i] = append(legs[i], 0)
			}
			for j, b := range payload {
				v := g711.DecodeUlawFrame(b)
				if s.PayloadType == 8 {
					v = g711.DecodeAlawFrame(b)
				}
				legs[i][at+j] = g711.DecodeUlawFrame(g711.EncodeUlawFrame(v)) // as kept: µ-law
			}
		}
	}
	n := max(len(legs[0]), len(legs[1]))
	for i := range legs {
		legs[i] = append(legs[i], make([]int16, n-len(legs[i]))...)
	}
	return legs
}

// rtpPayload is an RTP packet's payload (past the CSRCs and extension).
func rtpPayload(p []byte) []byte {
	if len(p) < 12 {
		return nil
	}
	n := 12 + 4*int(p[0]&0x0f)
	if p[0]&0x10 != 0 && len(p) >= n+4 {
		n += 4 + 4*int(binary.BigEndian.Uint16(p[n+2:]))
	}
	if p[0]&0x20 != 0 && len(p) > n { // padding
		p = p[:len(p)-int(p[len(p)-1])]
	}
	if n > len(p) {
		return nil
	}
	return p[n:]
}

// readSpeech is the Open Speech Repository's 8 kHz reading (35.6 s of
// one speaker) as a two-leg call kept as µ-law: the agent reads it, the
// customer's leg is the same audio backwards (speech's level and noise,
// not a copy FLAC could predict from the other channel).
func readSpeech(tb testing.TB) (legs [2][]int16) {
	b, err := os.ReadFile(filepath.Join(sharedData(tb), "speech", "osr-8k", "OSR_us_000_0034_8k.wav"))
	if err != nil {
		tb.Fatal(err)
	}
	i := bytes.Index(b, []byte("data"))
	if i < 0 {
		tb.Fatal("OSR_us_000_0034_8k.wav: no data chunk")
	}
	pcm := b[i+8:]
	for j := 0; j+1 < len(pcm); j += 2 {
		v := g711.DecodeUlawFrame(g711.EncodeUlawFrame(int16(binary.LittleEndian.Uint16(pcm[j:]))))
		legs[0] = append(legs[0], v)
	}
	for j := len(legs[0]) - 1; j >= 0; j-- {
		legs[1] = append(legs[1], legs[0][j])
	}
	return legs
}

// BenchmarkStorage compares what two-leg call audio costs to keep, on
// real speech: as G.711 µ-law WAV (the recorder's format) and as FLAC of
// the same samples (16-bit, mewkiz/flac's encoder with its fixed-predictor
// analysis, 4096-sample blocks). KB/s is storage per second of call;
// cpu-%/call is the encoding's share of one core per concurrent call.
func BenchmarkStorage(b *testing.B) {
	for _, m := range []struct {
		name string
		legs func(testing.TB) [2][]int16
	}{{"sip-call", realCall}, {"osr-reading", readSpeech}} {
		legs := m.legs(b)
		b.Run(m.name, func(b *testing.B) { benchmarkStorage(b, legs) })
	}
}

func benchmarkStorage(b *testing.B, legs [2][]int16) {
	seconds := float64(len(legs[0])) / 8000
	cpu := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e9/seconds*100, "cpu-%/call")
	}
	b.Run("g711-wav", func(b *testing.B) {
		var size int
		for range b.N {
			var buf bytes.Buffer
			buf.Grow(2*len(legs[0]) + 44)
			buf.Write(make([]byte, 44)) // the header
			for i := range legs[0] {
				buf.WriteByte(g711.EncodeUlawFrame(legs[0][i]))
				buf.WriteByte(g711.EncodeUlawFrame(legs[1][i]))
			}
			size = buf.Len()
		}
		b.ReportMetric(float64(size)/seconds/1000, "KB/s")
		cpu(b)
	})
	b.Run("flac", func(b *testing.B) {
		var size int
		for range b.N {
			size = encodeFLAC(b, legs)
		}
		b.ReportMetric(float64(size)/seconds/1000, "KB/s")
		cpu(b)
	})
}

// encodeFLAC encodes the legs as one two-channel FLAC stream and returns
// its size.
func encodeFLAC(tb testing.TB, legs [2][]int16) int {
	var buf bytes.Buffer
	info := &meta.StreamInfo{BlockSizeMin: 4096, BlockSizeMax: 4096, SampleRate: 8000, NChannels: 2, BitsPerSample: 16}
	enc, err := flac.NewEncoder(&buf, info)
	if err != nil {
		tb.Fatal(err)
	}
	for at := 0; at < len(legs[0]); at += 4096 {
		n := min(4096, len(legs[0])-at)
		f := &frame.Frame{Header: frame.Header{HasFixedBlockSize: true, BlockSize: uint16(n), SampleRate: 8000,
			Channels: frame.ChannelsLR, BitsPerSample: 16}}
		for ch := range legs {
			s := make([]int32, n)
			for i := range s {
				s[i] = int32(legs[ch][at+i])
			}
			f.Subframes = append(f.Subframes, &frame.Subframe{SubHeader: frame.SubHeader{Pred: frame.PredVerbatim}, NSamples: n, Samples: s})
		}
		if err := enc.WriteFrame(f); err != nil {
			tb.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Len()
}
