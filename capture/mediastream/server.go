package mediastream

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/msg"
)

// Config configures a Server.
type Config struct {
	// Token, when set, lets in an upgrade request that carries
	// "Authorization: Bearer TOKEN".
	Token string
	// HMACSecret, when set, lets in an upgrade request whose
	// X-Twilio-Signature is the base64 HMAC-SHA1, keyed by the secret (a
	// Twilio account's auth token), of the URL the request was made to.
	// At least one of Token and HMACSecret is required.
	HMACSecret string
	// URL is the scheme and host (with any path prefix a proxy strips)
	// that the platform connects to, e.g. wss://media.example.com; the
	// request's path and query are appended to it to check a signature.
	// Default: ws:// or wss:// and the request's Host.
	URL string
	// Inbound and Outbound are the roles of the tracks: inbound (what the
	// caller says) is the customer, outbound the agent, by default.
	Inbound, Outbound msg.Role
	// MaxStreams bounds the streams held at once; past it an upgrade is
	// refused with 503. Default 1000.
	MaxStreams int
	// Idle closes a stream that sent nothing for this long. Default 30 s.
	Idle   time.Duration
	Logger *slog.Logger
}

// Server takes WebSocket media streams (the Twilio Media Streams message
// set) and feeds each stream's call to a capture.
type Server struct {
	cap *capture.Capture
	cfg Config
	sem chan struct{}
	// streams counts the streams being served: http.Server.Shutdown
	// does not wait for upgraded connections, Serve does.
	streams sync.WaitGroup
}

// New checks cfg.
func New(c *capture.Capture, cfg Config) (*Server, error) {
	if cfg.Token == "" && cfg.HMACSecret == "" {
		return nil, errors.New("mediastream: give a bearer token or an HMAC secret: streams are not taken unauthenticated")
	}
	if cfg.Inbound == "" {
		cfg.Inbound = msg.RoleCustomer
	}
	if cfg.Outbound == "" {
		cfg.Outbound = msg.RoleAgent
	}
	if !cfg.Inbound.Valid() || !cfg.Outbound.Valid() || cfg.Inbound == cfg.Outbound {
		return nil, fmt.Errorf("mediastream: track roles %q and %q: want two of agent, customer, a, b", cfg.Inbound, cfg.Outbound)
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = 1000
	}
	if cfg.MaxStreams < 0 {
		return nil, fmt.Errorf("mediastream: max streams %d: want at least 1", cfg.MaxStreams)
	}
	if cfg.Idle == 0 {
		cfg.Idle = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cap: c, cfg: cfg, sem: make(chan struct{}, cfg.MaxStreams)}, nil
}

// Serve serves streams on ln until ctx is done, then closes the streams
// (their calls end) and returns once every one has.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		_ = srv.Shutdown(context.WithoutCancel(ctx))
	}()
	err := srv.Serve(ln)
	wg.Wait()
	s.streams.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeHTTP takes one stream's upgrade request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	from := r.RemoteAddr
	if !s.authorized(r) {
		s.cap.RefuseIntake(msg.IntakeMediaStream, "unauthorized", from, "no valid bearer token or X-Twilio-Signature")
		w.Header().Set("WWW-Authenticate", `Bearer realm="earshot media streams"`)
		http.Error(w, "mediastream: give Authorization: Bearer TOKEN or a valid X-Twilio-Signature", http.StatusUnauthorized)
		return
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		s.cap.RefuseIntake(msg.IntakeMediaStream, "no_room", from, fmt.Sprintf("%d streams already held", s.cfg.MaxStreams))
		http.Error(w, "mediastream: too many streams", http.StatusServiceUnavailable)
		return
	}
	s.streams.Add(1)
	defer s.streams.Done()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.cap.RefuseIntake(msg.IntakeMediaStream, "protocol", from, "upgrade: "+err.Error())
		return
	}
	conn.SetReadLimit(maxMessage)
	st := &stream{s: s, conn: conn, from: from}
	st.run(r.Context())
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.cfg.Token)) == 1 {
		return true
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if s.cfg.HMACSecret == "" || sig == "" {
		return false
	}
	base := s.cfg.URL
	if base == "" {
		base = "ws://" + r.Host
		if r.TLS != nil {
			base = "wss://" + r.Host
		}
	}
	return hmac.Equal([]byte(sig), []byte(Sign(s.cfg.HMACSecret, strings.TrimSuffix(base, "/")+r.URL.RequestURI())))
}

// Sign returns the X-Twilio-Signature of a request to url: the base64
// HMAC-SHA1 of the URL keyed by secret.
func Sign(secret, url string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(url))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// stream is one WebSocket connection: one call's tracks.
type stream struct {
	s     *Server
	conn  *websocket.Conn
	from  string
	call  *capture.Call
	codec string
	legs  map[string]*capture.Leg // by track
}

