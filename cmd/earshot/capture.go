package main

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/audiosocket"
	"github.com/earshot-dev/earshot/capture/mediastream"
	"github.com/earshot-dev/earshot/capture/pcap"
	"github.com/earshot-dev/earshot/capture/sender"
	"github.com/earshot-dev/earshot/capture/siprec"
	"github.com/earshot-dev/earshot/internal/synthcall"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/record"
	"github.com/earshot-dev/earshot/survey"
	"github.com/earshot-dev/earshot/ui"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// captureStage is the capture stage.
type captureStage struct {
	surveys                 string
	rtp, agentNet, language string
	callTimeout, endpoint   time.Duration
	handover                time.Duration
	interim                 time.Duration
	threshold, margin       float64
	jitterMin, jitterMax    time.Duration
	rateLimit               float64
	readers                 int
	token                   string
	mediaWS                 mediaWSFlags
	audioSocket             string
	siprec                  siprecFlags
	record, recordStore     string
	recordMask              string
	replicas                int
	recordRetentionDays     int

	// recordings is where the recorder writes (nil under --record none),
	// for the web view; audioRedactor redacts them, from the store's
	// audio redactions on the bus.
	recordings    record.Store
	audioRedactor *record.Redactor
}

// siprecFlags are the SIPREC intake's flags.
type siprecFlags struct {
	endpoints, agent, allow, mediaHost string
	mediaPorts                         string
	cert, key                          string
	maxSessions                        int
	idle, heldIdle                     time.Duration
}

// mediaWSFlags are the WebSocket media streams intake's flags.
type mediaWSFlags struct {
	addr, token, hmac, url string
	inbound, outbound      string
}

func (*captureStage) name() string { return "capture" }
func (*captureStage) summary() string {
	return "RTP in, utterance jobs out (one stage against an external NATS)"
}

