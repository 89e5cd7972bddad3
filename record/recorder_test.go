package record_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/record"
	"github.com/zaf/g711"
)

// tone is n samples of a µ-law-exact ramp from seed, so what is read
// back can be compared sample for sample.
func tone(n int, seed int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = g711.DecodeUlawFrame(uint8((i + seed) % 256))
	}
	return out
}

type started struct {
	rec    *record.Recorder
	sealed chan string
	stop   func()
}

func startRecorder(t *testing.T, cfg record.RecorderConfig) started {
	t.Helper()
	sealed := make(chan string, 16)
	cfg.Sealed = func(call string) { sealed <- call }
	r, err := record.NewRecorder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	var once bool
	stop := func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(stop)
	return started{r, sealed, stop}
}

func waitSealed(t *testing.T, s started, call string) {
	t.Helper()
	select {
	case c := <-s.sealed:
		if c != call {
			t.Fatalf("sealed %s, want %s", c, call)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s not sealed", call)
	}
}

// readRecording returns a sealed recording's channels as PCM.
func readRecording(t *testing.T, st record.Store, name string) (agent, customer []int16, rec record.Recording) {
	t.Helper()
	rc, _, err := st.Open(context.Background(), name, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rec, err = record.ParseWAV(rc)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != 2*rec.Frames {
		t.Fatalf("data %d bytes, header says %d frames", len(data), rec.Frames)
	}
	for i := 0; i+1 < len(data); i += 2 {
		agent = append(agent, g711.DecodeUlawFrame(data[i]))
		customer = append(customer, g711.DecodeUlawFrame(data[i+1]))
	}
	return agent, customer, rec
}

func newDir(t testing.TB) *record.Dir {
	d, err := record.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRecorderKeepsLegsAligned(t *testing.T) {
	st := newDir(t)
	s := startRecorder(t, record.RecorderConfig{Store: st, Part: time.Second, MaxLag: 500 * time.Millisecond})
	a, c := tone(32_000, 0), tone(19_200, 77)
	// The agent speaks from 0 in 160-sample frames; the customer joins at
	// 9 600 with a 1 600-sample hole (a skipped silence) after 8 000.
	for i := 0; i < len(a); i += 160 {
		s.rec.LegAudio("call-1", msg.RoleAgent, int64(i), a[i:i+160])
		if j := i - 9_600; j >= 0 && j < len(c) && (j < 8_000 || j >= 9_600) {
			s.rec.LegAudio("call-1", msg.RoleCustomer, int64(i), c[j:j+160])
		}
	}
	s.rec.CallEnded("call-1", 40_000) // a hold at the end: silence to 40 000
	waitSealed(t, s, "call-1")
	ga, gc, rec := readRecording(t, st, record.OriginalName("call-1"))
	if rec.Frames != 40_000 || len(rec.Gaps) != 0 {
		t.Fatalf("frames %d gaps %v, want 40000 and none", rec.Frames, rec.Gaps)
	}
	want := make([]int16, 40_000)
	copy(want, a)
	if !slicesEqual(ga, want) {
		t.Error("agent channel differs from the agent's audio")
	}
	want = make([]int16, 40_000)
	copy(want[9_600:17_600], c[:8_000])
	copy(want[19_200:], c[9_600:])
	if !slicesEqual(gc, want) {
		t.Error("customer channel is not the customer's audio at its call-clock places")
	}
	if l, _ := st.List(context.Background(), "call-1/parts/"); len(l) != 0 {
		t.Errorf("parts left after sealing: %v", l)
	}
}

func slicesEqual(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRecorderSurvivesRestart(t *testing.T) {
	st := newDir(t)
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s1 := startRecorder(t, record.RecorderConfig{Store: st, Part: time.Second, Now: clock})
	a := tone(12_000, 3)
	s1.rec.LegAudio("call-2", msg.RoleAgent, 0, a) // 1.5 s
	s1.stop()                                      // the recorder dies mid-call
	if l, _ := st.List(context.Background(), "call-2/parts/"); len(l) == 0 {
		t.Fatal("no part written for the audio before the stop")
	}
	// It comes back 5 s after the call started; capture's new call clock
	// starts then.
	now = now.Add(5 * time.Second)
	s2 := startRecorder(t, record.RecorderConfig{Store: st, Part: time.Second, Now: clock})
	b := tone(8_000, 9)
	s2.rec.LegAudio("call-2", msg.RoleCustomer, 0, b)
	s2.rec.CallEnded("call-2", 8_000)
	waitSealed(t, s2, "call-2")
	ga, gc, rec := readRecording(t, st, record.OriginalName("call-2"))
	if rec.Frames != 48_000 {
		t.Errorf("frames %d, want 48000 (6 s)", rec.Frames)
	}
	if len(rec.Gaps) != 1 || rec.Gaps[0] != (record.Span{Start: 12_000, End: 40_000}) {
		t.Errorf("gaps %v, want 12000-40000 (1.5 s to 5 s)", rec.Gaps)
	}
	if !slicesEqual(ga[:12_000], a) || !slicesEqual(gc[40_000:], b) {
		t.Error("audio before or after the restart not kept in place")
	}
}

// flaky fails its first n puts, as a full disk would.
type flaky struct {
	record.Store
	n atomic.Int32
}

var errFull = errors.New("no space left on device")

func (f *flaky) Put(ctx context.Context, name string, r io.Reader) (record.Info, error) {
	if f.n.Add(-1) >= 0 {
		return record.Info{}, errFull
	}
	return f.Store.Put(ctx, name, r)
}

func TestRecorderRetriesFailedWrites(t *testing.T) {
	st := &flaky{Store: newDir(t)}
	st.n.Store(3)
	s := startRecorder(t, record.RecorderConfig{Store: st, Part: time.Second, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	a := tone(20_000, 5)
	s.rec.LegAudio("call-3", msg.RoleAgent, 0, a)
	s.rec.CallEnded("call-3", 20_000)
	waitSealed(t, s, "call-3")
	ga, _, _ := readRecording(t, st, record.OriginalName("call-3"))
	if !slicesEqual(ga, a) {
		t.Error("audio lost across failed writes")
	}
	if st.n.Load() >= 0 {
		t.Error("the failing puts were not tried")
	}
}

func TestRecorderConfig(t *testing.T) {
	if _, err := record.NewRecorder(record.RecorderConfig{}); err == nil {
		t.Error("a recorder without a store was made")
	}
	if _, err := record.NewRecorder(record.RecorderConfig{Store: newDir(t), Part: time.Millisecond}); err == nil {
		t.Error("a 1 ms part was taken")
	}
}

func TestParseWAVRefuses(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":    nil,
		"not riff": []byte("RIFX\x00\x00\x00\x00WAVE"),
		"pcm":      append([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x40\x1f\x00\x00"), bytes.Repeat([]byte{0}, 8)...),
	} {
		if _, err := record.ParseWAV(bytes.NewReader(b)); !errors.Is(err, record.ErrFormat) {
			t.Errorf("%s: err %v, want ErrFormat", name, err)
		}
	}
}

// TestSpansBeforeSeal: a call's spans to mask may come before its
// recording is sealed (the store's final outran a slow recorder, or a
// recorder in another process): they are kept, and the recording is
// redacted when it is sealed, its original deleted under the redacted
// policy. Spans that come again change nothing.
func TestSpansBeforeSeal(t *testing.T) {
	st := newDir(t)
	done := make(chan string, 2)
	red, err := record.NewRedactor(record.RedactorConfig{Store: st, Done: func(c string) { done <- c }})
	if err != nil {
		t.Fatal(err)
	}
	s := startRecorder(t, record.RecorderConfig{Store: st, Redactor: red})
	ctx := context.Background()
	s.rec.LegAudio("early", msg.RoleAgent, 0, tone(8000, 1))
	s.rec.LegAudio("early", msg.RoleCustomer, 0, tone(8000, 2))
	if err := red.Apply(ctx, msg.AudioRedaction{CallID: "early", Spans: []msg.Span{{StartMS: 400, EndMS: 500}}}); err != nil {
		t.Fatal(err)
	}
	if len(done) > 0 {
		t.Fatal("redacted before the recording was sealed")
	}
	s.rec.CallEnded("early", 8000)
	waitSealed(t, s, "early")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the recording sealed after its spans came is not redacted")
	}
	a, c, _ := readRecording(t, st, record.RedactedName("early"))
	want0, want1 := tone(8000, 1), tone(8000, 2)
	for i := range a {
		masked := i >= 300*8 && i < 600*8 // 400-500 ms, padded 100 ms
		if masked && (a[i] != 0 || c[i] != 0) || !masked && (a[i] != want0[i] || c[i] != want1[i]) {
			t.Fatalf("sample %d: %d/%d (masked %v)", i, a[i], c[i], masked)
		}
	}
	if _, err := st.Stat(ctx, record.OriginalName("early")); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("original kept under the redacted policy: %v", err)
	}
	if err := red.Apply(ctx, msg.AudioRedaction{CallID: "early", Spans: []msg.Span{{StartMS: 400, EndMS: 500}}}); err != nil {
		t.Errorf("spans again: %v", err)
	}
}