func (st *stream) run(ctx context.Context) {
	defer st.closeLegs()
	// A read whose context ends closes the connection without a reason,
	// so the reads go on regardless and a watcher closes the stream with
	// one: going away at shutdown, policy violation when idle.
	active, done := make(chan struct{}, 1), make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		idle := time.NewTimer(st.s.cfg.Idle)
		defer idle.Stop()
		for {
			select {
			case <-done:
				return
			case <-active:
				idle.Reset(st.s.cfg.Idle)
			case <-idle.C:
				st.refuse(websocket.StatusPolicyViolation, "idle", fmt.Errorf("nothing for %s", st.s.cfg.Idle))
				return
			case <-ctx.Done():
				st.conn.Close(websocket.StatusGoingAway, "earshot capture is shutting down")
				return
			}
		}
	}()
	defer func() {
		close(done)
		watcher.Wait()
	}()
	for {
		typ, b, err := st.conn.Read(context.WithoutCancel(ctx))
		if err != nil {
			if s := websocket.CloseStatus(err); s != websocket.StatusNormalClosure && s != websocket.StatusGoingAway && ctx.Err() == nil {
				st.s.cfg.Logger.Info("mediastream: stream closed without stop", "from", st.from, "err", err)
			}
			return
		}
		select {
		case active <- struct{}{}:
		default:
		}
		if typ != websocket.MessageText {
			st.refuse(websocket.StatusUnsupportedData, "protocol", errors.New("a binary message: media streams messages are JSON text"))
			return
		}
		m, err := Parse(b)
		if err != nil {
			st.refuse(websocket.StatusInvalidFramePayloadData, "protocol", err)
			return
		}
		if done := st.handle(m); done {
			return
		}
	}
}

// handle takes one message; it reports whether the stream is over.
func (st *stream) handle(m *Message) bool {
	switch m.Event {
	case "connected", "mark":
	case "start":
		if err := st.start(m); err != nil {
			reason, code := "protocol", websocket.StatusPolicyViolation
			if errors.Is(err, capture.ErrNoRoom) {
				reason, code = "no_room", websocket.StatusTryAgainLater
			}
			st.refuse(code, reason, err)
			return true
		}
	case "media":
		if st.call == nil {
			st.refuse(websocket.StatusPolicyViolation, "protocol", errors.New("media before start"))
			return true
		}
		leg := st.legs[m.Media.Track]
		if leg == nil {
			st.count("malformed", fmt.Errorf("media of track %.20q, not one the start named", m.Media.Track))
			return false
		}
		at, payload, err := m.Media.Audio()
		if err != nil {
			st.count("malformed", err) // the chunk is dropped; the stream goes on
			return false
		}
		_ = leg.G711(at, st.codec, payload) // the codec was checked at start
	case "dtmf":
		if st.call == nil {
			st.refuse(websocket.StatusPolicyViolation, "protocol", errors.New("dtmf before start"))
			return true
		}
		leg := st.legs[strings.TrimSuffix(m.DTMF.Track, "_track")]
		if leg == nil {
			st.count("malformed", fmt.Errorf("dtmf of track %.20q, not one the start named", m.DTMF.Track))
			return false
		}
		leg.DTMF(-1, m.DTMF.Digit, 0)
	case "stop":
		st.closeLegs()
		st.conn.Close(websocket.StatusNormalClosure, "")
		return true
	default:
		st.s.cfg.Logger.Debug("mediastream: event skipped", "event", m.Event)
	}
	return false
}

func (st *stream) start(m *Message) error {
	if st.call != nil {
		return errors.New("a second start on one stream")
	}
	codec, err := m.Start.MediaFormat.Codec()
	if err != nil {
		return err
	}
	sid := m.StreamSid
	if sid == "" {
		sid = m.Start.StreamSid
	}
	id := m.Start.CallSid
	if id == "" {
		id = sid
	}
	info := capture.CallInfo{ID: id, Attributes: map[string]string{}}
	maps.Copy(info.Attributes, m.Start.CustomParameters)
	info.Agent, info.Queue = info.Attributes["agent"], info.Attributes["queue"]
	delete(info.Attributes, "agent")
	delete(info.Attributes, "queue")
	if sid != "" {
		info.Attributes["stream_sid"] = sid
	}
	call, err := st.s.cap.Open(msg.IntakeMediaStream, info)
	if err != nil {
		return err
	}
	st.call, st.codec, st.legs = call, codec, map[string]*capture.Leg{}
	for _, track := range m.Start.Tracks {
		role := st.s.cfg.Inbound
		if track == "outbound" {
			role = st.s.cfg.Outbound
		}
		leg, err := call.Leg(role, "ws:"+st.from+"/"+track)
		if err != nil {
			return err
		}
		st.legs[track] = leg
	}
	return nil
}

// closeLegs ends the stream's legs (the call ends once all its legs did).
func (st *stream) closeLegs() {
	for _, l := range st.legs {
		l.Close()
	}
	st.legs = nil
}

// count counts input refused that the stream survives.
func (st *stream) count(reason string, err error) {
	st.s.cap.RefuseIntake(msg.IntakeMediaStream, reason, st.from, err.Error())
}

// refuse counts what ends the stream and closes it with the reason.
func (st *stream) refuse(code websocket.StatusCode, reason string, err error) {
	st.count(reason, err)
	text := err.Error()
	if len(text) > 120 {
		text = text[:120]
	}
	st.conn.Close(code, text)
}
