package siprec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/msg"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Config configures a Server.
type Config struct {
	// Host is the address the media ports are bound on and that the SDP
	// answers give. Required: the address the SRC can reach.
	Host netip.Addr
	// MediaPorts is the UDP port range (first and last) media ports are
	// taken from: a session's streams get consecutive even ports, stream i
	// of the offer at base+2i (each odd port left for its RTCP, as media
	// servers do), in the first block up from the last session's that no
	// other socket holds. Default 16384-32767 (below Linux's ephemeral
	// ports).
	MediaPorts [2]uint16
	// Agent, when set, makes a participant whose AoR or name matches it
	// the agent (e.g. `sip:1\d{3}@`), and the others customers.
	Agent *regexp.Regexp
	// Allow lists the networks requests are taken from; others get 403.
	// Empty: any.
	Allow []netip.Prefix
	// MaxSessions bounds the recording sessions held at once; past it an
	// INVITE gets 503. Default 100.
	MaxSessions int
	// Idle ends a session that has had neither RTP nor a SIP request of
	// its own (re-INVITE, UPDATE, OPTIONS with its Call-ID) for this long:
	// an SRC that went away without a BYE. Its call ends (reason timeout),
	// counted (reason "idle"). Default 60 s.
	Idle time.Duration
	// HeldIdle is Idle while the session is on hold (every stream
	// inactive), when no RTP is due. Default 1 h.
	HeldIdle time.Duration
	Logger   *slog.Logger
}

// Server is the SIPREC user agent server.
type Server struct {
	cap *capture.Capture
	cfg Config
	ua  *sipgo.UserAgent
	srv *sipgo.Server

	parser *sip.Parser

	mu       sync.Mutex
	sessions map[string]*session // by SIP Call-ID
	closed   bool
	nextPort int // where the next session's media ports are looked for
}

// filter sees each UDP datagram before the SIP stack parses it: one that
// does not parse is counted (reason "malformed") and dropped. (TCP and
// TLS are streams read in chunks, counted by countingListener.)
func (s *Server) filter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if p.Transport != "UDP" || len(bytes.Trim(data, "\r\n")) == 0 {
		return data, nil
	}
	if _, err := s.parser.ParseSIP(data); err != nil {
		from := ""
		if p.RemoteAddr != nil {
			from = p.RemoteAddr.String()
		}
		s.cap.RefuseIntake(msg.IntakeSIPREC, "malformed", from, "sip: "+err.Error())
		return nil, nil // an error would stop the stack's UDP reader
	}
	return data, nil
}

// New checks cfg and makes the server's SIP stack.
func New(c *capture.Capture, cfg Config) (*Server, error) {
	if !cfg.Host.IsValid() || cfg.Host.IsUnspecified() {
		return nil, fmt.Errorf("siprec: media host %q: give the address the recording client sends RTP to", cfg.Host)
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = 100
	}
	if cfg.MaxSessions < 0 {
		return nil, fmt.Errorf("siprec: max sessions %d: want at least 1", cfg.MaxSessions)
	}
	if cfg.MediaPorts == [2]uint16{} {
		cfg.MediaPorts = [2]uint16{16384, 32767}
	}
	if lo, hi := cfg.MediaPorts[0], cfg.MediaPorts[1]; lo == 0 || int(hi)-int(lo) < 2*maxStreams-1 {
		return nil, fmt.Errorf("siprec: media ports %d-%d: want a range of at least %d ports above 0", lo, hi, 2*maxStreams)
	}
	if cfg.Idle == 0 {
		cfg.Idle = 60 * time.Second
	}
	if cfg.HeldIdle == 0 {
		cfg.HeldIdle = time.Hour
	}
	if cfg.Idle < 0 || cfg.HeldIdle < 0 {
		return nil, fmt.Errorf("siprec: idle %s, held idle %s: want positive durations", cfg.Idle, cfg.HeldIdle)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cap: c, cfg: cfg, sessions: map[string]*session{}, parser: sip.NewParser()}
	// The SIP stack logs whole messages (AoRs are phone numbers): it
	// gets no logger; what it drops is counted by the read filter.
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("earshot"), sipgo.WithUserAgentHostname(cfg.Host.String()),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet), sip.WithTransportLayerReadFilter(s.filter)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		return nil, fmt.Errorf("siprec: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("siprec: %w", err)
	}
	s.ua, s.srv = ua, srv
	srv.OnInvite(s.offer)
	srv.OnUpdate(s.offer)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(s.bye)
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		if s.admit(req, tx) {
			if ss := s.session(req); ss != nil {
				ss.touch()
			}
			s.respond(req, tx, 200, "OK", nil)
		}
	})
	srv.OnNoRoute(func(req *sip.Request, tx sip.ServerTransaction) {
		if s.admit(req, tx) {
			s.refuse(req, tx, 405, "Method Not Allowed", "protocol", fmt.Errorf("method %.20s", req.Method))
		}
	})
	return s, nil
}

