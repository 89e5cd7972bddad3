package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ServerConfig configures the embedded NATS server. The zero value listens
// on a random loopback port and keeps JetStream in a temporary directory
// chosen by the server.
type ServerConfig struct {
	// DataDir holds the JetStream file store (DataDir/nats).
	DataDir string
	// Listen is host:port for clients; "" means 127.0.0.1 on a random port.
	Listen string
	// NoListen keeps the server in-process only.
	NoListen bool
	Logger   *slog.Logger
}

// Server is an embedded NATS server with JetStream.
type Server struct {
	ns *server.Server
}

// StartServer starts an embedded NATS server and waits until it takes clients.
func StartServer(cfg ServerConfig) (*Server, error) {
	host, port := "127.0.0.1", -1
	if cfg.Listen != "" {
		h, p, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("bus: nats listen address %q: %w", cfg.Listen, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("bus: nats listen address %q: bad port", cfg.Listen)
		}
		host, port = h, n
		if port == 0 {
			port = -1
		}
	}
	opts := &server.Options{
		ServerName: "earshot",
		Host:       host,
		Port:       port,
		DontListen: cfg.NoListen,
		JetStream:  true,
		NoSigs:     true,
		MaxPayload: 4 << 20, // 30 s of PCM16 is under 0.5 MiB; leave room
	}
	if cfg.DataDir != "" {
		opts.StoreDir = filepath.Join(cfg.DataDir, "nats")
	}
	if !cfg.NoListen && port > 0 {
		// nats-server reports a port it cannot take only in its log:
		// try it first, for an error that carries the cause.
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrServerStart, err)
		}
		_ = ln.Close()
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: nats server: %w", err)
	}
	log := slog.New(slog.DiscardHandler)
	if cfg.Logger != nil {
		log = cfg.Logger.With("component", "nats")
	}
	nl := &natsLogger{log: log}
	ns.SetLoggerV2(nl, false, false, false)
	// Start opens the client port and the JetStream store before it
	// returns; what it could not do it reports as fatal, and then the
	// server would never become ready.
	ns.Start()
	if fatal := nl.fatal(); fatal != "" {
		ns.Shutdown()
		ns.WaitForShutdown()
		where := "in process"
		if !cfg.NoListen {
			where = "on " + net.JoinHostPort(host, strconv.Itoa(max(port, 0)))
		}
		return nil, fmt.Errorf("%w %s: %s", ErrServerStart, where, fatal)
	}
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("%w: not ready for clients after 10s", ErrServerStart)
	}
	return &Server{ns: ns}, nil
}

// ErrServerStart is returned by StartServer when the embedded server cannot
// start; the error says why (a client port in use, a JetStream store that
// cannot be opened).
var ErrServerStart = errors.New("bus: embedded nats server did not start")

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// InProcess connects clients to the server inside this process, without a
// socket (for a NoListen server).
func (s *Server) InProcess() nats.Option { return nats.InProcessServer(s.ns) }

// Close shuts the server down and waits for it.
func (s *Server) Close() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// natsLogger passes the server's log to slog and keeps the first fatal
// message, which says why the server stopped starting.
type natsLogger struct {
	log       *slog.Logger
	mu        sync.Mutex
	firstFail string
}

func (l *natsLogger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstFail
}

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Fatalf(format string, v ...any) {
	m := fmt.Sprintf(format, v...)
	l.mu.Lock()
	if l.firstFail == "" {
		l.firstFail = m
	}
	l.mu.Unlock()
	l.log.Error(m)
}
func (l *natsLogger) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any) {}
