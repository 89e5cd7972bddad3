package audiosocket_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/audiosocket"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/msg"
)

// BenchmarkSlinFrame measures one 20 ms slin frame (8 kHz) of 1000 legs
// through what the server does with it: framing, sample conversion, VAD and
// the jobs it cuts (2 s of tone, 1 s of silence, over and over), with Run
// publishing to a discarding publisher. The TCP read is not in it.
func BenchmarkSlinFrame(b *testing.B) {
	const legs = 1000
	c := capturetest.Run(b, capture.Config{MaxCalls: 2 * legs})
	ls := make([]*capture.Leg, legs)
	for i := range ls {
		h, err := c.Open(msg.IntakeAudioSocket, capture.CallInfo{ID: fmt.Sprintf("as%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		if ls[i], err = h.Leg(msg.RoleCustomer, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	tone, silence := make([]byte, 320), make([]byte, 320)
	for i := 0; i < 160; i++ {
		binary.LittleEndian.PutUint16(tone[2*i:], uint16(int16(8000*((i/10)%2*2-1))))
	}
	frames := [][]byte{audiosocket.AppendFrame(nil, audiosocket.KindSlin, tone), audiosocket.AppendFrame(nil, audiosocket.KindSlin, silence)}
	var buf []byte
	pcm := make([]int16, 0, 160)
	r := bytes.NewReader(nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := i / legs
		f := frames[0]
		if n%150 >= 100 {
			f = frames[1]
		}
		r.Reset(f)
		var fr audiosocket.Frame
		var err error
		fr, buf, err = audiosocket.ReadFrame(r, buf)
		if err != nil {
			b.Fatal(err)
		}
		pcm = pcm[:0]
		for k := 0; k < len(fr.Payload); k += 2 {
			pcm = append(pcm, int16(binary.LittleEndian.Uint16(fr.Payload[k:])))
		}
		ls[i%legs].PCM(-1, pcm)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frame/s")
}