// ServeUDP serves SIP on conn until ctx is done, then ends the sessions.
func (s *Server) ServeUDP(ctx context.Context, conn net.PacketConn) error {
	return s.serve(ctx, conn, func() error { return s.srv.ServeUDP(conn) })
}

// ServeTCP serves SIP on ln until ctx is done, then ends the sessions.
func (s *Server) ServeTCP(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, func() error { return s.srv.ServeTCP(countingListener{ln, s}) })
}

// ServeTLS serves SIP over TLS on ln (a listener of tls.NewListener)
// until ctx is done.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, func() error { return s.srv.ServeTLS(countingListener{ln, s}) })
}

func (s *Server) serve(ctx context.Context, l interface{ Close() error }, run func() error) error {
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	err := run()
	if ctx.Err() != nil {
		err = nil
	}
	return err
}

// Close ends every session (their calls end) and the SIP stack.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	all := s.sessions
	s.sessions = map[string]*session{}
	s.mu.Unlock()
	for _, ss := range all {
		ss.end(msg.EndHangup)
	}
	_ = s.srv.Close()
	_ = s.ua.Close()
}

// Sessions returns how many recording sessions are held.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// admit refuses a request from outside the allowed networks with 403.
func (s *Server) admit(req *sip.Request, tx sip.ServerTransaction) bool {
	if len(s.cfg.Allow) == 0 {
		return true
	}
	from, err := netip.ParseAddrPort(req.MessageData.Source())
	if err == nil {
		ip := from.Addr().Unmap()
		for _, n := range s.cfg.Allow {
			if n.Contains(ip) {
				return true
			}
		}
	}
	s.refuse(req, tx, 403, "Forbidden", "forbidden", errors.New("source not in the allowed networks"))
	return false
}

func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, sdpBody []byte) {
	res := sip.NewResponseFromRequest(req, code, reason, sdpBody)
	tag(res)
	if sdpBody != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	if code == 200 && req.IsInvite() {
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "earshot", Host: s.cfg.Host.String(), Port: localPort(req)}})
	}
	if err := tx.Respond(res); err != nil {
		s.cfg.Logger.Warn("siprec: respond", "code", code, "err", err)
	}
}

// tag gives a response's To a tag when the request's had none (a new
// dialog, RFC 3261 8.2.6.2).
func tag(res *sip.Response) {
	if to := res.To(); to != nil {
		if _, ok := to.Params.Get("tag"); !ok {
			if to.Params == nil {
				to.Params = sip.NewParams()
			}
			to.Params.Add("tag", sip.GenerateTagN(16))
		}
	}
}

// localPort is the port the request came to, for the Contact.
func localPort(req *sip.Request) int {
	if ap, err := netip.ParseAddrPort(req.MessageData.Destination()); err == nil {
		return int(ap.Port())
	}
	return 0
}

// refuse answers a request with an error, its reason in a Warning header
// (RFC 3261 20.43), and counts it.
func (s *Server) refuse(req *sip.Request, tx sip.ServerTransaction, code int, reason, label string, err error) {
	s.cap.RefuseIntake(msg.IntakeSIPREC, label, req.MessageData.Source(), err.Error())
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	tag(res)
	text := strings.ReplaceAll(err.Error(), `"`, `'`)
	if len(text) > 200 {
		text = text[:200]
	}
	res.AppendHeader(sip.NewHeader("Warning", `399 earshot "`+text+`"`))
	if e := tx.Respond(res); e != nil {
		s.cfg.Logger.Warn("siprec: respond", "code", code, "err", e)
	}
}

