package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/ui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// stage is one pipeline stage as the command line sees it: its flags, and how
// to start it on an environment. Every stage runs alone (earshot NAME) and
// inside earshot run, so stage flag names are unique across stages.
type stage interface {
	name() string
	summary() string
	flags(fs *flag.FlagSet)
	// start checks the flags and builds the stage; the returned runner
	// runs until ctx is done and returns after everything it started.
	start(ctx context.Context, e *env) (runner func(ctx context.Context) error, err error)
}

// pipeline is the stages earshot run starts, in one process.
type pipeline struct {
	store    *storeStage
	evaluate *evaluateStage
	analyze  *analyzeStage
	asr      *asrStage
	capture  *captureStage
	ui       *uiStage
}

func newPipeline() *pipeline {
	return &pipeline{&storeStage{}, &evaluateStage{}, &analyzeStage{}, &asrStage{}, &captureStage{}, &uiStage{}}
}

// stages lists the stages in the order earshot run starts them: each is
// started after those whose products it uses.
func (p *pipeline) stages() []stage {
	return []stage{p.store, p.evaluate, p.analyze, p.asr, p.capture, p.ui}
}

// started hands what a stage opened to the stages started after it: the
// store to the web view (search, call view), to the evaluation forms and to
// the rules' dry runs, its redactor to the rules and the forms (analysts'
// comments), the rules in force to the web view's rules page, the forms to
// its forms page and call view.
// Stages never import each other; this is where they meet.
func (p *pipeline) started(s stage) {
	switch s {
	case stage(p.store):
		p.ui.store = p.store.st
		p.evaluate.st, p.evaluate.redactor = p.store.st, p.store.redactor
		p.analyze.rules.calls = p.store.st
		p.analyze.rules.redactor = p.store.redactor
		if p.capture.recordRetentionDays == 0 {
			p.capture.recordRetentionDays = p.store.retentionDays
		}
	case stage(p.capture):
		p.ui.recordings = p.capture.recordings
	case stage(p.evaluate):
		p.ui.forms = p.evaluate.manager
	case stage(p.analyze):
		p.ui.rules = p.analyze.rules.manager
	case stage(p.asr):
		p.ui.noTranscription = p.asr.none
	}
}

// stages lists the pipeline stages, for the one-stage commands.
func stages() []stage { return newPipeline().stages() }

// env is what a stage is started with.
type env struct {
	log     *slog.Logger
	bus     *bus.Conn
	dataDir string
	metrics *prometheus.Registry
	// mux is served on --http; stages add their routes to it.
	mux *http.ServeMux
	// protect puts a route behind the web view's login, with one of roles;
	// set in earshot run. Alone, a stage mounts only routes that are safe
	// without it (or guards them itself).
	protect func(h http.Handler, roles ...ui.Role) http.Handler
	std     stdio
	allIn   bool // inside earshot run
	// onServing is run, in order, once the HTTP server takes requests,
	// with the URL it is reached at (derived from --http).
	onServing []func(url string) error
}

// commonFlags are the flags every long-running command takes.
type commonFlags struct {
	natsURL  string
	dataDir  string
	httpAddr string
	logLevel string
	logJSON  bool
	pprof    string
	replicas int
}