func (s *captureStage) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.rtp, "rtp", "127.0.0.1:40000", "where capture takes RTP: HOST:PORT or HOST:PORT1-PORT2, comma-separated")
	fs.StringVar(&s.agentNet, "agent-net", "", "CIDRs (comma-separated) whose sources are the agent leg of undeclared calls")
	fs.DurationVar(&s.callTimeout, "call-timeout", 20*time.Second, "end a call after this long without RTP")
	fs.DurationVar(&s.endpoint, "vad-endpoint", 700*time.Millisecond, "silence that ends a turn")
	fs.DurationVar(&s.handover, "vad-handover", 300*time.Millisecond, "shorter silence that ends a turn when the other side has started talking since and the speaker's level fell (negative: off)")
	fs.DurationVar(&s.interim, "vad-interim", 2*time.Second, "interim job interval while a turn goes on (negative: none)")
	fs.Float64Var(&s.threshold, "vad-threshold", -46, "lowest frame level that is speech, dBFS")
	fs.Float64Var(&s.margin, "vad-margin", 12, "how far above the noise floor speech must be, dB")
	fs.DurationVar(&s.jitterMin, "jitter-min", 60*time.Millisecond, "least the jitter buffer waits for a missing packet (it adapts to the measured jitter)")
	fs.DurationVar(&s.jitterMax, "jitter-max", 300*time.Millisecond, "most the jitter buffer waits for a missing packet (at most 1s)")
	fs.IntVar(&s.readers, "rtp-readers", 1, "sockets sharing each --rtp port (SO_REUSEPORT, Linux), each read by its own goroutine in batches; more take more packets/s but keep only each source's order, not the order between a call's legs (1-64)")
	fs.Float64Var(&s.rateLimit, "rtp-rate-limit", 5000, "packets per second one source address may send (negative: no limit)")
	fs.StringVar(&s.language, "capture-language", "", "language hint put on utterance jobs (e.g. en, ko; empty: detect)")
	fs.StringVar(&s.mediaWS.addr, "media-ws", "", "serve WebSocket media streams (Twilio's message set) on HOST:PORT; needs --media-ws-token or --media-ws-hmac")
	fs.StringVar(&s.mediaWS.token, "media-ws-token", os.Getenv("EARSHOT_MEDIA_WS_TOKEN"), "bearer token a media stream's upgrade request must carry (Authorization: Bearer TOKEN)")
	fs.StringVar(&s.mediaWS.hmac, "media-ws-hmac", os.Getenv("EARSHOT_MEDIA_WS_HMAC"), "secret (a Twilio auth token) whose HMAC-SHA1 of the URL an upgrade's X-Twilio-Signature must be")
	fs.StringVar(&s.mediaWS.url, "media-ws-url", "", "the wss://HOST the platform connects to, when a proxy stands between (for --media-ws-hmac)")
	fs.StringVar(&s.mediaWS.inbound, "media-ws-inbound", "customer", "role of a media stream's inbound track (agent or customer)")
	fs.StringVar(&s.mediaWS.outbound, "media-ws-outbound", "agent", "role of a media stream's outbound track (agent or customer)")
	fs.StringVar(&s.audioSocket, "audiosocket", "", "take Asterisk AudioSocket connections on HOST:PORT (one per leg; the UUID's last hex digit names the role: a agent, c customer)")
	fs.StringVar(&s.record, "record", "redacted", "keep calls' audio: none, redacted or redacted-and-original (as the text's --redact-policy)")
	fs.StringVar(&s.recordStore, "record-store", "", "where recordings live: dir (under --data) or nats (the JetStream object store, replicated with the cluster); default dir in earshot run, nats alone")
	fs.StringVar(&s.recordMask, "record-mask", "silence", "what replaces personal data in the redacted recording: silence or tone")
	fs.IntVar(&s.recordRetentionDays, "record-retention-days", 0, "delete recordings older than this many days (0: keep; in earshot run, 0 follows --retention-days)")
	fs.IntVar(&s.replicas, "record-replicas", 0, "with --record-store nats: how many NATS servers keep each recording (default: as many as keep the streams, --replicas)")
	fs.StringVar(&s.siprec.endpoints, "siprec", "", "take SIPREC recording sessions (RFC 7866) on udp://HOST:PORT, tcp://HOST:PORT and/or tls://HOST:PORT (with --siprec-cert), comma-separated")
	fs.StringVar(&s.siprec.cert, "siprec-cert", "", "PEM certificate (chain) for SIPREC over TLS (tls:// endpoints)")
	fs.StringVar(&s.siprec.key, "siprec-key", "", "PEM private key of --siprec-cert")
	fs.StringVar(&s.siprec.agent, "siprec-agent", "", "regular expression on a participant's AoR or name that makes it the agent, e.g. 'sip:1\\d{3}@' (default: the SRC's direction hint, else legs a and b)")
	fs.StringVar(&s.siprec.allow, "siprec-allow", "", "CIDRs (comma-separated) SIPREC requests are taken from; others get 403 (default: any)")
	fs.StringVar(&s.siprec.mediaHost, "siprec-media-host", "", "address the SIPREC media ports are bound on and given in SDP answers (default: the --siprec host, when not 0.0.0.0)")
	fs.IntVar(&s.siprec.maxSessions, "siprec-max-sessions", 100, "recording sessions held at once; past it an INVITE gets 503")
	fs.StringVar(&s.siprec.mediaPorts, "siprec-media-ports", "16384-32767", "UDP port range FIRST-LAST of the SIPREC media ports (a session's streams get even ports two apart)")
	fs.DurationVar(&s.siprec.idle, "siprec-idle", time.Minute, "end a SIPREC session that had no RTP and no SIP request of its own for this long (an SRC gone without a BYE)")
	fs.DurationVar(&s.siprec.heldIdle, "siprec-held-idle", time.Hour, "--siprec-idle while a session is on hold (no RTP is due)")
	fs.StringVar(&s.surveys, "surveys", "", "post-call surveys file (YAML): which question each prompt asks, its scale (1-5 or 0-10) and how the survey starts (the agent leg ends, or an announce names it)")
	fs.StringVar(&s.token, "capture-token", os.Getenv("EARSHOT_CAPTURE_TOKEN"), "earshot capture alone: the bearer token POST /api/calls/announce requires (without one the HTTP announce is off; NATS announces work regardless). In earshot run the web view's login guards it instead")
}