// offer takes an INVITE or UPDATE: a new recording session, or a change
// of one (hold, metadata).
func (s *Server) offer(req *sip.Request, tx sip.ServerTransaction) {
	if !s.admit(req, tx) {
		return
	}
	cid := req.CallID()
	if cid == nil || cid.Value() == "" {
		s.refuse(req, tx, 400, "Bad Request", "malformed", errors.New("no Call-ID"))
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	sdpBody, metaBody, err := SplitBody(ct, req.Body())
	if err != nil {
		s.refuse(req, tx, 415, "Unsupported Media Type", "malformed", err)
		return
	}
	var offer *Offer
	if sdpBody != nil {
		if offer, err = ParseOffer(sdpBody); err != nil {
			if errors.Is(err, ErrCodec) {
				s.refuse(req, tx, 488, "Not Acceptable Here", "codec", err)
			} else {
				s.refuse(req, tx, 400, "Bad Request", "malformed", err)
			}
			return
		}
	}
	var meta *Metadata
	if metaBody != nil {
		if meta, err = ParseMetadata(metaBody); err != nil {
			s.refuse(req, tx, 400, "Bad Request", "malformed", err)
			return
		}
	}
	if ss := s.session(req); ss != nil {
		ss.touch()
		ss.change(offer, meta)
		if offer != nil && !offer.Held() {
			s.rearm(ss) // off hold: the bound is Idle again, not HeldIdle
		}
		var answer []byte
		if offer != nil {
			if answer, err = ss.answer(offer); err != nil {
				s.refuse(req, tx, 488, "Not Acceptable Here", "codec", err)
				return
			}
		}
		s.respond(req, tx, 200, "OK", answer)
		return
	}
	if !req.IsInvite() {
		s.refuse(req, tx, 481, "Call/Transaction Does Not Exist", "protocol", fmt.Errorf("%s of no recording session", req.Method))
		return
	}
	if offer == nil || meta == nil {
		s.refuse(req, tx, 400, "Bad Request", "malformed", errors.New("an INVITE without both SDP and application/rs-metadata+xml: not a recording session (RFC 7866)"))
		return
	}
	ss, code, err := s.open(req, cid.Value(), offer, meta)
	if err != nil {
		label, reason := "no_room", "Service Unavailable"
		switch code {
		case 491:
			label, reason = "protocol", "Request Pending"
		case 500:
			label, reason = "internal", "Server Internal Error"
		}
		s.refuse(req, tx, code, reason, label, err)
		return
	}
	answer, _ := ss.answer(offer)
	s.respond(req, tx, 200, "OK", answer)
}

// bye ends the session.
func (s *Server) bye(req *sip.Request, tx sip.ServerTransaction) {
	if !s.admit(req, tx) {
		return
	}
	id := ""
	if cid := req.CallID(); cid != nil {
		id = cid.Value()
	}
	s.mu.Lock()
	ss := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if ss == nil {
		s.refuse(req, tx, 481, "Call/Transaction Does Not Exist", "protocol", errors.New("BYE of no recording session"))
		return
	}
	ss.end(msg.EndHangup)
	s.respond(req, tx, 200, "OK", nil)
}

// session returns the session of a request's Call-ID, or nil.
func (s *Server) session(req *sip.Request) *session {
	cid := req.CallID()
	if cid == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[cid.Value()]
}

// expire ends ss when it has been idle past its bound, and otherwise
// looks again when it would be.
func (s *Server) expire(ss *session) {
	limit := s.cfg.Idle
	if ss.onHold() {
		limit = s.cfg.HeldIdle
	}
	// open set ss.idle under mu; a session gone was ended by BYE or Close.
	s.mu.Lock()
	if s.sessions[ss.sipID] != ss {
		s.mu.Unlock()
		return
	}
	if wait := limit - time.Since(time.Unix(0, ss.last.Load())); wait > 0 {
		ss.idle.Reset(wait)
		s.mu.Unlock()
		return
	}
	delete(s.sessions, ss.sipID)
	s.mu.Unlock()
	s.cap.RefuseIntake(msg.IntakeSIPREC, "idle", ss.from, fmt.Sprintf("recording session %s: no RTP or SIP for %s", ss.call.ID(), limit))
	ss.end(msg.EndTimeout)
}

// rearm makes ss's idle check come after Idle.
func (s *Server) rearm(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[ss.sipID] == ss {
		ss.idle.Reset(s.cfg.Idle)
	}
}

// open makes a session: the call, a media port per stream.
func (s *Server) open(req *sip.Request, sipID string, offer *Offer, meta *Metadata) (*session, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 503, errors.New("shutting down")
	}
	if s.sessions[sipID] != nil { // an INVITE of the same Call-ID got in first
		return nil, 491, errors.New("a recording session of this Call-ID is being set up")
	}
	if len(s.sessions) >= s.cfg.MaxSessions {
		return nil, 503, fmt.Errorf("%d recording sessions already held", len(s.sessions))
	}
	info := capture.CallInfo{ID: CallID(sipID), Attributes: map[string]string{"sip_call_id": clip(sipID)}}
	if meta.SessionID != "" {
		info.Attributes["recorded_session_id"] = meta.SessionID
	}
	for k, v := range meta.Extensions {
		info.Attributes[k] = v
	}
	ss := &session{s: s, sipID: sipID, from: req.MessageData.Source(), meta: meta}
	if err := ss.bind(offer); err != nil {
		return nil, 503, err // the media port range is full
	}
	call, err := s.cap.Open(msg.IntakeSIPREC, info)
	if err != nil {
		ss.closeConns()
		if errors.Is(err, capture.ErrNoRoom) {
			return nil, 503, err
		}
		return nil, 500, err
	}
	ss.call = call
	ss.mapLegs(offer)
	ss.touch()
	ss.idle = time.AfterFunc(s.cfg.Idle, func() { s.expire(ss) })
	ss.start()
	s.sessions[sipID] = ss
	return ss, 200, nil
}