func (c *commonFlags) register(fs *flag.FlagSet, embedded bool) {
	if embedded {
		fs.StringVar(&c.natsURL, "nats", "", "external NATS server or cluster URL (default: an embedded server)")
	} else {
		fs.StringVar(&c.natsURL, "nats", "nats://127.0.0.1:4222", "NATS server or cluster URL")
	}
	fs.StringVar(&c.dataDir, "data", defaultDataDir, "data directory")
	fs.IntVar(&c.replicas, "replicas", 0, "how many NATS cluster servers keep each stream, durable consumer and key-value/object store; changing it updates them in place (default: what the deployment has; for a new one 1 on a single server, 3 on a cluster of 3 or more)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.BoolVar(&c.logJSON, "log-json", false, "log JSON lines instead of text")
	fs.StringVar(&c.pprof, "pprof", "", "serve Go's profiler (/debug/pprof/) on HOST:PORT, unauthenticated: keep it on 127.0.0.1")
}

// servePprof serves the profiler on c.pprof, when given, until stop.
func (c *commonFlags) servePprof(log *slog.Logger) (stop func(), err error) {
	if c.pprof == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", c.pprof)
	if err != nil {
		return nil, badInputf("--pprof %s: %w", c.pprof, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	log.Info("profiler listening", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() {
		_ = hs.Close()
		<-done
	}, nil
}

// parse parses a long-running command's flags (it takes no arguments) and
// makes its logger.
func (c *commonFlags) parse(fs *flag.FlagSet, args []string, std stdio) (*slog.Logger, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, badInputf("unexpected argument %q", fs.Arg(0))
	}
	return c.logger(std)
}

func (c *commonFlags) logger(std stdio) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, badInputf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if c.logJSON {
		return slog.New(slog.NewJSONHandler(std.err, opts)), nil
	}
	return slog.New(slog.NewTextHandler(std.err, opts)), nil
}

// runStage runs one stage alone against an external NATS.
func runStage(ctx context.Context, s stage, args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot "+s.name(), flag.ContinueOnError)
	fs.SetOutput(std.err)
	var c commonFlags
	c.register(fs, false)
	httpDefault := ""
	if d, ok := s.(interface{ defaultHTTP() string }); ok {
		httpDefault = d.defaultHTTP()
	}
	fs.StringVar(&c.httpAddr, "http", httpDefault, "serve /metrics, /healthz and the stage's HTTP API on this address")
	s.flags(fs)
	log, err := c.parse(fs, args, std)
	if err != nil {
		return err
	}
	if err := check(s); err != nil {
		return err
	}
	stopPprof, err := c.servePprof(log)
	if err != nil {
		return err
	}
	defer stopPprof()
	ln, err := listenHTTP(c.httpAddr)
	if err != nil {
		return err
	}
	conn, err := bus.Connect(ctx, c.natsURL, "earshot-"+s.name(), log, bus.WithReplicas(c.replicas))
	if err != nil {
		closeListener(ln)
		return replicasUsage(err)
	}
	defer conn.Close()
	e := newEnv(log, conn, c.dataDir, std)
	r, err := s.start(ctx, e)
	if err != nil {
		closeListener(ln)
		return listenUsage(err)
	}
	return serve(ctx, e, ln, []namedRunner{{s.name(), r}})
}

// runAll is earshot run: every stage in one process.
func runAll(ctx context.Context, args []string, std stdio) (err error) {
	fs := flag.NewFlagSet("earshot run", flag.ContinueOnError)
	fs.SetOutput(std.err)
	var c commonFlags
	c.register(fs, true)
	fs.StringVar(&c.httpAddr, "http", "127.0.0.1:8080", "web view, API and /metrics address")
	natsListen := fs.String("nats-listen", "127.0.0.1:4222", "where the embedded NATS server takes clients (other earshot processes); \"\" for in-process only")
	p := newPipeline()
	all := p.stages()
	for _, s := range all {
		s.flags(fs)
	}
	log, err := c.parse(fs, args, std)
	if err != nil {
		return err
	}
	// What the flags alone refuse, and an address in use, are refused
	// before NATS, the store or the rules start.
	for _, s := range all {
		if err := check(s); err != nil {
			return stageErr(s.name(), err)
		}
	}
	stopPprof, err := c.servePprof(log)
	if err != nil {
		return err
	}
	defer stopPprof()
	ln, err := listenHTTP(c.httpAddr)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			closeListener(ln) // serve owns it once called
		}
	}()
	if err := os.MkdirAll(c.dataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	url := c.natsURL
	var inProcess []bus.Option
	if url == "" {
		srv, err := bus.StartServer(bus.ServerConfig{
			DataDir: c.dataDir, Listen: *natsListen, NoListen: *natsListen == "", Logger: log,
		})
		if err != nil {
			if listenRefused(err) {
				return badInputf("--nats-listen %s: %w", *natsListen, err)
			}
			return err
		}
		defer srv.Close()
		url = srv.ClientURL()
		if *natsListen == "" {
			inProcess = append(inProcess, srv.InProcess())
			log.Info("embedded nats started (in-process only)", "store", filepath.Join(c.dataDir, "nats"))
		} else {
			log.Info("embedded nats started", "url", url, "store", filepath.Join(c.dataDir, "nats"))
		}
	}
	conn, err := bus.Connect(ctx, url, "earshot", log, append(inProcess, bus.WithReplicas(c.replicas))...)
	if err != nil {
		return replicasUsage(err)
	}
	defer conn.Close()
	e := newEnv(log, conn, c.dataDir, std)
	e.allIn = true
	e.protect = p.ui.require
	var runners []namedRunner
	for _, s := range all {
		r, err := s.start(ctx, e)
		if err != nil {
			stopStarted(runners)
			return stageErr(s.name(), err)
		}
		p.started(s)
		runners = append(runners, namedRunner{s.name(), r})
	}
	return serve(ctx, e, ln, runners)
}

// checker is a stage whose flags can be checked before anything starts.
type checker interface{ check() error }

// check checks the stage's flags, if it can be checked alone.
func check(s stage) error {
	if c, ok := s.(checker); ok {
		return c.check()
	}
	return nil
}

// listenHTTP opens --http ("" for none) before anything else starts, so
// that an address in use is refused at once and with its cause.
func listenHTTP(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, badInputf("--http %s: %w", addr, err)
	}
	return ln, nil
}