func (s *captureStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	listen, err := capture.ParseListen(s.rtp)
	if err != nil {
		return nil, badInputf("--rtp: %v", err)
	}
	if s.readers < 1 || s.readers > capture.MaxReaders {
		return nil, badInputf("--rtp-readers %d: want 1 to %d", s.readers, capture.MaxReaders)
	}
	nets, err := capture.ParseNets(s.agentNet)
	if err != nil {
		return nil, badInputf("--agent-net: %v", err)
	}
	var surveys *survey.Config
	if s.surveys != "" {
		text, err := os.ReadFile(s.surveys)
		if err != nil {
			return nil, badInputf("--surveys: %v", err)
		}
		if surveys, err = survey.Parse(text); err != nil {
			return nil, badInputf("--surveys %s: %v", s.surveys, err)
		}
	}
	intakes, err := s.intakes(e)
	if err != nil {
		return nil, err
	}
	rec, err := s.recorder(ctx, e)
	if err != nil {
		return nil, err
	}
	cfg := capture.Config{
		Listen: listen, AgentNets: nets, CallTimeout: s.callTimeout, Endpoint: s.endpoint, Handover: s.handover,
		InterimEvery: s.interim, VADThresholdDBFS: s.threshold, VADMarginDB: s.margin,
		JitterMin: s.jitterMin, JitterMax: s.jitterMax, RateLimit: s.rateLimit, Readers: s.readers, Language: s.language,
		Surveys: surveys, Metrics: e.metrics, Logger: e.log.With("stage", "capture"),
	}
	if rec != nil {
		cfg.Recorder = rec
	}
	c, err := capture.New(cfg, e.bus)
	if err != nil {
		return nil, err
	}
	sub, err := e.bus.NC.Subscribe(msg.SubjectAnnounce, func(m *nats.Msg) {
		if m.Reply != "" {
			_ = m.Respond(c.AnnounceRequest(m.Data))
		}
	})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("capture: subscribe %s: %w", msg.SubjectAnnounce, err)
	}
	const route = "POST /api/calls/announce"
	switch {
	case e.protect != nil:
		e.mux.Handle(route, e.protect(c.AnnounceHandler(), ui.RoleSupervisor, ui.RoleAdmin))
	case s.token != "":
		e.mux.Handle(route, captureBearer(s.token, c.AnnounceHandler()))
	default:
		e.log.Info("HTTP announce is off: give --capture-token to turn it on")
	}
	e.log.Info("capture listening", "rtp", s.rtp, "announce", msg.SubjectAnnounce)
	var serve []func(context.Context) error
	var listeners []io.Closer
	for _, in := range intakes {
		run, ln, err := in(c)
		if err != nil {
			c.Close()
			_ = sub.Drain()
			for _, ln := range listeners {
				ln.Close()
			}
			return nil, err
		}
		serve = append(serve, run)
		listeners = append(listeners, ln)
	}
	return func(ctx context.Context) error {
		errs := make(chan error, len(serve))
		for _, run := range serve {
			go func() { errs <- run(ctx) }()
		}
		recCtx, stopRec := context.WithCancel(context.WithoutCancel(ctx))
		recDone := make(chan error, 3)
		n := 0
		if rec != nil {
			n++
			go func() { recDone <- rec.Run(recCtx) }()
		}
		if s.audioRedactor != nil {
			n++
			go func() { recDone <- s.redactRecordings(recCtx, e) }()
		}
		if rec != nil && s.recordRetentionDays > 0 {
			n++
			go func() {
				record.Retain(recCtx, s.recordings, s.recordRetentionDays, e.log.With("stage", "record"))
				recDone <- nil
			}()
		}
		err := c.Run(ctx)
		for range serve {
			err = errors.Join(err, <-errs)
		}
		_ = sub.Drain()
		stopRec() // after capture, so the recorder writes all it was given
		for range n {
			err = errors.Join(err, <-recDone)
		}
		return err
	}, nil
}

// openRecordings opens the recording store where says: dir (under
// --data) or nats (the JetStream object store).
func openRecordings(ctx context.Context, e *env, where string, replicas int) (record.Store, error) {
	switch where {
	case "dir":
		return record.NewDir(filepath.Join(e.dataDir, "recordings"))
	case "nats":
		if replicas == 0 {
			replicas = e.bus.Replicas()
		}
		return record.NewObjectStore(ctx, e.bus.JS, record.ObjectStoreConfig{Replicas: replicas})
	}
	return nil, fmt.Errorf("%q: want dir or nats", where)
}

