package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/pion/rtp"
)

// Publisher publishes one message and returns once it is stored (a
// JetStream publish with its ack). A non-empty msgID is the message's
// Nats-Msg-Id, so that a publish retried after its ack was lost is stored
// once. bus.Conn implements it.
type Publisher interface {
	PublishWithID(ctx context.Context, subject string, data []byte, msgID string) error
}

// Capture takes RTP on its sockets and publishes calls, utterance jobs,
// timeline and DTMF events. Build it with New, run it with Run.
type Capture struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	vad    vadParams
	tables *decodeTables
	out    *outbox
	addrs  []netip.AddrPort // one per listen address
	conns  []*net.UDPConn   // Config.Readers per listen address
	closed sync.Once

	datagrams atomic.Uint64 // read from conns

	mu         sync.Mutex
	pkt        rtp.Packet
	calls      map[string]*call
	undeclared map[netip.AddrPort]*call // by capture address
	streams    map[streamKey]*stream
	gone       map[streamKey]time.Time // streams ended (BYE, announce, SSRC change): when
	bySource   map[netip.AddrPort]*leg // legs by the source of their streams
	wantSSRC   map[uint32]announcedLeg // announced legs not yet seen, by SSRC
	wantSource map[netip.AddrPort]announcedLeg
	wantID     map[string]announcedLeg // announced legs of other intakes, by lower-case id
	limits     map[netip.AddrPort]*bucket
	logged     map[string]time.Time
	seq        uint64

	// counters (under mu), for metrics
	refused                map[string]uint64
	intakeRefused          map[intakeReason]uint64
	intakeCalls            map[string]uint64 // calls started, by intake
	ended                  jitterCounts      // of streams of ended calls
	endedRefused           uint64
	callsTotal             uint64
	finalJobs              uint64
	interimJobs            uint64
	dtmfCount              uint64
	announces, badAnnounce uint64
	minSilenceMS           int64
}

type announcedLeg struct {
	call *call
	role msg.Role
}

// New checks cfg and opens the UDP sockets.
func New(cfg Config, pub Publisher) (*Capture, error) {
	if pub == nil {
		return nil, errors.New("capture: no publisher")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Capture{
		cfg: cfg, log: cfg.Logger, now: cfg.Now, vad: cfg.vadParams(), tables: newDecodeTables(),
		calls: map[string]*call{}, undeclared: map[netip.AddrPort]*call{},
		streams: map[streamKey]*stream{}, gone: map[streamKey]time.Time{}, bySource: map[netip.AddrPort]*leg{},
		wantSSRC: map[uint32]announcedLeg{}, wantSource: map[netip.AddrPort]announcedLeg{}, wantID: map[string]announcedLeg{},
		limits: map[netip.AddrPort]*bucket{}, logged: map[string]time.Time{},
		refused: map[string]uint64{}, intakeRefused: map[intakeReason]uint64{}, intakeCalls: map[string]uint64{},
		minSilenceMS: cfg.MinSilence.Milliseconds(),
	}
	c.out = newOutbox(pub, cfg.Logger)
	for _, a := range cfg.Listen {
		conns, err := listenUDP(a, cfg.Readers)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("capture: listen on udp %s: %w", a, err)
		}
		c.addrs = append(c.addrs, conns[0].LocalAddr().(*net.UDPAddr).AddrPort())
		c.conns = append(c.conns, conns...)
	}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(&collector{c}); err != nil {
			c.Close()
			return nil, fmt.Errorf("capture: metrics: %w", err)
		}
	}
	return c, nil
}

// Addrs returns the addresses the sockets are bound to, one per
// Config.Listen address.
func (c *Capture) Addrs() []netip.AddrPort {
	return slices.Clone(c.addrs)
}

// Close closes the sockets; Run does it when it returns. It is safe to call
// more than once.
func (c *Capture) Close() {
	c.closed.Do(func() {
		for _, conn := range c.conns {
			conn.Close()
		}
	})
}

// Run takes packets until ctx is done, then ends every call (reason
// shutdown), publishes what is queued (for at most Config.FlushTimeout) and
// returns after every goroutine it started.
func (c *Capture) Run(ctx context.Context) error {
	defer c.Close()
	var wg sync.WaitGroup
	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPub()
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		c.out.run(pubCtx)
	}()
	for _, conn := range c.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.read(conn)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.tick()
			}
		}
	}()
	<-ctx.Done()
	c.Close()
	wg.Wait()
	c.mu.Lock()
	for _, cl := range c.calls {
		c.endCall(cl, msg.EndShutdown)
	}
	c.mu.Unlock()
	c.out.close()
	select {
	case <-pubDone:
	case <-time.After(c.cfg.FlushTimeout):
		stopPub()
		<-pubDone
	}
	if left, _, _ := c.out.stats(); left > 0 {
		c.log.Error("capture: events left unpublished at shutdown", "count", left)
		return fmt.Errorf("capture: %d events not published before shutdown", left)
	}
	return nil
}

