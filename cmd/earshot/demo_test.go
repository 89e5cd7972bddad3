package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoScript runs scripts/demo.sh (make run) with env added to this
// process's environment.
func demoScript(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "../../scripts/demo.sh", args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the script and earshot stop together
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = 20 * time.Second
	return cmd
}

// Where the demo can neither find nor get a transcription engine, it says
// exactly what is missing and how to supply it, and exits 2.
func TestDemoSaysWhatIsMissing(t *testing.T) {
	var stderr bytes.Buffer
	cmd := demoScript(context.Background(), []string{"EARSHOT_OFFLINE=1", "WHISPER_MODEL=/nonexistent/model.bin", "ASR_URL=", "ENGINE="}, "--check")
	cmd.Stderr = &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("demo --check exited %d (%v), want 2: %s", code, err, stderr.String())
	}
	for _, want := range []string{"no whisper model", "WHISPER_MODEL=PATH", "ASR_URL", "make run ENGINE=none"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the message does not say %q:\n%s", want, stderr.String())
		}
	}
	if _, err := exec.LookPath("pkg-config"); err == nil && exec.Command("pkg-config", "--exists", "whisper").Run() != nil &&
		!strings.Contains(stderr.String(), "WHISPER_DIR") {
		t.Errorf("libwhisper is absent here, and the message does not say how to point at it:\n%s", stderr.String())
	}
}

// make run over the http engine: the demo builds earshot, starts it on a
// fresh data dir, sends the example calls, prints the URL and login, and
// the calls' utterances reach the (OpenAI-compatible) transcription server.
func TestDemoWithHTTPEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	requests := make(chan struct{}, 1000)
	asr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/audio/transcriptions" || r.ParseMultipartForm(8<<20) != nil {
			http.Error(w, "not a transcription request", http.StatusBadRequest)
			return
		}
		select {
		case requests <- struct{}{}:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"text": "I want to cancel my account"})
	}))
	defer asr.Close()

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := &e2eLines{seen: make(chan struct{}, 1)}
	var stderr bytes.Buffer
	cmd := demoScript(ctx, []string{"ASR_URL=" + asr.URL, "DATA=" + dir + "/demo", "HTTP=" + e2eFreeTCP(t),
		"RTP=" + captureFreePort(t), "NATS_LISTEN=" + e2eFreeTCP(t)})
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	login := out.waitFor(t, regexp.MustCompile(`log in at (\S+) as "admin" with password (\S+)`))
	if !strings.HasPrefix(login[1], "http://127.0.0.1:") {
		t.Errorf("the login line names %q, want the demo's URL", login[1])
	}
	// The example calls are sent in real time; their first turns are
	// transcribed within seconds.
	deadline := time.After(2 * time.Minute)
	for n := 0; n < 3; n++ { // the start-up check, then utterances
		select {
		case <-requests:
		case <-deadline:
			t.Fatalf("the demo sent %d requests to the ASR server in 2 minutes; stderr:\n%s", n, stderr.String())
		}
	}
	cancel() // Ctrl-C
	_ = cmd.Wait()
	if !strings.Contains(stderr.String(), "transcription: the OpenAI-compatible server at "+asr.URL) {
		t.Errorf("the demo did not say which engine it used:\n%s", stderr.String())
	}
}
