package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/bus/bustest"
	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// faultsDSN is a DSN of the EARSHOT_TEST_POSTGRES server whose search_path
// is a new schema, dropped when the test ends; without a server the test
// is skipped (under CI it fails).
func faultsDSN(t *testing.T) string {
	t.Helper()
	const env = "EARSHOT_TEST_POSTGRES"
	dsn := os.Getenv(env)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI: the fault harness needs a PostgreSQL server", env)
		}
		t.Skipf("%s is not set: the fault harness stores on PostgreSQL (e.g. %s=postgres://postgres:earshot@127.0.0.1:5432/postgres)", env, env)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("earshot_faults_%d", os.Getpid())
	if _, err := admin.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE; CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("postgres at %s: %v", env, err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// The fault harness of the scaled-out shape: a 3-node NATS cluster, two
// capture, two asr (a scripted transcriber at the HTTP boundary), two
// analyze and the store on PostgreSQL, under earshot load; a NATS node is
// lost for 10 s, an analyze and an asr are killed mid-work, the store is
// restarted. Two earshot ui serve the same users throughout: a login
// made on one is a session on the other, before and after the faults, and
// the live board of one shows the calls' alerts. At the end every call
// load started is in the store whole: each final job capture published
// has exactly one final segment, each call its final sentiment and
// characteristics, no alert twice.
func TestFaultsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault harness takes a minute or more; not under -short")
	}
	if os.Getenv("EARSHOT_FAULTS") == "" {
		t.Skip("the fault harness runs alone, with `make faults` (EARSHOT_FAULTS=1), which make test runs last")
	}
	dsn := faultsDSN(t)
	cl := bustest.StartCluster(t)
	nurl := cl.URL()
	obs := bustest.ConnectCluster(t, cl, 3)

	// The transcriber double takes a moment per job, so that a kill finds
	// jobs in hand.
	var inflight atomic.Int32
	asrSrv := newScriptedASR(t, &inflight)

	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	b, err := os.ReadFile("../../examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rulesFile, b, 0o644); err != nil {
		t.Fatal(err)
	}

	// What the pipeline publishes, watched as it goes.
	finals := make(chan *nats.Msg, 100000)
	sub, err := obs.NC.ChanSubscribe("earshot.analysis.*.segment", finals)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	callEvents := make(chan *nats.Msg, 100000)
	csub, err := obs.NC.ChanSubscribe(msg.AllCalls, callEvents)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = csub.Unsubscribe() }()
	var scored atomic.Int64
	progress := make(chan struct{}, 1)
	var watch sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watch.Go(func() {
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-finals:
				scored.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}
	})
	defer func() { stopWatch(); watch.Wait() }()
	// nextScored waits for a final segment scored after now and returns
	// how long it took: the pipeline going on.
	nextScored := func(what string) time.Duration {
		t.Helper()
		start, from := time.Now(), scored.Load()
		timeout := time.After(60 * time.Second)
		for scored.Load() <= from {
			select {
			case <-progress:
			case <-timeout:
				t.Fatalf("after %s: no final segment scored within 60 s", what)
			}
		}
		return time.Since(start)
	}

	storeArgs := []string{"store", "--nats", nurl, "--db", dsn, "--http", "", "--log-level", "warn"}
	stopStore := stageStart(t, storeArgs...)
	type capt struct{ rtp, http string }
	capts := []capt{{loadFreePortRange(t, 6), e2eFreeTCP(t)}, {loadFreePortRange(t, 6), e2eFreeTCP(t)}}
	for _, c := range capts {
		stageStart(t, "capture", "--nats", nurl, "--rtp", c.rtp, "--http", c.http, "--capture-token", "tok",
			"--call-timeout", "5s", "--record", "none", "--log-level", "warn")
		e2eWaitHTTP(t, "http://"+c.http+"/healthz")
	}
	asrArgs := []string{"--engine", "http", "--asr-url", asrSrv.URL, "--asr-workers", "2"}
	asrs := []*stageProc{startStageProc(t, nurl, &asrStage{}, asrArgs...), startStageProc(t, nurl, &asrStage{}, asrArgs...)}
	anArgs := func(id string) []string {
		return []string{"--identity", id, "--partitions", "4", "--rules", rulesFile, "--sentiment-grace", "15s", "--rules-grace", "5s"}
	}
	ans := []*stageProc{startStageProc(t, nurl, &analyzeStage{}, anArgs("an1")...), startStageProc(t, nurl, &analyzeStage{}, anArgs("an2")...)}
	waitPartitions(t, 4, 15*time.Second, ans...)

	// Two web views on the same NATS and store: logged in on the first,
	// the session works on the second, which makes an API token the first
	// takes for its live board.
	uis := []faultsWeb{faultsUI(t, nurl, dsn, true), faultsUI(t, nurl, dsn, false)}
	session := uiLogin(t, uis[0].url, "admin", uis[0].password)
	token := session.token(t, uis[1].url, "admin")
	// The first web view learns of the token through its watch of the
	// users bucket, a moment after the second made it.
	tokenKnown(t, uis[0].url, token)
	board := openSSE(t, uis[0].url+"/api/ui/live", token)

	// Load on both captures.
	type loadResult struct {
		tot  loadTotals
		code int
		errs string
	}
	loads := make(chan loadResult, len(capts))
	for _, c := range capts {
		go func() {
			code, out, errs := captureRun(context.Background(), "load", "--to", c.rtp, "--calls", "3", "--duration", "25s",
				"--speed", "4", "--scripts", "../../examples/calls", "--announce", "http://"+c.http+"/api/calls/announce",
				"--announce-token", "tok", "--json")
			var tot loadTotals
			if code == 0 {
				if err := json.Unmarshal([]byte(out), &tot); err != nil {
					errs += fmt.Sprintf("; output %q: %v", out, err)
					code = -1
				}
			}
			loads <- loadResult{tot, code, errs}
		}()
	}
	recovered := map[string]time.Duration{}
	nextScored("load start")

	// 1. A NATS node lost, the one leading the events stream, back 10 s later.
	s, err := obs.JS.Stream(context.Background(), bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	leader := s.CachedInfo().Cluster.Leader
	lost := int(leader[len(leader)-1]-'0') - 1
	cl.Stop(lost)
	recovered["nats node lost"] = nextScored("a nats node lost")
	time.Sleep(10 * time.Second) // the fault's length: the node is away 10 s
	cl.Restart(lost)
	recovered["nats node back"] = nextScored("the nats node back")

	// 2. An analyze killed: its partitions move. First both own their
	// share again (the node lost may have cost one its leases), so that
	// the time measured is the killed one's partitions being taken over.
	waitPartitions(t, 4, 15*time.Second, ans...)
	if len(ans[1].owned()) == 0 {
		t.Fatal("the analyze to be killed owns no partition: its kill would test nothing")
	}
	// Timed from the kill, while the killed stage finishes (on a closed
	// connection it may take seconds, which a process killed does not).
	killed := time.Now()
	stopped := ans[1].killing()
	waitPartitions(t, 4, 15*time.Second, ans[0])
	recovered["analyze killed (partitions taken over)"] = time.Since(killed)
	<-stopped

	// 3. An asr killed with jobs in hand.
	for inflight.Load() == 0 {
		nextScored("waiting for a job in hand")
	}
	asrs[1].kill()
	recovered["asr killed"] = nextScored("an asr killed")

	// 4. The store restarted.
	stopStore()
	stageStart(t, storeArgs...)
	recovered["store restarted"] = nextScored("the store restarted")

	// The same session and token on either web view after the faults.
	session.me(t, uis[1].url)
	session.me(t, uis[0].url)
	leakAPI(t, http.MethodGet, uis[1].url+"/api/ui/me", token, nil, http.StatusOK)

	var sent loadTotals
	for range capts {
		r := <-loads
		if r.code != 0 || r.tot.SendErrors != 0 || r.tot.CallsFinished != r.tot.CallsStarted {
			t.Fatalf("earshot load exited %d with %+v: %s", r.code, r.tot, r.errs)
		}
		sent.CallsStarted += r.tot.CallsStarted
		sent.Utterances += r.tot.Utterances
		sent.Packets += r.tot.Packets
	}
	t.Logf("earshot load sent %d calls, %d utterances, %d packets", sent.CallsStarted, sent.Utterances, sent.Packets)

	// What capture published: the calls it ended and their final jobs,
	// read again on every call event until each call load made has ended.
	jobs := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for len(jobs) < sent.CallsStarted {
		jobs = map[string]int{}
		started := map[string]bool{}
		readStream(t, obs, []string{msg.AllCalls}, func(m jetstream.Msg) {
			var e msg.CallEvent
			mustUnmarshal(t, m.Data(), &e)
			switch {
			case !strings.HasPrefix(e.CallID, "load-"):
			case e.Kind == msg.CallStarted:
				started[e.CallID] = true
			case e.Kind == msg.CallEnded:
				for _, n := range e.FinalJobs {
					jobs[e.CallID] += n
				}
				if _, ok := jobs[e.CallID]; !ok {
					jobs[e.CallID] = 0
				}
			}
		})
		if len(jobs) >= sent.CallsStarted {
			break
		}
		var open []string
		for c := range started {
			if _, ok := jobs[c]; !ok {
				open = append(open, c)
			}
		}
		select {
		case <-callEvents:
			for len(callEvents) > 0 { // read the stream again once for them all
				<-callEvents
			}
		case <-time.After(time.Until(deadline)):
			t.Fatalf("capture ended %d calls of the %d load started within 60 s; started and not ended: %v", len(jobs), sent.CallsStarted, open)
		}
	}

	// What the store holds, once it has everything.
	st, err := openStore(context.Background(), dsn, "", true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	complete := func(call string, want int) (string, bool) {
		rec, err := st.Call(context.Background(), call, false)
		if err != nil {
			return err.Error(), false
		}
		ids := map[string]int{}
		for _, s := range rec.Segments {
			ids[s.ID]++
		}
		switch {
		case len(ids) != want || len(rec.Segments) != want:
			return fmt.Sprintf("%d segments (%d distinct), want %d", len(rec.Segments), len(ids), want), false
		case rec.Sentiment == nil || !rec.Sentiment.Final:
			return "no final sentiment", false
		case rec.Characteristics == nil || !rec.Characteristics.Final:
			return "no final characteristics", false
		}
		return "", true
	}
	deadline = time.Now().Add(120 * time.Second)
	for call, want := range jobs {
		for {
			why, ok := complete(call, want)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("call %s not whole in the store: %s", call, why)
			}
			time.Sleep(200 * time.Millisecond) // polling the store, which has no event to wait on
		}
	}
	alerts, dup := map[string]int{}, 0
	readStream(t, obs, []string{msg.AllAlerts}, func(m jetstream.Msg) {
		var a msg.Alert
		mustUnmarshal(t, m.Data(), &a)
		if alerts[a.ID]++; alerts[a.ID] > 1 {
			dup++
		}
	})
	if dup > 0 {
		t.Errorf("%d alerts published more than once", dup)
	}
	if len(alerts) > 0 {
		board.waitFor(t, "a board row with an alert on the first web view", func(ev string) bool {
			return strings.HasPrefix(ev, "row ") && alertsOnRow.MatchString(ev)
		})
	}
	total := 0
	for _, n := range jobs {
		total += n
	}
	t.Logf("stored whole: %d calls, %d final segments (one per final job), %d alerts, lost 0, duplicates %d", len(jobs), total, len(alerts), dup)
	for what, d := range recovered {
		t.Logf("recovered after %s: %s", what, d.Round(time.Millisecond))
	}
}