// Handle takes one datagram from a source to a capture address. The
// sockets call it; tests and benchmarks call it directly.
func (c *Capture) Handle(b []byte, from, local netip.AddrPort) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handle(b, from, local, c.now())
}

// handleBatch takes the datagrams of one read, in order, under one lock.
func (c *Capture) handleBatch(ds []datagram, local netip.AddrPort) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, d := range ds {
		c.handle(d.b, d.from, local, now)
	}
}

func (c *Capture) handle(b []byte, from, local netip.AddrPort, now time.Time) {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if !c.allow(from, now) {
		c.refuse(ErrRateLimited, from, fmt.Sprintf("more than %g packets/s", c.cfg.RateLimit))
		return
	}
	if len(b) >= 8 && b[0]>>6 == 2 && isRTCP(b) {
		c.rtcp(b, from)
		return
	}
	if len(b) < 12 || b[0]>>6 != 2 {
		c.refuse(ErrMalformed, from, fmt.Sprintf("%d bytes, not RTP version 2", len(b)))
		return
	}
	p := &c.pkt
	if err := p.Unmarshal(b); err != nil {
		c.refuse(ErrMalformed, from, "rtp: "+err.Error())
		return
	}
	k := streamKey{from, p.SSRC}
	s := c.streams[k]
	if s == nil {
		if _, ok := c.gone[k]; ok && !c.wanted(k) {
			// A straggler of a stream that ended: late, not a new call.
			c.ended.received++
			c.ended.late++
			return
		}
		pt := p.PayloadType
		if codecName(pt) == "" && pt != ptCN && !isEventPayload(pt, p.Payload) {
			c.refuse(ErrPayloadType, from, "payload type "+ptName(pt)+" (capture takes PCMU 0, PCMA 8, CN 13, telephone-event)")
			return
		}
		if s = c.newStream(k, local, now); s == nil {
			return
		}
	}
	s.last = now
	s.leg.call.last = now
	s.jb.push(now, p.SequenceNumber, p.Timestamp, p.PayloadType, p.Payload, func(pl played) { s.play(c, pl) })
}

// newStream routes a new SSRC/source to its leg, making the call and the
// leg when needed.
func (c *Capture) newStream(k streamKey, local netip.AddrPort, now time.Time) *stream {
	var l *leg
	if a, ok := c.wantSSRC[k.ssrc]; ok {
		l = c.announcedLeg(a, now)
	} else if a, ok := c.wantSource[k.src]; ok {
		l = c.announcedLeg(a, now)
	} else if known := c.bySource[k.src]; known != nil {
		l = known // an SSRC change on a known leg
	} else {
		cl := c.undeclared[local]
		if cl != nil && len(cl.legs) >= 2 {
			c.refuse(ErrNoRoom, k.src, fmt.Sprintf("undeclared call %s on %s already has two legs; announce calls or give each its own port", cl.id, local))
			return nil
		}
		if cl == nil {
			if len(c.calls) >= c.cfg.MaxCalls {
				c.refuse(ErrNoRoom, k.src, fmt.Sprintf("%d calls already held", len(c.calls)))
				return nil
			}
			c.seq++
			cl = c.newCall(fmt.Sprintf("u%d-%d-%d", local.Port(), now.UnixMilli(), c.seq), now)
			cl.local = local
			c.undeclared[local] = cl
			c.started(cl)
		}
		l = cl.addLeg(c.undeclaredRole(cl, k.src.Addr()), now)
		if len(cl.legs) > 1 {
			c.updated(cl)
		}
	}
	return c.attach(k, l, now)
}

// attach makes stream k of leg l, retiring an earlier SSRC of its source.
func (c *Capture) attach(k streamKey, l *leg, now time.Time) *stream {
	s := &stream{key: k, leg: l, jb: newJitter(c.cfg.JitterMin, c.cfg.JitterMax)}
	if l.info.SSRC == 0 || l.info.Source == "" {
		l.info.SSRC, l.info.Source = k.ssrc, k.src.String()
	}
	for _, old := range l.call.streams {
		if old.leg == l && old.key.src == k.src {
			// SSRC change: the old stream is done.
			old.jb.flush(func(p played) { old.play(c, p) })
			l.call.ended = append(l.call.ended, old.stats())
			c.retire(old)
			c.markGone(old.key, now)
		}
	}
	l.call.streams = append(l.call.streams, s)
	c.streams[k] = s
	c.bySource[k.src] = l
	return s
}