func closeListener(ln net.Listener) {
	if ln != nil {
		_ = ln.Close()
	}
}

// listenRefused reports whether err is a socket that could not be opened:
// an address in use or not on this machine, which the user must change.
func listenRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "listen"
}

// replicasUsage makes --replicas that the NATS servers cannot hold a usage
// error.
func replicasUsage(err error) error {
	if errors.Is(err, bus.ErrReplicas) {
		return badInputf("--replicas: %w", err)
	}
	return err
}

// listenUsage makes an address that could not be listened on a usage
// error: the user must pick another.
func listenUsage(err error) error {
	if listenRefused(err) {
		return badInput(err)
	}
	return err
}

// stageErr names the stage in err, unless the stage already did, as
// listenUsage.
func stageErr(name string, err error) error {
	if !strings.HasPrefix(err.Error(), name+": ") {
		err = fmt.Errorf("%s: %w", name, err)
	}
	return listenUsage(err)
}

// stopStarted stops stages already started when a later one cannot start:
// their runners, run on a done context, release what they opened.
func stopStarted(runners []namedRunner) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range runners {
		_ = r.run(done)
	}
}

func newEnv(log *slog.Logger, conn *bus.Conn, dataDir string, std stdio) *env {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		bus.NewQueueCollector(conn.JS))
	return &env{log: log, bus: conn, dataDir: dataDir, metrics: reg, mux: http.NewServeMux(), std: std}
}

// together runs the parts of one stage side by side until ctx is done or
// one of them ends: a part that fails (a consumer that cannot be created)
// stops the others, so its error ends the stage at once instead of waiting
// for a shutdown that would swallow it. It returns their errors.
func together(ctx context.Context, parts ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(parts))
	for _, run := range parts {
		go func() {
			err := run(ctx)
			cancel()
			errs <- err
		}()
	}
	all := make([]error, len(parts))
	for i := range parts {
		all[i] = <-errs
	}
	return errors.Join(all...)
}

type namedRunner struct {
	name string
	run  func(ctx context.Context) error
}

// serve runs the runners and serves e.mux on ln (nil: no HTTP) until ctx
// is done or one of them fails. Once the HTTP server takes requests it
// tells the stages (env.serving). Then it stops the HTTP server first
// (requests may still be reading the store), then the runners, and waits
// for all of them.
func serve(ctx context.Context, e *env, ln net.Listener, runners []namedRunner) error {
	runCtx, stopRunners := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRunners()
	failed := make(chan error, len(runners)+2)
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(runCtx); err != nil && runCtx.Err() == nil {
				failed <- stageErr(r.name, err)
			}
		}()
	}
	var hs *http.Server
	httpDone := make(chan struct{})
	if ln == nil {
		close(httpDone)
	} else {
		e.mux.Handle("GET /metrics", promhttp.HandlerFor(e.metrics, promhttp.HandlerOpts{}))
		e.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			if !e.bus.NC.IsConnected() {
				http.Error(w, "nats: not connected", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		// Requests live under a context that shutdown cancels, so live
		// event streams end at once instead of holding shutdown up.
		base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
		defer cancelBase()
		hs = &http.Server{Handler: e.mux, ReadHeaderTimeout: 10 * time.Second,
			BaseContext: func(net.Listener) context.Context { return base }}
		hs.RegisterOnShutdown(cancelBase)
		url := "http://" + ln.Addr().String()
		e.log.Info("http listening", "url", url)
		go func() {
			defer close(httpDone)
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("http: %w", err)
			}
		}()
		if err := e.served(viewURL(ln.Addr())); err != nil {
			failed <- err
		}
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-failed:
	}
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if hs.Shutdown(sctx) != nil {
			_ = hs.Close()
		}
		cancel()
	}
	<-httpDone
	stopRunners()
	wg.Wait()
	return err
}

// served runs what the stages asked to do once the HTTP server takes
// requests at url.
func (e *env) served(url string) error {
	for _, f := range e.onServing {
		if err := f(url); err != nil {
			return err
		}
	}
	return nil
}

// viewURL is how people reach an HTTP server listening on addr: an address
// on every interface is reached by this machine's name.
func viewURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
