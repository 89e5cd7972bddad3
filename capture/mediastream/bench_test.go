package mediastream_test

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"testing"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/capture/mediastream"
	"github.com/earshot-dev/earshot/msg"
)

// BenchmarkMediaMessage measures one media message (20 ms of µ-law) of
// 1000 streams through what the server does with it: JSON parse, base64,
// G.711 decode, VAD and the jobs it cuts (2 s of speech, 1 s of silence,
// over and over), with Run publishing to a discarding publisher. The
// WebSocket framing (coder/websocket) is not in it.
func BenchmarkMediaMessage(b *testing.B) {
	const streams = 1000
	c := capturetest.Run(b, capture.Config{MaxCalls: 2 * streams})
	legs := make([]*capture.Leg, streams)
	for i := range legs {
		h, err := c.Open(msg.IntakeMediaStream, capture.CallInfo{ID: fmt.Sprintf("CA%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		if legs[i], err = h.Leg(msg.RoleCustomer, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	speech := make([]byte, 160)
	for i := range speech {
		speech[i] = byte(0x10 + i%32) // loud µ-law
	}
	silence := make([]byte, 160)
	for i := range silence {
		silence[i] = 0xff
	}
	payloads := []string{base64.StdEncoding.EncodeToString(speech), base64.StdEncoding.EncodeToString(silence)}
	msgs := make([][]byte, 300)
	for n := range msgs {
		p := payloads[0]
		if n%150 >= 100 {
			p = payloads[1]
		}
		msgs[n] = []byte(`{"event":"media","sequenceNumber":"` + strconv.Itoa(n+3) + `","media":{"track":"inbound","chunk":"` + strconv.Itoa(n+1) +
			`","timestamp":"` + strconv.Itoa(n*20) + `","payload":"` + p + `"},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}`)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := i / streams
		raw := msgs[n%len(msgs)]
		m, err := mediastream.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		_, payload, err := m.Media.Audio()
		if err != nil {
			b.Fatal(err)
		}
		if err := legs[i%streams].G711(int64(n)*160, "PCMU", payload); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
