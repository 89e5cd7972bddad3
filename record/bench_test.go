package record_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/record"
)

// BenchmarkRecordCallSecond is the cost of recording one second of a
// two-leg call as capture hands it over (20 ms frames), parts written to
// a directory: ns/op over 1e9 is the share of a core one call takes.
func BenchmarkRecordCallSecond(b *testing.B) {
	st := newDir(b)
	r, err := record.NewRecorder(record.RecorderConfig{Store: st, Queue: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	frame := tone(160, 3)
	b.ReportAllocs()
	b.SetBytes(2 * 8000) // stored bytes per call-second
	b.ResetTimer()
	var at int64
	for range b.N {
		for range 50 {
			r.LegAudio("bench", msg.RoleAgent, at, frame)
			r.LegAudio("bench", msg.RoleCustomer, at, frame)
			at += 160
		}
	}
	cancel()
	<-done // the parts queued are written within the timing
}

// BenchmarkSealAndRedact is the time from a call's end to its recording
// being playable, for a 10-minute call: sealing its parts into one file
// and writing the redacted copy (its transcription aside).
func BenchmarkSealAndRedact(b *testing.B) {
	const minutes = 10
	for i := range b.N {
		b.StopTimer()
		st := &putCounter{Store: newDir(b), put: make(chan string, 1<<10)}
		sealed := make(chan string, 1)
		r, err := record.NewRecorder(record.RecorderConfig{Store: st, Queue: 1 << 10, Sealed: func(c string) { sealed <- c }})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		call := fmt.Sprintf("c%d", i)
		pcm := tone(8000, 1)
		for s := range int64(minutes * 60) {
			r.LegAudio(call, msg.RoleAgent, s*8000, pcm)
			r.LegAudio(call, msg.RoleCustomer, s*8000, pcm)
		}
		for range minutes * 6 { // the parts, written before the end
			<-st.put
		}
		b.StartTimer()
		r.CallEnded(call, minutes*60*8000)
		<-sealed
		if err := record.Redact(context.Background(), st, call, []record.Span{{Start: 8000, End: 16000}}, false); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cancel()
		<-done
	}
}

// putCounter says the name of every object put.
type putCounter struct {
	record.Store
	put chan string
}

func (p *putCounter) Put(ctx context.Context, name string, r io.Reader) (record.Info, error) {
	info, err := p.Store.Put(ctx, name, r)
	p.put <- name
	return info, err
}

// BenchmarkObjectStoreRead reads a 10-minute recording (9.6 MB) back from
// the NATS object store (an embedded server): what playing or sealing it
// costs.
func BenchmarkObjectStoreRead(b *testing.B) {
	_, c := bustest.Start(b)
	ctx := context.Background()
	o, err := record.NewObjectStore(ctx, c.JS, record.ObjectStoreConfig{Bucket: "BENCH", Memory: true})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 10*60*8000*2)
	if _, err := o.Put(ctx, "c/rec", bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rc, _, err := o.Open(ctx, "c/rec", 0)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(len(data)) {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		rc.Close()
	}
}
