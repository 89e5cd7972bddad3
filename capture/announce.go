package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/earshot-dev/earshot/msg"
)

// maxAnnounce bounds an announce's size.
const maxAnnounce = 64 << 10

// Announce declares a call (or ends it when a.End). A re-announce of a
// call updates what is known of it. RTP of a declared leg already taken
// into an undeclared call ends that call, and the leg's packets go to the
// declared call from then on.
func (c *Capture) Announce(a *msg.CallAnnounce) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.announces++
	if err := c.announce(a); err != nil {
		c.badAnnounce++
		c.log.Warn("capture: announce refused", "call", a.CallID, "err", err)
		return err
	}
	return nil
}

func (c *Capture) announce(a *msg.CallAnnounce) error {
	if err := a.Validate(); err != nil {
		return err
	}
	now := c.now()
	cl := c.calls[a.CallID]
	if a.End {
		if cl == nil {
			return fmt.Errorf("announce end %s: %w: no such call is going on", a.CallID, msg.ErrNotFound)
		}
		c.endCall(cl, msg.EndAnnounce)
		return nil
	}
	if a.Survey != "" && len(a.Legs) == 0 {
		if cl == nil {
			return fmt.Errorf("announce survey %s: %w: no such call is going on", a.CallID, msg.ErrNotFound)
		}
		s := c.cfg.Surveys.Named(a.Survey)
		if s == nil {
			return fmt.Errorf("announce survey %s: %w: survey %q is not configured", a.CallID, msg.ErrInvalidField, a.Survey)
		}
		cl.last = now
		cl.startSurvey(s)
		return nil
	}
	if a.Hold != nil && len(a.Legs) == 0 {
		if cl == nil {
			return fmt.Errorf("announce hold %s: %w: no such call is going on", a.CallID, msg.ErrNotFound)
		}
		cl.last = now
		cl.hold(*a.Hold, now)
		return nil
	}
	type src struct {
		ssrc uint32
		addr netip.AddrPort
	}
	srcs := make([]src, len(a.Legs))
	for i, l := range a.Legs {
		srcs[i].ssrc = l.SSRC
		if l.Source != "" {
			ap, err := netip.ParseAddrPort(l.Source)
			if err != nil {
				return fmt.Errorf("announce %s: %w: legs[%d].source %q: want IP:PORT", a.CallID, msg.ErrInvalidField, i, l.Source)
			}
			srcs[i].addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
	}
	fresh := cl == nil
	if fresh {
		if len(c.calls) >= c.cfg.MaxCalls {
			return fmt.Errorf("announce %s: %w: %d calls already held", a.CallID, ErrNoRoom, len(c.calls))
		}
		cl = c.newCall(a.CallID, now)
		cl.announced = true
		if byID(a.Legs) {
			cl.intake = msg.IntakeAudioSocket
		}
	}
	cl.last = now
	cl.agent, cl.queue = a.Agent, a.Queue
	if a.Attributes != nil {
		cl.attrs = maps.Clone(a.Attributes)
	}
	for i, l := range a.Legs {
		cl.declared = slices.DeleteFunc(cl.declared, func(d msg.LegSpec) bool { return d.Role == l.Role })
		cl.declared = append(cl.declared, l)
		want := announcedLeg{call: cl, role: l.Role}
		// Streams already running in an undeclared call end it.
		for k, s := range c.streams {
			if s.leg.call == cl || s.leg.call.announced {
				continue
			}
			if (srcs[i].ssrc != 0 && k.ssrc == srcs[i].ssrc) || (srcs[i].addr.IsValid() && k.src == srcs[i].addr) {
				c.endCall(s.leg.call, msg.EndAnnounce)
			}
		}
		if srcs[i].ssrc != 0 {
			c.wantSSRC[srcs[i].ssrc] = want
		}
		if srcs[i].addr.IsValid() {
			c.wantSource[srcs[i].addr] = want
		}
		if l.ID != "" {
			c.wantID[strings.ToLower(l.ID)] = want
		}
	}
	if a.Hold != nil {
		cl.hold(*a.Hold, now)
	}
	if fresh {
		c.started(cl)
	} else {
		c.updated(cl)
	}
	return nil
}

// byID reports whether every leg is named by an id only, as the legs of
// AudioSocket (the one intake whose legs have ids) are.
func byID(legs []msg.LegSpec) bool {
	for _, l := range legs {
		if l.ID == "" || l.SSRC != 0 || l.Source != "" {
			return false
		}
	}
	return len(legs) > 0
}

// AnnouncedLeg looks up a leg an announce named by id (LegSpec.ID: an
// AudioSocket connection's UUID), case-insensitively: the call it belongs
// to and its role, while that call goes on.
func (c *Capture) AnnouncedLeg(id string) (callID string, role msg.Role, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.wantID[strings.ToLower(id)]
	if !ok {
		return "", "", false
	}
	return a.call.id, a.role, true
}

// AnnounceRequest answers a NATS announce request: data is a
// msg.CallAnnounce in its envelope; the reply is a msg.AnnounceReply.
func (c *Capture) AnnounceRequest(data []byte) []byte {
	var a msg.CallAnnounce
	err := msg.Unmarshal(data, &a)
	if err != nil {
		c.mu.Lock()
		c.announces++
		c.badAnnounce++
		c.mu.Unlock()
		err = fmt.Errorf("announce: %w", err)
	} else {
		err = c.Announce(&a)
	}
	r := &msg.AnnounceReply{OK: err == nil}
	if err != nil {
		r.Error = err.Error()
	}
	b, _ := msg.Marshal(r)
	return b
}

// AnnounceHandler serves POST with a msg.CallAnnounce as JSON (bare or in
// its envelope) and answers a msg.AnnounceReply as bare JSON: 200, 400 for
// a bad announce, 404 for the end of an unknown call.
func (c *Capture) AnnounceHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply := func(code int, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			rep := msg.AnnounceReply{OK: err == nil}
			if err != nil {
				rep.Error = err.Error()
			}
			_ = json.NewEncoder(w).Encode(rep)
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAnnounce))
		var a msg.CallAnnounce
		if err == nil {
			if _, _, e := msg.SchemaOf(body); e == nil {
				err = msg.Unmarshal(body, &a)
			} else if e := json.Unmarshal(body, &a); e != nil {
				err = fmt.Errorf("%w: %v", msg.ErrMalformed, e)
			}
		}
		if err != nil {
			c.mu.Lock()
			c.announces++
			c.badAnnounce++
			c.mu.Unlock()
			reply(http.StatusBadRequest, fmt.Errorf("announce: body: %w", err))
			return
		}
		switch err := c.Announce(&a); {
		case err == nil:
			reply(http.StatusOK, nil)
		case errors.Is(err, msg.ErrNotFound):
			reply(http.StatusNotFound, err)
		case errors.Is(err, ErrNoRoom):
			reply(http.StatusServiceUnavailable, err)
		default:
			reply(http.StatusBadRequest, err)
		}
	})
}
