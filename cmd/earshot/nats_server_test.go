package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// stageExit runs earshot with args and returns its exit status and
// stderr. A stage that fails at start must exit by itself: after 20 s it
// is stopped as by SIGTERM, and the test fails.
func stageExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb bytes.Buffer // read once run has returned
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, stdio{strings.NewReader(""), io.Discard, &errb}) }()
	select {
	case code := <-done:
		return code, errb.String()
	case <-time.After(20 * time.Second):
		cancel()
		code := <-done
		t.Fatalf("earshot %s still running 20 s after start; stopped, it exited %d:\n%s", strings.Join(args, " "), code, errb.String())
		return 0, ""
	}
}

// oldNATS starts Debian's nats-server, when installed and older than
// 2.10, with JetStream on a free loopback port, and returns its URL.
func oldNATS(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server" // Debian's package puts it here
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Skipf("no nats-server binary (%v): apt-get install nats-server (Debian 12 has 2.9) to test against a server older than %s", err, bus.MinServerVersion)
	}
	m := regexp.MustCompile(`v(\d+)\.(\d+)\.\d+`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("nats-server --version said %q", out)
	}
	if major, _ := strconv.Atoi(m[1]); major > 2 {
		t.Skipf("%s is %s: not older than %s", bin, m[0], bus.MinServerVersion)
	}
	if minor, _ := strconv.Atoi(m[2]); minor >= 10 {
		t.Skipf("%s is %s: not older than %s", bin, m[0], bus.MinServerVersion)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", t.TempDir())
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "nats://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s not listening on %s after 10 s: %v\n%s", bin, m[0], addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a port another process opens
	}
}

// Against a NATS server older than 2.10 every stage refuses to start and
// says which version it needs.
func TestStagesRefuseOldNATS(t *testing.T) {
	url := oldNATS(t)
	for _, args := range [][]string{
		{"store", "--data", t.TempDir()},
		{"analyze", "--data", t.TempDir()},
		{"asr", "--engine", "none"},
		{"run", "--nats", url, "--engine", "none", "--data", t.TempDir(), "--http", "", "--rtp", "127.0.0.1:0"},
	} {
		if args[0] != "run" {
			args = append([]string{args[0], "--nats", url}, args[1:]...)
		}
		code, errs := stageExit(t, args...)
		if code != 1 || !strings.Contains(errs, "2.9.") || !strings.Contains(errs, "2.10.0 or newer") {
			t.Errorf("earshot %s against nats-server 2.9: exit %d, stderr:\n%s\nwant exit 1 naming the server's version and 2.10.0", args[0], code, errs)
		}
	}
}

// Against a server without JetStream a stage refuses to start and says
// what it needs.
func TestStagesRefuseNATSWithoutJetStream(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	code, errs := stageExit(t, "store", "--nats", ns.ClientURL(), "--data", t.TempDir())
	if code != 1 || !strings.Contains(errs, "JetStream") || !strings.Contains(errs, "2.10.0 or newer") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 saying JetStream is needed", code, errs)
	}
}

// A stage whose consumer cannot be created stops at once with the error:
// it does not run on, storing nothing, until SIGTERM.
func TestStoreConsumerFailureIsFatal(t *testing.T) {
	srv, c := bustest.Start(t)
	// A push consumer named like the store's pull consumer: JetStream
	// refuses to turn it into a pull consumer.
	if _, err := c.JS.CreateOrUpdateConsumer(context.Background(), bus.StreamEvents, jetstream.ConsumerConfig{
		Durable: "store", DeliverSubject: "elsewhere", AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	code, errs := stageExit(t, "store", "--nats", srv.ClientURL(), "--data", t.TempDir())
	if code != 1 || !strings.Contains(errs, "consumer store") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 naming the consumer", code, errs)
	}
}
