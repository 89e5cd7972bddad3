package record_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/record"
)

func TestReaderFromAnyOffset(t *testing.T) {
	st := newDir(t)
	s := startRecorder(t, record.RecorderConfig{Store: st, Part: time.Second})
	a, c := tone(20_000, 1), tone(12_000, 50)
	s.rec.LegAudio("r1", msg.RoleAgent, 0, a)
	s.rec.LegAudio("r1", msg.RoleCustomer, 4_000, c)
	s.rec.CallEnded("r1", 20_000)
	waitSealed(t, s, "r1")
	ctx := context.Background()
	for _, pcm := range []bool{false, true} {
		r, err := record.OpenReader(ctx, st, record.OriginalName("r1"), pcm)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(whole)) != r.Size() {
			t.Fatalf("pcm %v: read %d bytes, size says %d", pcm, len(whole), r.Size())
		}
		if pcm {
			hdr := len(whole) - 20_000*4
			if string(whole[:4]) != "RIFF" || binary.LittleEndian.Uint16(whole[20:]) != 1 || binary.LittleEndian.Uint16(whole[34:]) != 16 {
				t.Fatalf("not a 16-bit PCM WAV header: % x", whole[:36])
			}
			for i, want := range a {
				if got := int16(binary.LittleEndian.Uint16(whole[hdr+4*i:])); got != want {
					t.Fatalf("agent sample %d = %d, want %d", i, got, want)
				}
			}
			if got := int16(binary.LittleEndian.Uint16(whole[hdr+4*4_000+2:])); got != c[0] {
				t.Fatalf("customer's first sample = %d, want %d", got, c[0])
			}
		}
		for _, off := range []int64{0, 1, 17, 43, 44, 45, 57, 10_001, 40_000, r.Size() - 1, r.Size()} {
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1000)
			n, err := io.ReadFull(r, buf)
			if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
				t.Fatalf("pcm %v: read at %d: %v", pcm, off, err)
			}
			if !bytes.Equal(buf[:n], whole[off:min(off+1000, int64(len(whole)))]) {
				t.Errorf("pcm %v: read at %d differs from the whole read's bytes there", pcm, off)
			}
		}
		r.Close()
	}
}
