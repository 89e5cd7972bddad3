package ui

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/record"
)

// recordCalls records each call (2 s of a ramp on the agent leg) in a
// new directory store, seals it and writes its redacted recording.
func recordCalls(t testing.TB, ids ...string) record.Store {
	t.Helper()
	return recordCallsFor(t, 2, ids...)
}

// recordCallsFor is recordCalls with calls of the given seconds.
func recordCallsFor(t testing.TB, seconds int, ids ...string) record.Store {
	t.Helper()
	st, err := record.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sealed := make(chan string, len(ids))
	r, err := record.NewRecorder(record.RecorderConfig{Store: st, Sealed: func(c string) { sealed <- c }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	pcm := make([]int16, seconds*8000)
	for i := range pcm {
		pcm[i] = int16(i%200*100 - 10_000)
	}
	for _, id := range ids {
		r.LegAudio(id, msg.RoleAgent, 0, pcm)
		r.CallEnded(id, int64(len(pcm)))
	}
	for range ids {
		select {
		case id := <-sealed:
			if err := record.Redact(context.Background(), st, id, []record.Span{{Start: 800, End: 1600}}, false); err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("recording not sealed")
		}
	}
	return st
}

// logBuffer is a slog handler's writer that tests read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRecording(t *testing.T) {
	logs := &logBuffer{}
	st := recordCalls(t, "own-1")
	recs := append(accessRecords(), msg.CallRecord{Call: msg.CallSummary{CallID: "unrecorded", Agent: "bob", StartedAt: time.Now()}})
	ts := startTestServer(t, Config{Recordings: st, Logger: slog.New(slog.NewTextHandler(logs, nil))}, recs...)
	sup := ts.login(t, testUsers[RoleSupervisor])
	admin := ts.login(t, testUsers[RoleAdmin])

	resp, whole := sup.do("GET", "/api/calls/own-1/recording", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || resp.Header.Get("Accept-Ranges") != "bytes" || !bytes.HasPrefix(whole, []byte("RIFF")) {
		t.Fatalf("recording: %d %v, % x", resp.StatusCode, resp.Header, whole[:min(12, len(whole))])
	}
	resp, orig := admin.do("GET", "/api/calls/own-1/recording?original=1", nil, nil)
	if resp.StatusCode != 200 || bytes.Equal(orig, whole) || len(orig) != len(whole) {
		t.Errorf("original: %d, %d bytes; want the unredacted recording, as long as the redacted", resp.StatusCode, len(orig))
	}
	resp, part := sup.do("GET", "/api/calls/own-1/recording", nil, map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, whole[100:200]) ||
		resp.Header.Get("Content-Range") != "bytes 100-199/"+strconv.Itoa(len(whole)) {
		t.Errorf("range 100-199: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(part))
	}
	resp, pcm := sup.do("GET", "/api/calls/own-1/recording?format=wav", nil, nil)
	if resp.StatusCode != 200 || binary.LittleEndian.Uint16(pcm[20:]) != 1 || binary.LittleEndian.Uint16(pcm[34:]) != 16 || len(pcm) < 16_000*4 {
		t.Errorf("format=wav: %d, %d bytes, not a 16-bit PCM WAV", resp.StatusCode, len(pcm))
	}
	resp, tail := sup.do("GET", "/api/calls/own-1/recording?format=wav", nil, map[string]string{"Range": "bytes=-4"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(tail, pcm[len(pcm)-4:]) {
		t.Errorf("format=wav, last 4 bytes: %d % x, want % x", resp.StatusCode, tail, pcm[len(pcm)-4:])
	}

	for _, c := range []struct {
		name, path, rng string
		status          int
		says            string
	}{
		{"no such call", "/api/calls/nope/recording", "", 404, "no call nope"},
		{"no recording", "/api/calls/unrecorded/recording", "", 404, "no recording of call unrecorded"},
		{"past the end", "/api/calls/own-1/recording", "bytes=" + strconv.Itoa(len(whole)+10) + "-", 416, "range"},
		{"malformed range", "/api/calls/own-1/recording", "bytes=abc", 416, "range"},
		{"bad format", "/api/calls/own-1/recording?format=mp3", "", 400, "format mp3"},
		{"original for a supervisor", "/api/calls/own-1/recording?original=1", "", 403, "admin"},
		{"bad call id", "/api/calls/a%20b/recording", "", 400, "call id"},
	} {
		hdr := map[string]string{}
		if c.rng != "" {
			hdr["Range"] = c.rng
		}
		resp, b := sup.do("GET", c.path, nil, hdr)
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, resp.StatusCode, b, c.status, c.says)
		}
	}
	out := logs.String()
	if strings.Count(out, "recording listened") != 3 || !strings.Contains(out, "user="+testUsers[RoleAdmin]+" call=own-1 original=true") {
		t.Errorf("listens logged:\n%s\nwant the 3 from the start, the admin's original among them", out)
	}
}
