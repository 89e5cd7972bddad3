package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
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
	// Name names the server; default "earshot". The servers of one
	// cluster need names of their own.
	Name string
	// Cluster, when set, makes the server a node of a NATS cluster;
	// JetStream then runs clustered (streams may have replicas).
	Cluster *ClusterConfig
	// NoJetStream starts the server without JetStream, which Earshot
	// refuses (tests of that refusal).
	NoJetStream bool
	Logger      *slog.Logger
}

// ClusterConfig makes an embedded server a node of a NATS cluster.
type ClusterConfig struct {
	// Name is the cluster's name, the same on every node.
	Name string
	// Listen is host:port for the other nodes' routes; "" means 127.0.0.1
	// on a random port.
	Listen string
	// Routes are the other nodes' route URLs (nats-route://host:port); a
	// node that starts first may have none, the others join it.
	Routes []string
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
	name := cfg.Name
	if name == "" {
		name = "earshot"
	}
	opts := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       port,
		DontListen: cfg.NoListen,
		JetStream:  !cfg.NoJetStream,
		NoSigs:     true,
		MaxPayload: 4 << 20, // 30 s of PCM16 is under 0.5 MiB; leave room
	}
	if c := cfg.Cluster; c != nil {
		if err := clusterOptions(opts, c); err != nil {
			return nil, err
		}
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

// clusterOptions sets opts for a node of the cluster c.
func clusterOptions(opts *server.Options, c *ClusterConfig) error {
	if c.Name == "" {
		return errors.New("bus: nats cluster needs a name")
	}
	opts.Cluster.Name = c.Name
	opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", -1
	if c.Listen != "" {
		h, p, err := net.SplitHostPort(c.Listen)
		n, perr := strconv.Atoi(p)
		if err != nil || perr != nil || n < 0 || n > 65535 {
			return fmt.Errorf("bus: nats cluster listen address %q: want host:port", c.Listen)
		}
		opts.Cluster.Host = h
		if n > 0 {
			opts.Cluster.Port = n
		}
	}
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("bus: nats cluster route %q: want nats-route://host:port", r)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// ErrServerStart is returned by StartServer when the embedded server cannot
// start; the error says why (a client port in use, a JetStream store that
// cannot be opened).
var ErrServerStart = errors.New("bus: embedded nats server did not start")

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// ClusterURL is the URL other nodes of the cluster route to ("" for a
// server that is not a cluster node).
func (s *Server) ClusterURL() string {
	a := s.ns.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + a.String()
}

// JetStreamReady reports whether the server's JetStream takes requests: for
// a cluster node, whether the cluster has elected its JetStream leader and
// this node is current with it.
func (s *Server) JetStreamReady() bool {
	if !s.ns.JetStreamEnabled() {
		return false
	}
	if !s.ns.JetStreamIsClustered() {
		return true
	}
	return s.ns.JetStreamIsCurrent()
}

// InProcess connects clients to the server inside this process, without a
// socket (for a NoListen server).
func (s *Server) InProcess() Option { return WithNATS(nats.InProcessServer(s.ns)) }

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
