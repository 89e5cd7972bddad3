package transcribe

import (
	"slices"
	"testing"
)

func pcmTone(n int) []int16 {
	f := tone(8000, 440, n, 0.3)
	p := make([]int16, n)
	for i, v := range f {
		p[i] = int16(v * 32767)
	}
	return p
}

// Interims and the final of a part resampled through the resumer come out
// as resampling each whole would; the final's part is then forgotten, and
// the memory bound holds.
func TestResumerMatchesWhole(t *testing.T) {
	rs, err := NewResampler(8000, EngineRate)
	if err != nil {
		t.Fatal(err)
	}
	whole := func(p []int16) []float32 { return rs.Resample(nil, PCM16ToFloat(nil, p)) }
	r := &resumer{rs: rs, max: 1 << 20}
	pcm := pcmTone(5 * 8000)
	for _, end := range []int{16000, 32000, 40000} {
		got := r.resample("c/agent/1/0", pcm[:end], end < len(pcm))
		if !slices.Equal(got, whole(pcm[:end])) {
			t.Fatalf("%d samples resumed differ from resampled whole", end)
		}
	}
	if n := r.len(); n != 0 {
		t.Fatalf("%d parts kept after the final; want 0", n)
	}
	// Audio that does not continue the kept part is resampled whole.
	r.resample("c/agent/2/0", pcm[:16000], true)
	other := pcmTone(3 * 8000)
	other[100]++
	if got := r.resample("c/agent/2/0", other, true); !slices.Equal(got, whole(other)) {
		t.Fatal("a part whose audio changed was resumed from the old audio")
	}
	// At most max bytes are kept.
	small := &resumer{rs: rs, max: 400_000} // room for two 2 s parts of 160 kB
	for _, part := range []string{"a", "b", "c"} {
		small.resample(part, pcm[:16000], true)
	}
	if n := small.len(); n != 2 || small.size > small.max {
		t.Fatalf("%d parts kept in %d bytes; want 2 within %d", n, small.size, small.max)
	}
	if small.take("a") != nil {
		t.Fatal("the least recently used part was kept")
	}
}