// retire removes a stream from the routing tables (its counters stay in
// its call until the call ends).
func (c *Capture) retire(s *stream) {
	delete(c.streams, s.key)
	cl := s.leg.call
	for i, o := range cl.streams {
		if o == s {
			cl.streams = append(cl.streams[:i], cl.streams[i+1:]...)
			break
		}
	}
}

func (c *Capture) announcedLeg(a announcedLeg, now time.Time) *leg {
	if l := a.call.legByRole(a.role); l != nil {
		return l
	}
	l := a.call.addLeg(a.role, now)
	c.updated(a.call)
	return l
}

func (c *Capture) undeclaredRole(cl *call, ip netip.Addr) msg.Role {
	if len(c.cfg.AgentNets) > 0 {
		role := msg.RoleCustomer
		for _, n := range c.cfg.AgentNets {
			if n.Contains(ip) {
				role = msg.RoleAgent
			}
		}
		if cl.legByRole(role) == nil {
			return role
		}
	}
	if cl.legByRole(msg.RoleA) == nil {
		return msg.RoleA
	}
	return msg.RoleB
}

func (c *Capture) newCall(id string, now time.Time) *call {
	cl := &call{
		c: c, id: id, startedAt: now, last: now,
		active: map[msg.Role]int64{}, spans: map[msg.Role][][2]int64{}, holdFrom: -1,
		intake: msg.IntakeRTP,
	}
	c.calls[id] = cl
	c.callsTotal++
	return cl
}

func (cl *call) event(kind msg.CallEventKind, now time.Time) *msg.CallEvent {
	return &msg.CallEvent{
		CallID: cl.id, Kind: kind, Time: now, StartedAt: cl.startedAt,
		Agent: cl.agent, Queue: cl.queue, Attributes: cl.attrs, Legs: cl.legInfos(), Intake: cl.intake,
	}
}

func (c *Capture) started(cl *call) {
	c.intakeCalls[cl.intake]++
	c.out.add(cl.id, msg.SubjectCall(cl.id), cl.event(msg.CallStarted, c.now()))
	c.log.Info("call started", "call", cl.id, "announced", cl.announced, "intake", cl.intake)
}

func (c *Capture) updated(cl *call) {
	c.out.add(cl.id, msg.SubjectCall(cl.id), cl.event(msg.CallUpdated, c.now()))
}

// endCall flushes a call's streams and legs and publishes its end.
func (c *Capture) endCall(cl *call, reason string) {
	for _, s := range cl.streams {
		s.jb.flush(func(p played) { s.play(c, p) })
		s.endEvent(c)
	}
	for _, l := range cl.legs {
		l.finish()
	}
	now := c.now()
	cl.hold(false, now)
	cl.publishSurvey()
	ev := cl.event(msg.CallEnded, now)
	ev.Reason = reason
	ev.DurationMS = cl.clockMS(now)
	ev.FinalJobs = map[msg.Role]int{}
	for _, l := range cl.legs {
		ev.FinalJobs[l.role] = l.finals
	}
	ev.Streams = append(ev.Streams, cl.ended...)
	for _, s := range cl.streams {
		ev.Streams = append(ev.Streams, s.stats())
	}
	for _, st := range ev.Streams {
		c.ended.received += st.Received
		c.ended.lost += st.Lost
		c.ended.late += st.Late
		c.ended.duplicate += st.Duplicate
		c.ended.reordered += st.Reordered
		c.endedRefused += st.Refused
	}
	c.out.add(cl.id, msg.SubjectCall(cl.id), ev)
	if c.cfg.Recorder != nil {
		c.cfg.Recorder.CallEnded(cl.id, ev.DurationMS*msg.SampleRate/1000)
	}
	for _, s := range cl.streams {
		delete(c.streams, s.key)
		if reason == msg.EndBye || reason == msg.EndAnnounce {
			c.markGone(s.key, now)
		}
		if c.bySource[s.key.src] != nil && c.bySource[s.key.src].call == cl {
			delete(c.bySource, s.key.src)
		}
	}
	for k, a := range c.wantSSRC {
		if a.call == cl {
			delete(c.wantSSRC, k)
		}
	}
	for k, a := range c.wantSource {
		if a.call == cl {
			delete(c.wantSource, k)
		}
	}
	for k, a := range c.wantID {
		if a.call == cl {
			delete(c.wantID, k)
		}
	}
	if c.undeclared[cl.local] == cl {
		delete(c.undeclared, cl.local)
	}
	delete(c.calls, cl.id)
	c.log.Info("call ended", "call", cl.id, "reason", reason, "final_jobs", ev.FinalJobs)
}

