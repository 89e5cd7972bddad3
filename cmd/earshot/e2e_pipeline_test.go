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
	scripts, calls := e2eScripted(t, "../../examples/calls/angry-customer.json")
	script, call := scripts[0], calls[scripts[0].CallID]
	es := e2eStartEarshot(t, srv.ClientURL())
	defer es.stop()
	httpAddr := es.httpAddr
	asrCtx, stopASR := context.WithCancel(context.Background())
	asrDone := make(chan error, 1)
	go func() { asrDone <- e2eTimedWordsASR(asrCtx, conn, "", calls) }()
	defer func() { stopASR(); <-asrDone }()

	base := "http://" + httpAddr
	browsertest.Do(t, bctx, "log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "admin"),
		chromedp.SendKeys("#password", es.password),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#board"),
	)
	wait := func(what, expr string) {
		t.Helper()
		browsertest.WaitFor(t, bctx, shots, 60*time.Second, what, expr)
	}
	wait("board connected", `document.querySelector('#conn').textContent === 'live'`)

	sent := make(chan error, 1)
	go func() { sent <- e2eSend(conn, es.rtpAddr, script, call, 3) }()
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
	// The call was recorded, and once its analysis was final, redacted:
	// the redacted recording is served, from any byte.
	wait("the redacted recording served", `(() => { const x = new XMLHttpRequest();
		x.open('GET', '/api/calls/`+script.CallID+`/recording?format=wav', false); x.setRequestHeader('Range', 'bytes=8-11'); x.send();
		return x.status === 206 && x.responseText === 'WAVE'; })()`)
	browsertest.Screenshot(t, bctx, shots, "call-finished")
	es.stop()
}

// e2eScripted loads the scripted calls at paths and renders them.
func e2eScripted(t *testing.T, paths ...string) ([]*synthcall.Script, map[string]*synthcall.Call) {
	t.Helper()
	var scripts []*synthcall.Script
	calls := map[string]*synthcall.Call{}
	for _, p := range paths {
		sc, err := synthcall.LoadScript(p)
		if err != nil {
			t.Fatal(err)
		}
		call, err := synthcall.Render(context.Background(), sc.SynthTurns(), 1500)
		if err != nil {
			t.Fatal(err)
		}
		scripts, calls[sc.CallID] = append(scripts, sc), call
	}
	return scripts, calls
}

// e2eEarshot is earshot run in this process on the test's NATS server,
// with a temporary data dir and a copy of the example rules, transcribing
// nothing itself: the scripted transcriber takes the jobs.
type e2eEarshot struct {
	httpAddr, rtpAddr string
	password          string // the admin's, as printed
	stop              func() // idempotent; checks the exit status
}

// e2eStartEarshot starts it with more flags and waits until it serves.
func e2eStartEarshot(t *testing.T, natsURL string, more ...string) *e2eEarshot {
	t.Helper()
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	b, err := os.ReadFile("../../examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rulesFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	es := &e2eEarshot{httpAddr: e2eFreeTCP(t), rtpAddr: captureFreePort(t)}
	out := &e2eLines{seen: make(chan struct{}, 1)}
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan int, 1)
	go func() {
		ran <- run(ctx, append([]string{"run", "--nats", natsURL, "--data", dir, "--http", es.httpAddr, "--rtp", es.rtpAddr,
			"--engine", "none", "--rules", rulesFile, "--log-level", "warn"}, more...),
			stdio{strings.NewReader(""), out, &logs})
	}()
	stopped := false
	es.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if code := <-ran; code != 0 {
				t.Errorf("earshot run exited %d: %s", code, logs.String())
			}
		}
	}
	es.password = out.waitFor(t, regexp.MustCompile(`as "admin" with password (\S+)`))[1]
	e2eWaitHTTP(t, "http://"+es.httpAddr+"/healthz")
	return es
}

// e2eSend sends a rendered scripted call to rtpAddr, announced over conn,
// factor times faster than real time.
func e2eSend(conn *bus.Conn, rtpAddr string, sc *synthcall.Script, call *synthcall.Call, factor float64) error {
	_, err := sender.Send(context.Background(), sender.SendConfig{
		To: netip.MustParseAddrPort(rtpAddr), CallID: sc.CallID, Agent: sc.Agent, Queue: sc.Queue, Attributes: sc.Attributes,
		Legs: []sender.Leg{
			{Role: msg.RoleAgent, PCM: call.Legs[msg.RoleAgent]},
			{Role: msg.RoleCustomer, PCM: call.Legs[msg.RoleCustomer]},
		},
		Speed: sender.Speed{Factor: factor}, Announcer: sender.NATSAnnouncer{Conn: conn.NC},
	})
	return err
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
