package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/internal/browsertest"
	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go/jetstream"
)

// TestPipelineInBrowser runs earshot run (every stage, in this process) on
// a real NATS server with the example rules, sends the example angry
// customer over real UDP, transcribes it with the scripted ASR (the one
// boundary that cannot be reached here), and walks the web view in headless
// Chromium: log in with the printed password, watch the call appear on the
// board, its transcript grow and the alert fire, then search a phrase after
// the call and open the hit at its moment.
func TestPipelineInBrowser(t *testing.T) {
	if !synthcall.Available() {
		t.Skip(synthcall.ErrNoTools)
	}
	bctx := browsertest.Start(t)
	shots := browsertest.ArtifactDir(t, "e2e")
	srv, conn := bustest.Start(t)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	b, err := os.ReadFile("../../examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rulesFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := synthcall.LoadScript("../../examples/calls/angry-customer.json")
	if err != nil {
		t.Fatal(err)
	}
	call, err := synthcall.Render(context.Background(), script.SynthTurns(), 1500)
	if err != nil {
		t.Fatal(err)
	}

	httpAddr, rtpAddr := e2eFreeTCP(t), captureFreePort(t)
	out := &e2eLines{seen: make(chan struct{}, 1)}
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan int, 1)
	go func() {
		ran <- run(ctx, []string{"run", "--nats", srv.ClientURL(), "--data", dir, "--http", httpAddr, "--rtp", rtpAddr,
			"--engine", "none", "--rules", rulesFile, "--ui-url", "http://" + httpAddr, "--log-level", "warn"},
			stdio{strings.NewReader(""), out, &logs})
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if code := <-ran; code != 0 {
				t.Errorf("earshot run exited %d: %s", code, logs.String())
			}
		}
	}
	defer stop()
	login := out.waitFor(t, regexp.MustCompile(`as "admin" with password (\S+)`))
	e2eWaitHTTP(t, "http://"+httpAddr+"/healthz")
	asrCtx, stopASR := context.WithCancel(context.Background())
	asrDone := make(chan error, 1)
	go func() { asrDone <- e2eTimedWordsASR(asrCtx, conn, "", map[string]*synthcall.Call{script.CallID: call}) }()
	defer func() { stopASR(); <-asrDone }()

	base := "http://" + httpAddr
	browsertest.Do(t, bctx, "log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "admin"),
		chromedp.SendKeys("#password", login[1]),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#board"),
	)
	wait := func(what, expr string) {
		t.Helper()
		browsertest.WaitFor(t, bctx, shots, 60*time.Second, what, expr)
	}
	wait("board connected", `document.querySelector('#conn').textContent === 'live'`)

	sent := make(chan error, 1)
	go func() {
		_, err := sender.Send(context.Background(), sender.SendConfig{
			To: netip.MustParseAddrPort(rtpAddr), CallID: script.CallID, Agent: script.Agent, Queue: script.Queue,
			Legs: []sender.Leg{
				{Role: msg.RoleAgent, PCM: call.Legs[msg.RoleAgent]},
				{Role: msg.RoleCustomer, PCM: call.Legs[msg.RoleCustomer]},
			},
			Speed: sender.Speed{Factor: 3}, Announcer: sender.NATSAnnouncer{Conn: conn.NC},
		})
		sent <- err
	}()
	row := fmt.Sprintf(`document.querySelector('tr[data-call="%s"]')`, script.CallID)
	wait("the call on the board", row+` !== null && `+row+`.textContent.includes('alice') && `+row+`.textContent.includes('billing')`)
	browsertest.Screenshot(t, bctx, shots, "board-call-live")
	browsertest.Do(t, bctx, "open the call", chromedp.Click(`tr[data-call="`+script.CallID+`"] a`), chromedp.WaitVisible("#transcript"))
	wait("the transcript growing", `document.querySelectorAll('#transcript li').length >= 2`)
	wait("the angry customer alert", `document.querySelector('#alerts').textContent.includes('Angry customer')`)
	wait("the customer's words", `document.querySelector('#transcript').textContent.includes('speak to a manager')`)
	browsertest.Screenshot(t, bctx, shots, "call-live")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	// After the call: the store has it, categories and all; search finds it.
	e2eWaitStored(t, conn, script.CallID)
	browsertest.Do(t, bctx, "search",
		chromedp.Navigate(base+"/search"),
		chromedp.WaitVisible("#q"),
		chromedp.SendKeys("#q", `"cancel my account"`),
		chromedp.Click("#search-submit"),
	)
	wait("the hit with the phrase marked", `(() => { const m = document.querySelector('#hits .snippet mark'); return !!m && m.textContent.toLowerCase().includes('cancel'); })()`)
	browsertest.Screenshot(t, bctx, shots, "search")
	browsertest.Do(t, bctx, "open the hit", chromedp.Click("#hits .snippet"), chromedp.WaitVisible("#transcript"))
	wait("the moment in the call", `(() => { const li = document.querySelector('#transcript li.target'); return !!li && li.textContent.includes('cancel my account'); })()`)
	wait("the stored categories", `document.querySelector('#categories').textContent.includes('Escalation')`)
	browsertest.Screenshot(t, bctx, shots, "call-finished")
	stop()
}

// e2eWaitStored waits for the call's final categories on NATS (the last
// thing the pipeline decides about a call), then for the store to have
// taken everything in the stream, so that a search sees the whole call.
func e2eWaitStored(t *testing.T, conn *bus.Conn, callID string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.After(90 * time.Second)
	poll := func(what string) {
		t.Helper()
		select {
		case <-deadline:
			t.Fatalf("%s for %s not within 90 s", what, callID)
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Read the call's categories from the stream's start: the final ones
	// may already be there.
	sub, err := conn.JS.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{FilterSubjects: []string{msg.SubjectCategories(callID)}})
	if err != nil {
		t.Fatal(err)
	}
	finals := make(chan struct{}, 1)
	cc, err := sub.Consume(func(m jetstream.Msg) {
		var c msg.Categories
		if msg.Unmarshal(m.Data(), &c) == nil && c.Final {
			select {
			case finals <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	select {
	case <-finals:
	case <-deadline:
		t.Fatalf("no final categories for %s within 90 s", callID)
	}
	// The store's consumer has no event to wait on: poll its state.
	for {
		c, err := conn.JS.Consumer(ctx, bus.StreamEvents, "store")
		if err == nil {
			if info, err := c.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return
			}
		}
		poll("the store catching up")
	}
}

// e2eLines is a standard output that tests can wait on.
type e2eLines struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen chan struct{}
}

func (l *e2eLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.seen <- struct{}{}:
	default:
	}
	return l.buf.Write(p)
}

func (l *e2eLines) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	return l.waitWithin(t, re, 30*time.Second)
}

// waitWithin waits up to d for re in what was written.
func (l *e2eLines) waitWithin(t *testing.T, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	timeout := time.After(d)
	for {
		l.mu.Lock()
		m := re.FindStringSubmatch(l.buf.String())
		l.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-l.seen:
		case <-timeout:
			t.Fatalf("nothing printed %s within %s", re, d)
		}
	}
}

var _ io.Writer = (*e2eLines)(nil)

func e2eFreeTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// e2eWaitHTTP waits until url answers 200.
func e2eWaitHTTP(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.After(20 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.CloseIdleConnections()
				return
			}
		}
		select {
		case <-deadline:
			t.Fatalf("%s did not answer 200 within 20 s (last: %v)", url, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