// recorder builds the recorder of --record and --record-store; nil under
// --record none.
func (s *captureStage) recorder(ctx context.Context, e *env) (*record.Recorder, error) {
	policy, err := record.ParsePolicy(s.record)
	if err != nil {
		return nil, badInputf("--record: %v", err)
	}
	if s.recordRetentionDays < 0 {
		return nil, badInputf("--record-retention-days %d: must not be negative", s.recordRetentionDays)
	}
	if s.recordMask != "silence" && s.recordMask != "tone" {
		return nil, badInputf("--record-mask %q: want silence or tone", s.recordMask)
	}
	if policy == record.PolicyNone {
		return nil, nil
	}
	where := s.recordStore
	if where == "" {
		where = "nats"
		if e.allIn {
			where = "dir"
		}
	}
	if where != "dir" && where != "nats" {
		return nil, badInputf("--record-store %q: want dir or nats", where)
	}
	st, err := openRecordings(ctx, e, where, s.replicas)
	if err != nil {
		return nil, err
	}
	log := e.log.With("stage", "record")
	red, err := record.NewRedactor(record.RedactorConfig{Store: st, Policy: policy, Tone: s.recordMask == "tone", Logger: log})
	if err != nil {
		return nil, err
	}
	rec, err := record.NewRecorder(record.RecorderConfig{Store: st, Redactor: red, Metrics: e.metrics, Logger: log})
	if err != nil {
		return nil, err
	}
	s.recordings, s.audioRedactor = st, red
	e.log.Info("recording calls", "policy", policy, "store", where)
	return rec, nil
}

// redactRecordings masks the recordings with the audio redactions the
// store publishes once each call is final, until ctx ends: a durable
// consumer, so that none is missed while capture is down, shared by every
// capture that records into one store.
func (s *captureStage) redactRecordings(ctx context.Context, e *env) error {
	log := e.log.With("stage", "record")
	cc := bus.ConsumerConfig{Stream: bus.StreamEvents, Durable: "record", Filter: []string{msg.AllRedactions}, Logger: log}
	return bus.Consume(ctx, e.bus.JS, cc, func(ctx context.Context, m jetstream.Msg) error {
		var red msg.AudioRedaction
		if err := msg.Unmarshal(m.Data(), &red); err != nil {
			return bus.Permanent(fmt.Errorf("record: %s: %w", m.Subject(), err))
		}
		if err := s.audioRedactor.Apply(ctx, red); err != nil {
			return bus.Transient(fmt.Errorf("record: redacting the recording of %s: %w", red.CallID, err))
		}
		return nil
	})
}

// intake opens an intake's listener on a capture; the runner it returns
// serves on it until ctx is done.
type intake func(c *capture.Capture) (run func(ctx context.Context) error, ln io.Closer, err error)