// CallID makes a capture call id of a SIP Call-ID: characters outside
// msg.ValidateCallID's set become '-', and it is cut to the longest id.
func CallID(sipID string) string {
	b := []byte(sipID)
	if len(b) > msg.MaxCallIDLen {
		b = b[:msg.MaxCallIDLen]
	}
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_:@+", c) >= 0
		if !ok {
			b[i] = '-'
		}
	}
	return string(b)
}

// session is one recording session: its call and media ports.
type session struct {
	s     *Server
	sipID string
	from  string
	meta  *Metadata
	call  *capture.Call
	conns []*net.UDPConn // by m= line; nil for a stream refused
	mu    sync.Mutex
	legs  []*capture.Leg // by m= line; nil for a stream without a role
	wg    sync.WaitGroup
	held  bool
	last  atomic.Int64 // unix ns of the last RTP or SIP request
	idle  *time.Timer  // runs expire
}

// touch marks the session active now.
func (ss *session) touch() { ss.last.Store(time.Now().UnixNano()) }

func (ss *session) onHold() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.held
}

// bind opens a UDP port for each audio stream, stream i at base+2i of
// the first block of the media port range, up from the last session's,
// whose ports are free (under s.mu).
func (ss *session) bind(o *Offer) error {
	s := ss.s
	lo, hi := int(s.cfg.MediaPorts[0]+1)&^1, int(s.cfg.MediaPorts[1]) // even bases
	span := 2 * len(o.Streams)
	blocks := (hi - lo + 1) / span
	var err error
	for try := 0; try < blocks; try++ {
		if s.nextPort < lo || s.nextPort+span-1 > hi {
			s.nextPort = lo
		}
		base := s.nextPort
		s.nextPort += span
		if ss.conns, err = bindBlock(s.cfg.Host, base, o); err == nil {
			return nil
		}
	}
	return fmt.Errorf("siprec: media ports: no block of %d free in %d-%d: %w", span, lo, hi, err)
}

