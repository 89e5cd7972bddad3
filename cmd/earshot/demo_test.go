package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// demoBuilt is where the working tree's demo binary is; the tests build
// theirs into temporary directories and leave it alone.
const demoBuilt = "../../bin/earshot"

// demoTreeBinary notes the working tree's bin/earshot now and checks, when
// the test ends, that the test did not build over it.
func demoTreeBinary(t *testing.T) {
	t.Helper()
	before, errBefore := os.Stat(demoBuilt)
	t.Cleanup(func() {
		after, errAfter := os.Stat(demoBuilt)
		switch {
		case errBefore != nil && errAfter == nil:
			t.Errorf("the test built %s in the working tree", demoBuilt)
		case errBefore == nil && (errAfter != nil || !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size()):
			t.Errorf("the test replaced %s in the working tree", demoBuilt)
		}
	})
}

// demoEnv is the environment of a demo that builds into dir, keeps its
// temporary data dir there and listens on free ports.
func demoEnv(t *testing.T, dir string) (env []string, httpAddr, natsAddr, rtpAddr string) {
	httpAddr, natsAddr, rtpAddr = e2eFreeTCP(t), e2eFreeTCP(t), captureFreePort(t)
	return []string{"BIN=" + filepath.Join(dir, "earshot"), "TMPDIR=" + dir, "ENGINE=none", "ASR_URL=", "DATA=",
		"HTTP=" + httpAddr, "NATS_LISTEN=" + natsAddr, "RTP=" + rtpAddr, "DEMO_LANG=", "LANG=C.UTF-8"}, httpAddr, natsAddr, rtpAddr
}

// demoRefused runs the demo to its end and checks that it refused with
// exit 2, saying each of want on stderr, before it said it was running.
func demoRefused(t *testing.T, env []string, want ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := demoScript(context.Background(), env)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Errorf("exit %d (%v), want 2; stderr:\n%s", code, err, stderr.String())
	}
	if strings.Contains(stdout.String(), "Earshot is running") {
		t.Errorf("a refused demo said it was running:\n%s", stdout.String())
	}
	for _, w := range want {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
		}
	}
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
// the calls' utterances reach the (OpenAI-compatible) transcription server;
// with DEMO_LANG=ko, asking for Korean.
func TestDemoWithHTTPEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	demoTreeBinary(t)
	for _, lang := range []string{"en", "ko"} {
		t.Run(lang, func(t *testing.T) {
			languages := make(chan string, 1000) // of each request
			asr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/audio/transcriptions" || r.ParseMultipartForm(8<<20) != nil {
					http.Error(w, "not a transcription request", http.StatusBadRequest)
					return
				}
				select {
				case languages <- r.FormValue("language"):
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
			env, httpAddr, _, _ := demoEnv(t, dir)
			cmd := demoScript(ctx, append(env, "ENGINE=", "ASR_URL="+asr.URL, "DEMO_LANG="+lang))
			cmd.Stdout, cmd.Stderr = out, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			login := out.waitWithin(t, regexp.MustCompile(`log in at (\S+) as "admin" with password (\S+)`), 3*time.Minute)
			if login[1] != "http://"+httpAddr {
				t.Errorf("the login line names %q, want the demo's URL http://%s", login[1], httpAddr)
			}
			if _, err := os.Stat(filepath.Join(dir, "earshot")); err != nil {
				t.Errorf("the demo did not build into BIN: %v", err)
			}
			// The example calls are sent in real time; their first turns
			// are transcribed within seconds.
			want := map[string]string{"en": "", "ko": "ko"}[lang]
			deadline := time.After(2 * time.Minute)
			for n := 0; n < 3; n++ { // the start-up check, then utterances
				select {
				case got := <-languages:
					if n > 0 && got != want {
						t.Errorf("an utterance was sent with language %q, want %q", got, want)
					}
				case <-deadline:
					t.Fatalf("the demo sent %d requests to the ASR server in 2 minutes; stderr:\n%s", n, stderr.String())
				}
			}
			cancel() // Ctrl-C
			_ = cmd.Wait()
			if !strings.Contains(stderr.String(), "transcription: the OpenAI-compatible server at "+asr.URL) {
				t.Errorf("the demo did not say which engine it used:\n%s", stderr.String())
			}
		})
	}
}

