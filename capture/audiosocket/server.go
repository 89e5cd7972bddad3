package audiosocket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/msg"
)

// Config configures a Server.
type Config struct {
	// MaxConns bounds the connections held at once; past it a new one is
	// closed at once. Default 2000 (1000 calls of two legs).
	MaxConns int
	// Idle closes a connection that sent nothing for this long (Asterisk
	// sends a frame every 20 ms). Default 30 s.
	Idle   time.Duration
	Logger *slog.Logger
}

// Server takes AudioSocket connections and feeds each leg to a capture.
type Server struct {
	cap *capture.Capture
	cfg Config

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// New checks cfg.
func New(c *capture.Capture, cfg Config) (*Server, error) {
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 2000
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("audiosocket: max connections %d: want at least 1", cfg.MaxConns)
	}
	if cfg.Idle == 0 {
		cfg.Idle = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cap: c, cfg: cfg, conns: map[net.Conn]struct{}{}}, nil
}

// Serve takes connections on ln until ctx is done, then closes them (their
// legs end) and returns once every one is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	var err error
	for {
		conn, e := ln.Accept()
		if e != nil {
			if ctx.Err() == nil && !errors.Is(e, net.ErrClosed) {
				err = fmt.Errorf("audiosocket: accept: %w", e)
			}
			break
		}
		s.mu.Lock()
		full := len(s.conns) >= s.cfg.MaxConns
		if !full {
			s.conns[conn] = struct{}{}
		}
		s.mu.Unlock()
		if full {
			s.cap.RefuseIntake(msg.IntakeAudioSocket, "no_room", conn.RemoteAddr().String(), fmt.Sprintf("%d connections already held", s.cfg.MaxConns))
			conn.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
			conn.Close()
		}()
	}
	wg.Wait()
	return err
}

// legRole reads the role from the UUID's last hex digit.
func legRole(uuid []byte) msg.Role {
	switch uuid[15] & 15 {
	case 0xa:
		return msg.RoleAgent
	case 0xc:
		return msg.RoleCustomer
	}
	return ""
}

// serve reads one connection's frames: one leg.
func (s *Server) serve(conn net.Conn) {
	from := conn.RemoteAddr().String()
	var (
		leg  *capture.Leg
		buf  []byte
		pcm  []int16
		down []int16 // 16 kHz pcm at 8 kHz
		dec  *decimator
	)
	defer func() {
		if leg != nil {
			leg.Close()
		}
	}()
	refuse := func(reason string, err error) {
		s.cap.RefuseIntake(msg.IntakeAudioSocket, reason, from, err.Error())
	}
	for {
		_ = conn.SetReadDeadline(time.Now().Add(s.cfg.Idle))
		var f Frame
		var err error
		f, buf, err = ReadFrame(conn, buf)
		switch {
		case err == nil:
		case errors.Is(err, ErrFrame):
			refuse("malformed", err)
			return
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			return
		case errors.Is(err, io.ErrUnexpectedEOF):
			refuse("malformed", fmt.Errorf("a frame cut short: %w", err))
			return
		default:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				refuse("idle", fmt.Errorf("nothing for %s", s.cfg.Idle))
			}
			return
		}
		if leg == nil && f.Kind != KindUUID {
			refuse("protocol", fmt.Errorf("kind 0x%02x before the UUID", f.Kind))
			return
		}
		switch f.Kind {
		case KindUUID:
			if leg != nil {
				refuse("protocol", errors.New("a second UUID on one connection"))
				return
			}
			if leg, err = s.open(f.Payload, from); err != nil {
				reason := "protocol"
				if errors.Is(err, capture.ErrNoRoom) {
					reason = "no_room"
				}
				refuse(reason, err)
				return
			}
		case KindSlin, KindSlin16:
			pcm = pcm[:0]
			for i := 0; i < len(f.Payload); i += 2 {
				pcm = append(pcm, int16(binary.LittleEndian.Uint16(f.Payload[i:])))
			}
			samples := pcm
			if f.Kind == KindSlin16 {
				if dec == nil {
					dec = newDecimator()
				}
				down = dec.run(down[:0], pcm)
				samples = down
			}
			leg.PCM(-1, samples)
		case KindDTMF:
			leg.DTMF(-1, string(f.Payload), 0)
		case KindHangup:
			return
		case KindError:
			s.cfg.Logger.Warn("audiosocket: Asterisk sent an error", "from", from, "code", fmt.Sprintf("%x", f.Payload))
			return
		default:
			refuse("audio_format", fmt.Errorf("audio of kind 0x%02x: capture takes slin at 8 kHz (0x10) or 16 kHz (0x12)", f.Kind))
			return
		}
	}
}

// open opens the call and leg a UUID names: those an announce gave the
// UUID (LegSpec.ID), else by the role suffix convention.
func (s *Server) open(uuid []byte, from string) (*capture.Leg, error) {
	text := uuidText(uuid)
	source := "audiosocket:" + from
	if callID, role, ok := s.cap.AnnouncedLeg(text); ok {
		call, err := s.cap.Open(msg.IntakeAudioSocket, capture.CallInfo{ID: callID})
		if err != nil {
			return nil, err
		}
		return call.Leg(role, source)
	}
	id := []byte(text)
	id[len(id)-1] = '0'
	call, err := s.cap.Open(msg.IntakeAudioSocket, capture.CallInfo{ID: string(id)})
	if err != nil {
		return nil, err
	}
	role := legRole(uuid)
	if role != "" {
		return call.Leg(role, source)
	}
	l, err := call.Leg(msg.RoleA, source)
	if errors.Is(err, capture.ErrLegTaken) {
		return call.Leg(msg.RoleB, source)
	}
	return l, err
}