// bindBlock binds stream i's port at base+2i, or none.
func bindBlock(host netip.Addr, base int, o *Offer) ([]*net.UDPConn, error) {
	conns := make([]*net.UDPConn, len(o.Streams))
	for i, st := range o.Streams {
		if !st.Audio {
			continue
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, uint16(base+2*i))))
		if err != nil {
			for _, c := range conns {
				if c != nil {
					_ = c.Close()
				}
			}
			return nil, err
		}
		conns[i] = c
	}
	return conns, nil
}

// mapLegs opens a leg per stream whose participant has a role.
func (ss *session) mapLegs(o *Offer) {
	rs := roles(ss.meta, ss.s.cfg.Agent)
	ss.legs = make([]*capture.Leg, len(o.Streams))
	for i, st := range o.Streams {
		if !st.Audio {
			continue
		}
		p := ss.meta.StreamOf(st.Label)
		if p == nil {
			ss.s.cap.RefuseIntake(msg.IntakeSIPREC, "unmapped", ss.from, fmt.Sprintf("stream label %q has no participant in the metadata", st.Label))
			continue
		}
		leg, err := ss.call.Leg(rs[p.ID], "siprec:"+p.AoR)
		if err != nil {
			ss.s.cap.RefuseIntake(msg.IntakeSIPREC, "unmapped", ss.from, err.Error())
			continue
		}
		ss.legs[i] = leg
	}
	ss.updateAgent(rs)
}

// updateAgent names the call's agent after the agent participant.
func (ss *session) updateAgent(rs map[string]msg.Role) {
	for _, p := range ss.meta.Participants {
		if rs[p.ID] == msg.RoleAgent {
			name := p.Name
			if name == "" {
				name = p.AoR
			}
			ss.call.Update(capture.CallInfo{Agent: name})
			return
		}
	}
}

// start reads each media port into its leg.
func (ss *session) start() {
	for i, conn := range ss.conns {
		if conn == nil {
			continue
		}
		ss.wg.Add(1)
		go ss.read(conn, ss.legs[i])
	}
}

func (ss *session) read(conn *net.UDPConn, leg *capture.Leg) {
	defer ss.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				ss.s.cfg.Logger.Warn("siprec: media read", "err", err)
			}
			return
		}
		ss.touch()
		if leg == nil {
			continue // a stream without a role: counted when mapped
		}
		if err := leg.RTP(buf[:n], from); err != nil {
			label := "malformed"
			if errors.Is(err, capture.ErrPayloadType) {
				label = "payload_type"
			}
			ss.s.cap.RefuseIntake(msg.IntakeSIPREC, label, from.String(), err.Error())
		}
	}
}

// answer is the SDP answer to an offer of the session's streams.
func (ss *session) answer(o *Offer) ([]byte, error) {
	if len(o.Streams) != len(ss.conns) {
		return nil, fmt.Errorf("a re-offer of %d streams, the session has %d", len(o.Streams), len(ss.conns))
	}
	ports := make([]int, len(ss.conns))
	for i, c := range ss.conns {
		if c != nil {
			ports[i] = c.LocalAddr().(*net.UDPAddr).Port
		} else if o.Streams[i].Audio {
			return nil, fmt.Errorf("m= line %d: a stream refused before", i+1)
		}
	}
	return Answer(o, ss.s.cfg.Host, ports, uint64(time.Now().Unix())), nil
}

// change takes a re-INVITE's or UPDATE's hold and metadata.
func (ss *session) change(o *Offer, meta *Metadata) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if o != nil && o.Held() != ss.held {
		ss.held = o.Held()
		ss.call.Hold(ss.held)
	}
	if meta != nil {
		info := capture.CallInfo{Attributes: meta.Extensions}
		ss.call.Update(info)
		ss.meta = meta
		ss.updateAgent(roles(meta, ss.s.cfg.Agent))
	}
}

// end closes the media ports and the legs; the call ends for reason
// (msg.EndHangup or msg.EndTimeout).
func (ss *session) end(reason string) {
	ss.idle.Stop()
	ss.closeConns()
	ss.wg.Wait()
	if reason == msg.EndTimeout {
		ss.call.EndTimeout()
	}
	for _, l := range ss.legs {
		if l != nil {
			l.Close()
		}
	}
	ss.call.End()
}

func (ss *session) closeConns() {
	for _, c := range ss.conns {
		if c != nil {
			_ = c.Close()
		}
	}
}