// goneLinger is how long packets of a stream that ended are counted late
// and dropped, rather than starting a call; goneMax bounds how many such
// streams are remembered.
const (
	goneLinger = 10 * time.Second
	goneMax    = 1 << 16
)

// markGone remembers a stream that ended (its call ended by BYE or
// announce, or its source changed SSRC), so that its stragglers,
// reordered behind the end, are late packets and not a new call.
func (c *Capture) markGone(k streamKey, now time.Time) {
	if len(c.gone) < goneMax {
		c.gone[k] = now
	}
}

// wanted reports whether an announced leg waits for stream k.
func (c *Capture) wanted(k streamKey) bool {
	_, bySSRC := c.wantSSRC[k.ssrc]
	_, bySource := c.wantSource[k.src]
	return bySSRC || bySource
}

// rtcp handles an RTCP packet: a BYE retires its streams, and a call
// whose streams all said BYE ends.
func (c *Capture) rtcp(b []byte, from netip.AddrPort) {
	ssrcs, err := rtcpByeSSRCs(b)
	if err != nil {
		c.refuse(ErrMalformed, from, err.Error())
	}
	for _, ssrc := range ssrcs {
		s := c.streams[streamKey{from, ssrc}]
		if s == nil {
			// RTCP often comes from the RTP port + 1.
			s = c.streams[streamKey{netip.AddrPortFrom(from.Addr(), from.Port()-1), ssrc}]
		}
		if s == nil {
			continue
		}
		s.bye = true
		cl := s.leg.call
		all, agent := true, s.leg.role == msg.RoleAgent
		for _, o := range cl.streams {
			all = all && o.bye
			agent = agent && (o.bye || o.leg.role != msg.RoleAgent)
		}
		if all {
			c.endCall(cl, msg.EndBye)
		} else if agent {
			cl.agentLeft()
		}
	}
}

// tick plays out overdue packets, ends turns of legs whose packets stopped,
// and ends calls that timed out.
func (c *Capture) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, cl := range c.calls {
		if c.cfg.CallTimeout > 0 && now.Sub(cl.last) > c.cfg.CallTimeout && !cl.fed() {
			c.endCall(cl, msg.EndTimeout)
			continue
		}
		for _, s := range cl.streams {
			s.jb.tick(now, func(p played) { s.play(c, p) })
			if s.leg.inTurn && now.Sub(s.last) > c.cfg.Endpoint {
				s.leg.endTurn()
			}
		}
		for _, f := range cl.feeds {
			if f.l.inTurn && now.Sub(f.last) > c.cfg.Endpoint {
				f.l.endTurn()
			}
		}
		cl.openSilence(cl.clockMS(now))
	}
	for k, at := range c.gone {
		if now.Sub(at) > goneLinger {
			delete(c.gone, k)
		}
	}
	for a, b := range c.limits {
		if now.Sub(b.last) > 10*time.Second {
			delete(c.limits, a)
		}
	}
	for k, t := range c.logged {
		if now.Sub(t) > time.Minute {
			delete(c.logged, k)
		}
	}
}

// refuse counts a refused input and logs it (once a minute per reason and
// source).
func (c *Capture) refuse(reason error, from netip.AddrPort, detail string) {
	label := reasonLabel(reason)
	c.refused[label]++
	c.logRefusal(label+" "+from.String(), "capture: packet refused", "from", from, "reason", reason.Error(), "detail", detail)
}

// logRefusal logs a refusal once a minute per key (under mu).
func (c *Capture) logRefusal(key, text string, args ...any) {
	if _, ok := c.logged[key]; ok || len(c.logged) > 4096 {
		return
	}
	c.logged[key] = c.now()
	c.log.Warn(text, args...)
}

func reasonLabel(err error) string {
	switch {
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrPayloadType):
		return "payload_type"
	case errors.Is(err, ErrNoRoom):
		return "no_room"
	}
	return "malformed"
}

// Refused returns how many packets were refused for reason (ErrMalformed,
// ErrPayloadType, ErrRateLimited, ErrNoRoom).
func (c *Capture) Refused(reason error) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused[reasonLabel(reason)]
}

// bucket is a token bucket of one source address.
type bucket struct {
	tokens float64
	last   time.Time
}

func (c *Capture) allow(from netip.AddrPort, now time.Time) bool {
	if c.cfg.RateLimit < 0 {
		return true
	}
	b := c.limits[from]
	burst := 2 * c.cfg.RateLimit
	if b == nil {
		if len(c.limits) >= 1<<16 {
			return true // the table is full: stream and call limits still hold
		}
		b = &bucket{tokens: burst, last: now}
		c.limits[from] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*c.cfg.RateLimit)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