// newScriptedASR is the transcriber double: an OpenAI-style HTTP server
// answering every job with a scripted text after 200 ms, counting the jobs
// in hand.
func newScriptedASR(t *testing.T, inflight *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Add(-1)
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond): // the transcriber's own time
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, asrAnswer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// alertsOnRow finds a live board row with alerts.
var alertsOnRow = regexp.MustCompile(`"alerts":[1-9]`)

// faultsWeb is one earshot ui of the harness.
type faultsWeb struct{ url, password string }

// faultsUI starts earshot ui on nurl and the store dsn until the test
// ends; the first one started creates the admin and prints its password.
func faultsUI(t *testing.T, nurl, dsn string, first bool) faultsWeb {
	t.Helper()
	addr := e2eFreeTCP(t)
	out := &e2eLines{seen: make(chan struct{}, 1)}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan int, 1)
	go func() {
		ran <- run(ctx, []string{"ui", "--nats", nurl, "--http", addr, "--ui-store", dsn, "--data", t.TempDir(), "--log-level", "warn"},
			stdio{strings.NewReader(""), out, &logs})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-ran; code != 0 {
			t.Errorf("earshot ui exited %d: %s", code, logs.String())
		}
	})
	w := faultsWeb{url: "http://" + addr}
	if first {
		w.password = out.waitFor(t, regexp.MustCompile(`as "admin" with password (\S+)`))[1]
	}
	e2eWaitHTTP(t, w.url+"/healthz")
	return w
}

// tokenKnown waits until the web view at base takes token.
func tokenKnown(t *testing.T, base, token string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequest(http.MethodGet, base+"/api/ui/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the token made on the other web view is refused (%s) after 10 s", base, resp.Status)
		}
		<-tick.C
	}
}