// The demo chooses its language: DEMO_LANG=ko (or LANG=ko, exactly) wants
// the multilingual model, refuses an English-only one; anything else but
// en is refused.
func TestDemoLanguage(t *testing.T) {
	dir := t.TempDir()
	english := filepath.Join(dir, "ggml-base.en.bin")
	if err := os.WriteFile(english, []byte("lmgg"), 0o644); err != nil {
		t.Fatal(err)
	}
	offline := []string{"EARSHOT_OFFLINE=1", "ASR_URL=", "ENGINE=", "LANG=C.UTF-8"}
	for _, tc := range []struct {
		env  []string
		want []string
	}{
		{[]string{"DEMO_LANG=ko", "WHISPER_MODEL="}, []string{"ggml-base.bin"}},
		{[]string{"DEMO_LANG=", "LANG=ko", "WHISPER_MODEL="}, []string{"ggml-base.bin"}},
		{[]string{"DEMO_LANG=", "WHISPER_MODEL="}, []string{"ggml-base.en.bin"}},
		{[]string{"DEMO_LANG=ko", "WHISPER_MODEL=" + english}, []string{"English-only", "ggml-base.bin"}},
		{[]string{"DEMO_LANG=fr"}, []string{"DEMO_LANG=fr", "en or ko"}},
	} {
		var stderr bytes.Buffer
		cmd := demoScript(context.Background(), append(append([]string{}, offline...), tc.env...), "--check")
		cmd.Stderr = &stderr
		_ = cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", tc.env, code, stderr.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr does not say %q:\n%s", tc.env, w, stderr.String())
			}
		}
	}
}

// A second demo while one runs: it refuses (exit 2, with the reason) when
// its HTTP, NATS or RTP port or its data dir is in use, deletes nothing of
// the running demo's (which goes on serving), never says it is running, and
// never builds over the working tree's bin/earshot. The demo's temporary
// data dir goes when it ends; nothing else there does.
func TestDemoRefusesWhatIsInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	demoTreeBinary(t)
	dir := t.TempDir()
	keep := filepath.Join(dir, "not-the-demos")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	env, httpAddr, natsAddr, rtpAddr := demoEnv(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := &e2eLines{seen: make(chan struct{}, 1)}
	var stderr bytes.Buffer
	first := demoScript(ctx, env)
	first.Stdout, first.Stderr = out, &stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	running := false
	defer func() {
		if running {
			cancel()
			_ = first.Wait()
		}
	}()
	running = true
	out.waitWithin(t, regexp.MustCompile(`Earshot is running`), 3*time.Minute)
	made, _ := filepath.Glob(filepath.Join(dir, "earshot-demo.*"))
	if len(made) != 1 {
		t.Fatalf("the demo's temporary data dirs: %v, want one under TMPDIR", made)
	}
	data := made[0]
	files := func() []string {
		var names []string
		_ = filepath.WalkDir(data, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				names = append(names, p)
			}
			return nil
		})
		return names
	}
	before := files()
	if !slices.Contains(before, filepath.Join(data, "earshot.db")) {
		t.Fatalf("the running demo has no store in %s: %v", data, before)
	}

	set := func(kv ...string) []string { return append(append([]string{}, env...), kv...) }
	t.Run("http port", func(t *testing.T) {
		demoRefused(t, set("NATS_LISTEN="+e2eFreeTCP(t), "RTP="+captureFreePort(t)), "--http "+httpAddr, "address already in use")
	})
	t.Run("nats port", func(t *testing.T) {
		fresh := filepath.Join(dir, "fresh")
		demoRefused(t, set("DATA="+fresh, "HTTP="+e2eFreeTCP(t), "RTP="+captureFreePort(t)), "--nats-listen "+natsAddr, "address already in use")
		if _, err := os.Stat(fresh); !os.IsNotExist(err) {
			t.Errorf("DATA=%s, made by a demo that never served, is still there (%v)", fresh, err)
		}
	})
	t.Run("rtp port", func(t *testing.T) {
		demoRefused(t, set("HTTP="+e2eFreeTCP(t), "NATS_LISTEN="+e2eFreeTCP(t)), "listen on udp "+rtpAddr, "address already in use")
	})
	t.Run("data dir", func(t *testing.T) {
		demoRefused(t, set("DATA="+data, "HTTP="+e2eFreeTCP(t), "NATS_LISTEN="+e2eFreeTCP(t), "RTP="+captureFreePort(t)), "DATA="+data, "in use")
	})
	t.Run("a file as data dir", func(t *testing.T) {
		demoRefused(t, set("DATA="+keep, "HTTP="+e2eFreeTCP(t), "NATS_LISTEN="+e2eFreeTCP(t), "RTP="+captureFreePort(t)), "DATA="+keep, "in use")
	})
	for _, f := range before {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("a refused demo deleted the running demo's %s", f)
		}
	}
	e2eWaitHTTP(t, "http://"+httpAddr+"/healthz")
	left, _ := filepath.Glob(filepath.Join(dir, "earshot-demo.*"))
	if len(left) != 1 {
		t.Errorf("refused demos left temporary data dirs: %v", left)
	}

	cancel() // Ctrl-C
	_ = first.Wait()
	running = false
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the demo's temporary data dir %s is still there after it ended (%v)", data, err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the demo deleted %s, which it did not create", keep)
	}
}