// intakes checks the intakes' flags and returns those asked for.
func (s *captureStage) intakes(e *env) ([]intake, error) {
	var out []intake
	if w := s.mediaWS; w.addr != "" {
		if w.token == "" && w.hmac == "" {
			return nil, badInputf("--media-ws: give --media-ws-token or --media-ws-hmac: media streams are not taken unauthenticated")
		}
		cfg := mediastream.Config{Token: w.token, HMACSecret: w.hmac, URL: w.url,
			Inbound: msg.Role(w.inbound), Outbound: msg.Role(w.outbound), Logger: e.log.With("stage", "capture", "intake", msg.IntakeMediaStream)}
		for _, r := range []struct{ flag, role string }{{"--media-ws-inbound", w.inbound}, {"--media-ws-outbound", w.outbound}} {
			if !msg.Role(r.role).Valid() {
				return nil, badInputf("%s %q: want agent, customer, a or b", r.flag, r.role)
			}
		}
		out = append(out, func(c *capture.Capture) (func(context.Context) error, io.Closer, error) {
			srv, err := mediastream.New(c, cfg)
			if err != nil {
				return nil, nil, badInput(err)
			}
			ln, err := net.Listen("tcp", w.addr)
			if err != nil {
				return nil, nil, fmt.Errorf("--media-ws %s: %w", w.addr, err)
			}
			e.log.Info("capture takes media streams", "addr", ln.Addr().String())
			return func(ctx context.Context) error { return srv.Serve(ctx, ln) }, ln, nil
		})
	}
	if addr := s.audioSocket; addr != "" {
		out = append(out, func(c *capture.Capture) (func(context.Context) error, io.Closer, error) {
			srv, err := audiosocket.New(c, audiosocket.Config{Logger: e.log.With("stage", "capture", "intake", msg.IntakeAudioSocket)})
			if err != nil {
				return nil, nil, badInput(err)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return nil, nil, fmt.Errorf("--audiosocket %s: %w", addr, err)
			}
			e.log.Info("capture takes AudioSocket", "addr", ln.Addr().String())
			return func(ctx context.Context) error { return srv.Serve(ctx, ln) }, ln, nil
		})
	}
	if s.siprec.endpoints != "" {
		in, err := s.siprec.intake(e)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// intake checks the SIPREC flags and returns the intake.
func (f siprecFlags) intake(e *env) (intake, error) {
	eps, err := siprec.ParseEndpoints(f.endpoints)
	if err != nil {
		return nil, badInputf("--siprec: %v", err)
	}
	cfg := siprec.Config{MaxSessions: f.maxSessions, Logger: e.log.With("stage", "capture", "intake", msg.IntakeSIPREC)}
	if f.maxSessions < 1 {
		return nil, badInputf("--siprec-max-sessions %d: want at least 1", f.maxSessions)
	}
	if f.idle <= 0 || f.heldIdle <= 0 {
		return nil, badInputf("--siprec-idle %s, --siprec-held-idle %s: want positive durations", f.idle, f.heldIdle)
	}
	cfg.Idle, cfg.HeldIdle = f.idle, f.heldIdle
	if cfg.MediaPorts, err = siprec.ParsePorts(f.mediaPorts); err != nil {
		return nil, badInputf("--siprec-media-ports: %v", err)
	}
	if f.agent != "" {
		if cfg.Agent, err = regexp.Compile(f.agent); err != nil {
			return nil, badInputf("--siprec-agent: %v", err)
		}
	}
	if cfg.Allow, err = capture.ParseNets(f.allow); err != nil {
		return nil, badInputf("--siprec-allow: %v", err)
	}
	cfg.Host = eps[0].Addr.Addr()
	if f.mediaHost != "" {
		if cfg.Host, err = netip.ParseAddr(f.mediaHost); err != nil {
			return nil, badInputf("--siprec-media-host: %v", err)
		}
	}
	var tlsConf *tls.Config
	for _, ep := range eps {
		if ep.Network == "tls" && tlsConf == nil {
			if f.cert == "" || f.key == "" {
				return nil, badInputf("--siprec %s: a tls:// endpoint needs --siprec-cert and --siprec-key", ep.Addr)
			}
			cert, err := tls.LoadX509KeyPair(f.cert, f.key)
			if err != nil {
				return nil, badInputf("--siprec-cert/--siprec-key: %v", err)
			}
			tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
	}
	if cfg.Host.IsUnspecified() {
		return nil, badInputf("--siprec %s listens on every address: give --siprec-media-host, the address recording clients send RTP to", eps[0].Addr)
	}
	return func(c *capture.Capture) (func(context.Context) error, io.Closer, error) {
		srv, err := siprec.New(c, cfg)
		if err != nil {
			return nil, nil, badInput(err)
		}
		var runs []func(context.Context) error
		var closers closers
		for _, ep := range eps {
			if ep.Network == "udp" {
				conn, err := net.ListenPacket("udp", ep.Addr.String())
				if err != nil {
					closers.Close()
					srv.Close()
					return nil, nil, fmt.Errorf("--siprec %s: %w", ep.Addr, err)
				}
				closers = append(closers, conn)
				runs = append(runs, func(ctx context.Context) error { return srv.ServeUDP(ctx, conn) })
			} else {
				ln, err := net.Listen("tcp", ep.Addr.String())
				if err != nil {
					closers.Close()
					srv.Close()
					return nil, nil, fmt.Errorf("--siprec %s: %w", ep.Addr, err)
				}
				closers = append(closers, ln)
				if ep.Network == "tls" {
					tln := tls.NewListener(ln, tlsConf)
					runs = append(runs, func(ctx context.Context) error { return srv.ServeTLS(ctx, tln) })
				} else {
					runs = append(runs, func(ctx context.Context) error { return srv.ServeTCP(ctx, ln) })
				}
			}
			e.log.Info("capture takes SIPREC", "network", ep.Network, "addr", ep.Addr.String(), "media_host", cfg.Host.String())
		}
		return func(ctx context.Context) error {
			errs := make(chan error, len(runs))
			for _, run := range runs {
				go func() { errs <- run(ctx) }()
			}
			var err error
			for range runs {
				err = errors.Join(err, <-errs)
			}
			srv.Close()
			return err
		}, closers, nil
	}, nil
}

// closers closes each of its closers.
type closers []io.Closer

func (cs closers) Close() error {
	var err error
	for _, c := range cs {
		err = errors.Join(err, c.Close())
	}
	return err
}

// loadScripted reads every scripted call in dir, given by the flag
// named name: base with the script's
// call id, agent, queue, attributes and legs, and each script.
func loadScripted(name, dir string, base sender.SendConfig) (cfgs []sender.SendConfig, scripts []*synthcall.Script, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, nil, badInputf("%s %s: no NAME.json call scripts there", name, dir)
	}
	for _, f := range files {
		sc, err := synthcall.LoadScript(f)
		if err != nil {
			return nil, nil, badInput(err)
		}
		cfg := base
		cfg.CallID, cfg.Agent, cfg.Queue, cfg.Attributes = sc.CallID, sc.Agent, sc.Queue, sc.Attributes
		for _, role := range []msg.Role{msg.RoleAgent, msg.RoleCustomer} {
			pcm, err := sender.ReadWAVFile(synthcall.LegFile(f, role))
			if err != nil {
				return nil, nil, captureInputError(err)
			}
			cfg.Legs = append(cfg.Legs, sender.Leg{Role: role, PCM: pcm})
		}
		cfgs = append(cfgs, cfg)
		scripts = append(scripts, sc)
	}
	return cfgs, scripts, nil
}

// sendScripted sends the calls side by side, each announced, the next
// starting stagger after the one before.
func sendScripted(ctx context.Context, cfgs []sender.SendConfig, ann sender.Announcer, stagger time.Duration, std stdio) error {
	errs := make(chan error, len(cfgs))
	for i, cfg := range cfgs {
		go func() {
			select {
			case <-time.After(time.Duration(i) * stagger):
				cfg.Announcer = ann
				_, err := sender.Send(ctx, cfg)
				errs <- err
			case <-ctx.Done():
				errs <- ctx.Err()
			}
		}()
	}
	var all []error
	for range cfgs {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		return err
	}
	for _, cfg := range cfgs {
		fmt.Fprintf(std.out, "sent call %s (agent %s, queue %s)\n", cfg.CallID, cfg.Agent, cfg.Queue)
	}
	return nil
}

// captureBearer lets through only requests that carry token as
// Authorization: Bearer.
func captureBearer(token string, h http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="earshot capture"`)
			http.Error(w, "announce: give Authorization: Bearer TOKEN (the --capture-token)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// parseInterspersed parses args whose one positional argument may come
// before the flags (earshot replay FILE --to ADDR).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// captureAnnouncer builds the announcer of --announce (nats://... or
// http(s)://...); close releases it.
func captureAnnouncer(url, token string) (a sender.Announcer, close func(), err error) {
	switch {
	case url == "":
		return nil, func() {}, nil
	case strings.HasPrefix(url, "nats://") || strings.HasPrefix(url, "tls://"):
		nc, err := nats.Connect(url, nats.Name("earshot-send"))
		if err != nil {
			return nil, nil, fmt.Errorf("--announce %s: %w", url, err)
		}
		return sender.NATSAnnouncer{Conn: nc}, nc.Close, nil
	case strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://"):
		return sender.HTTPAnnouncer{URL: url, Token: token}, func() {}, nil
	}
	return nil, nil, badInputf("--announce %q: want nats://HOST:PORT or http(s)://HOST:PORT/api/calls/announce", url)
}

// captureInputError marks errors about the user's files as bad input.
func captureInputError(err error) error {
	if errors.Is(err, pcap.ErrNotCapture) || errors.Is(err, pcap.ErrTruncated) || errors.Is(err, pcap.ErrMalformed) ||
		errors.Is(err, pcap.ErrLinkType) || errors.Is(err, sender.ErrWAV) || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, fs.ErrPermission) || errors.Is(err, pcap.ErrNoStreams) {
		return badInput(err)
	}
	return err
}

func replayCmd(ctx context.Context, args []string, std stdio) error {
	fset := flag.NewFlagSet("earshot replay", flag.ContinueOnError)
	fset.SetOutput(std.err)
	to := fset.String("to", "127.0.0.1:40000", "capture address: HOST:PORT or HOST:PORT1-PORT2 (one port per call)")
	speed := fset.String("speed", "1", "N times real time, or max")
	sipCall := fset.String("sip-call", "", "replay only the calls with these SIP Call-IDs (comma-separated)")
	announce := fset.String("announce", "", "announce each call first: nats://HOST:PORT or http://HOST:PORT/api/calls/announce")
	token := fset.String("announce-token", "", "bearer token for an HTTP announce")
	noBye := fset.Bool("no-bye", false, "do not end streams with RTCP BYE")
	files, err := parseInterspersed(fset, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return badInputf("want one capture file (FILE.pcap or FILE.pcapng), got %d", len(files))
	}
	dst, err := capture.ParseListen(*to)
	if err != nil {
		return badInputf("--to: %v", err)
	}
	sp, err := sender.ParseSpeed(*speed)
	if err != nil {
		return badInputf("--speed: %v", err)
	}
	ann, closeAnn, err := captureAnnouncer(*announce, *token)
	if err != nil {
		return err
	}
	defer closeAnn()
	cfg := sender.ReplayConfig{To: dst, Speed: sp, Announcer: ann, NoBye: *noBye}
	if *sipCall != "" {
		cfg.Calls = strings.Split(*sipCall, ",")
	}
	f, err := os.Open(files[0])
	if err != nil {
		return badInput(err)
	}
	pc, err := pcap.ReadStreams(f, files[0])
	f.Close()
	if err != nil {
		return captureInputError(err)
	}
	if pc.Duplicates > 0 {
		fmt.Fprintf(std.out, "%d streams seen again at a second hop (a relay's capture) left out: each is replayed once\n", pc.Duplicates)
	}
	calls, err := sender.Replay(ctx, pc, cfg)
	if err != nil {
		return captureInputError(err)
	}
	refused, streams := 0, 0
	for _, c := range calls {
		n := 0
		for _, s := range c.Streams {
			n += len(s.Packets)
		}
		name := c.SIPCallID
		if name == "" {
			name = "(no SIP)"
		}
		fmt.Fprintf(std.out, "replayed call %s to %s: %d streams, %d packets", name, c.To, len(c.Streams), n)
		if c.CallID != "" {
			fmt.Fprintf(std.out, ", announced as %s", c.CallID)
		}
		for _, r := range c.Refused {
			fmt.Fprintf(std.out, "; stream %08x refused by capture (no room for a new stream)", r.SSRC)
		}
		fmt.Fprintln(std.out)
		refused += len(c.Refused)
		streams += len(c.Streams)
	}
	if refused > 0 {
		return fmt.Errorf("capture refuses %d of the %d streams: a port holds one call that is not announced at a time, of two streams; "+
			"give each call its own port (--to HOST:PORT1-PORT2, %d ports) or announce the calls (--announce)", refused, streams, len(calls))
	}
	return nil
}

func sendCmd(ctx context.Context, args []string, std stdio) error {
	fset := flag.NewFlagSet("earshot send", flag.ContinueOnError)
	fset.SetOutput(std.err)
	agent := fset.String("agent", "", "the agent's speech: 16-bit PCM WAV (resampled to 8 kHz mono)")
	customer := fset.String("customer", "", "the customer's speech: 16-bit PCM WAV (resampled to 8 kHz mono)")
	to := fset.String("to", "127.0.0.1:40000", "capture address HOST:PORT")
	callID := fset.String("call", "", "call id to announce (default: send-<time>)")
	speed := fset.String("speed", "1", "N times real time, or max")
	pcma := fset.Bool("pcma", false, "send G.711 A-law (default µ-law)")
	announce := fset.String("announce", "", "announce the call first (legs by SSRC and source): nats://HOST:PORT or http://HOST:PORT/api/calls/announce")
	token := fset.String("announce-token", "", "bearer token for an HTTP announce")
	agentFrom := fset.String("agent-from", "", "send the agent leg from this IP[:PORT] (e.g. 127.0.0.2, for capture's --agent-net)")
	customerFrom := fset.String("customer-from", "", "send the customer leg from this IP[:PORT]")
	agentName := fset.String("agent-name", "", "the agent's name, announced with the call")
	queue := fset.String("queue", "", "the queue, announced with the call")
	attrs := map[string]string{}
	fset.Func("attr", "KEY=VALUE call attribute, announced with the call (repeatable)", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q: want KEY=VALUE", v)
		}
		attrs[k] = val
		return nil
	})
	calls := fset.String("calls", "", "send every scripted call in this directory (NAME.json with NAME.agent.wav and NAME.customer.wav, as in examples/calls), side by side, each announced with its agent and queue")
	stagger := fset.Duration("calls-stagger", 4*time.Second, "with --calls: time between the calls' starts")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if *calls != "" {
		if *agent != "" || *customer != "" || *callID != "" || *agentName != "" || *queue != "" || len(attrs) > 0 {
			return badInputf("--calls takes the legs, call ids, agents and queues from its scripts: leave out --agent, --customer, --call, --agent-name, --queue and --attr")
		}
		if *announce == "" {
			return badInputf("--calls announces each call with its agent and queue: give --announce too")
		}
	}
	if *announce == "" && (*agentName != "" || *queue != "" || len(attrs) > 0) {
		return badInputf("--agent-name, --queue and --attr travel in the announce: give --announce too")
	}
	if fset.NArg() > 0 {
		return badInputf("unexpected argument %q", fset.Arg(0))
	}
	if *agent == "" && *customer == "" && *calls == "" {
		return badInputf("give --agent FILE.wav and/or --customer FILE.wav, or --calls DIR")
	}
	dst, err := netip.ParseAddrPort(*to)
	if err != nil {
		return badInputf("--to %q: %v", *to, err)
	}
	sp, err := sender.ParseSpeed(*speed)
	if err != nil {
		return badInputf("--speed: %v", err)
	}
	if *calls != "" {
		cfgs, _, err := loadScripted("--calls", *calls, sender.SendConfig{To: dst, PCMA: *pcma, Speed: sp})
		if err != nil {
			return err
		}
		ann, closeAnn, err := captureAnnouncer(*announce, *token)
		if err != nil {
			return err
		}
		defer closeAnn()
		return sendScripted(ctx, cfgs, ann, *stagger, std)
	}
	if *callID != "" {
		if err := msg.ValidateCallID(*callID); err != nil {
			return badInputf("--call: %v", err)
		}
	}
	var legs []sender.Leg
	for _, l := range []struct {
		role       msg.Role
		file, from string
	}{{msg.RoleAgent, *agent, *agentFrom}, {msg.RoleCustomer, *customer, *customerFrom}} {
		if l.file == "" {
			continue
		}
		pcm, err := sender.ReadWAVFile(l.file)
		if err != nil {
			return captureInputError(err)
		}
		leg := sender.Leg{Role: l.role, PCM: pcm}
		if l.from != "" {
			if leg.From, err = parseFrom(l.from); err != nil {
				return badInputf("--%s-from: %v", l.role, err)
			}
		}
		legs = append(legs, leg)
	}
	ann, closeAnn, err := captureAnnouncer(*announce, *token)
	if err != nil {
		return err
	}
	defer closeAnn()
	sent, err := sender.Send(ctx, sender.SendConfig{To: dst, Legs: legs, PCMA: *pcma, Speed: sp, CallID: *callID, Announcer: ann,
		Agent: *agentName, Queue: *queue, Attributes: attrs})
	if err != nil {
		return err
	}
	for _, l := range sent.Legs {
		fmt.Fprintf(std.out, "sent %s leg of call %s: ssrc %08x from %s, %d packets\n", l.Role, sent.CallID, l.SSRC, l.Source, l.Packets)
	}
	return nil
}

func parseFrom(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: want IP or IP:PORT", s)
	}
	return netip.AddrPortFrom(a, 0), nil
}
