package capture_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(loadEnv); spec != "" { // the load process of BenchmarkIntakeStreams
		if err := intakeLoad(spec); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// rig is a capture on a real UDP socket publishing to a real embedded NATS.
type rig struct {
	t    *testing.T
	cap  *capture.Capture
	conn *bus.Conn
	addr netip.AddrPort
	ev   chan *nats.Msg
}

func newRig(t *testing.T, cfg capture.Config) *rig {
	t.Helper()
	r := capturetest.Start(t, cfg)
	return &rig{t: t, cap: r.Cap, conn: r.Conn, addr: r.Addr, ev: r.Ev}
}

// callEvents is what one call produced, collected until it ended.
type callEvents = capturetest.Call

// waitEnded collects events until n calls have ended (or the timeout).
func (r *rig) waitEnded(n int, timeout time.Duration) map[string]*callEvents {
	r.t.Helper()
	return capturetest.Collect(r.t, r.ev, n, timeout)
}

// audioInStream counts the jobs JetStream holds.
func (r *rig) audioInStream() uint64 {
	r.t.Helper()
	s, err := r.conn.JS.Stream(context.Background(), bus.StreamAudio)
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State.Msgs
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
