package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startupArgs is earshot run on its own embedded NATS, in dir, without
// transcription, on the given addresses.
func startupArgs(dir, httpAddr, natsAddr, rtpAddr string, more ...string) []string {
	return append([]string{"run", "--data", dir, "--http", httpAddr, "--nats-listen", natsAddr, "--rtp", rtpAddr,
		"--engine", "none", "--log-level", "error"}, more...)
}

// startupBusyTCP holds a TCP port on 127.0.0.1 until the test ends.
func startupBusyTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// A start that fails (here: the HTTP port is taken) prints no login and
// leaves no users file, so the next start prints one; the login names the
// --http address when --ui-url is not given; an operator who lost the
// password resets it from the command line, and the new one logs in.
func TestRunLoginOnlyOnceServing(t *testing.T) {
	dir := t.TempDir()
	busy := startupBusyTCP(t)
	code, stdout, stderr := captureRun(context.Background(), startupArgs(dir, busy, e2eFreeTCP(t), captureFreePort(t))...)
	if code != 2 || !strings.Contains(stderr, "--http "+busy) || !strings.Contains(stderr, "address already in use") {
		t.Fatalf("--http on a busy port: exit %d, stderr %q; want 2 naming --http %s and the cause", code, stderr, busy)
	}
	if strings.Contains(stdout, "password") {
		t.Fatalf("a start that failed printed a login: %q", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "ui-users.json")); !os.IsNotExist(err) {
		t.Fatalf("a start that failed left a users file (%v)", err)
	}

	httpAddr := e2eFreeTCP(t)
	base := "http://" + httpAddr
	loginRE := regexp.MustCompile(`log in at (\S+) as "admin" with password (\S+)`)
	start := func() (out *e2eLines, stop func()) {
		out = &e2eLines{seen: make(chan struct{}, 1)}
		var logs bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan int, 1)
		go func() {
			ran <- run(ctx, startupArgs(dir, httpAddr, e2eFreeTCP(t), captureFreePort(t)), stdio{strings.NewReader(""), out, &logs})
		}()
		stopped := false
		stop = func() {
			if !stopped {
				stopped = true
				cancel()
				if code := <-ran; code != 0 {
					t.Errorf("earshot run exited %d: %s", code, logs.String())
				}
			}
		}
		e2eWaitHTTP(t, base+"/healthz")
		return out, stop
	}
	out, stop := start()
	login := out.waitFor(t, loginRE)
	if login[1] != base {
		t.Errorf("the login names %s; --http is %s", login[1], httpAddr)
	}
	stop()

	code, stdout, stderr = captureRun(context.Background(), "users", "reset-password", "admin", "--data", dir)
	pw := regexp.MustCompile(`new password for "admin": (\S+)`).FindStringSubmatch(stdout)
	if code != 0 || pw == nil {
		t.Fatalf("users reset-password: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	out, stop = start()
	defer stop()
	for _, c := range []struct {
		password string
		want     int
	}{{login[2], http.StatusUnauthorized}, {pw[1], http.StatusOK}} {
		b, _ := json.Marshal(map[string]string{"name": "admin", "password": c.password})
		resp, err := http.Post(base+"/api/ui/login", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("login with the %s password: %d, want %d", map[bool]string{true: "reset", false: "old"}[c.password == pw[1]], resp.StatusCode, c.want)
		}
	}
	stop()
	if m := loginRE.FindString(out.buf.String()); m != "" {
		t.Errorf("the second start printed a login: %q", m)
	}
	for _, bad := range [][]string{
		{"users", "reset-password", "nobody", "--data", dir},
		{"users", "reset-password", "admin", "--data", t.TempDir()},
		{"users", "rename", "admin"},
	} {
		if code, _, stderr := captureRun(context.Background(), bad...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 with the reason", bad, code, stderr)
		}
	}
}

// What earshot run cannot start with is refused at once with its cause:
// a NATS or RTP port in use, no usable transcription engine (before NATS,
// the store or the rules start: the data dir is not even made).
func TestRunRefusesAtOnce(t *testing.T) {
	busyUDP, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer busyUDP.Close()
	busyNATS := startupBusyTCP(t)
	for _, tc := range []struct {
		name    string
		args    func(dir string) []string
		want    []string
		noData  bool
		without string
	}{
		{"nats port in use", func(dir string) []string {
			return startupArgs(dir, e2eFreeTCP(t), busyNATS, captureFreePort(t))
		}, []string{"--nats-listen " + busyNATS, "address already in use"}, false, ""},
		{"rtp port in use", func(dir string) []string {
			return startupArgs(dir, e2eFreeTCP(t), e2eFreeTCP(t), busyUDP.LocalAddr().String())
		}, []string{"capture: listen on udp " + busyUDP.LocalAddr().String(), "address already in use"}, false, "capture: capture:"},
		{"no engine", func(dir string) []string {
			return []string{"run", "--data", dir, "--http", e2eFreeTCP(t), "--nats-listen", busyNATS,
				"--rtp", captureFreePort(t), "--engine", "auto", "--model", "", "--asr-url", ""}
		}, []string{"no transcription engine"}, true, "nats"},
		{"whisper without a model file", func(dir string) []string {
			return []string{"run", "--data", dir, "--http", e2eFreeTCP(t), "--nats-listen", busyNATS,
				"--rtp", captureFreePort(t), "--engine", "whisper", "--model", filepath.Join(dir, "ggml-base.bin")}
		}, []string{"ggml-base.bin does not exist"}, true, "nats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			begun := time.Now()
			code, _, stderr := captureRun(context.Background(), tc.args(dir)...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q: %q", w, stderr)
				}
			}
			if tc.without != "" && strings.Contains(stderr, tc.without) {
				t.Errorf("stderr says %q: %q", tc.without, stderr)
			}
			if _, err := os.Stat(dir); tc.noData && !os.IsNotExist(err) {
				t.Errorf("refused only after making the data dir (%v)", err)
			}
			if took := time.Since(begun); took > 5*time.Second {
				t.Errorf("the refusal took %s; its cause is known at once", took)
			}
		})
	}
}

// The login URL is the address earshot listens on; one on every interface
// is reached by this machine's name.
func TestViewURL(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9123}, "http://127.0.0.1:9123"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "http://[::1]:8080"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "http://" + net.JoinHostPort(host, "8080")},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://" + net.JoinHostPort(host, "8080")},
	} {
		if got := viewURL(tc.addr); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.addr, got, tc.want)
		}
	}
}
