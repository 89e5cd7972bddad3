package capture_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot-dev/earshot/capture"
	"github.com/earshot-dev/earshot/capture/capturetest"
	"github.com/earshot-dev/earshot/capture/mediastream"
	"github.com/earshot-dev/earshot/capture/siprec"
	"github.com/earshot-dev/earshot/msg"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// The load of BenchmarkIntakeStreams comes from a child process (this test
// binary again, told by loadEnv), so that the CPU measured is capture's
// alone.
const loadEnv = "EARSHOT_INTAKE_LOAD"

// loadFor is how long the streams run once all are set up.
const loadFor = 8 * time.Second

// BenchmarkIntakeStreams measures the CPU one capture process spends per
// stream (one leg: 50 packets or media messages a second, 2 s of tone and
// 1 s of silence over and over, so jobs are cut) when streams come in over
// real sockets on 127.0.0.1: RTP forks of announced calls to capture's UDP
// port, SIPREC sessions (INVITE over TCP, RTP to each session's media
// ports) and WebSocket media streams (Twilio's message set, both tracks on
// one connection). A child process makes the load; the capture publishes to
// a discarding publisher. Reported: CPU microseconds per stream-second
// (stream-seconds counted from what the child sent) and the streams one
// core would hold at that rate.
func BenchmarkIntakeStreams(b *testing.B) {
	sizes := []int{100, 200}
	if s := os.Getenv("EARSHOT_BENCH_STREAMS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 || n%2 != 0 {
			b.Fatalf("EARSHOT_BENCH_STREAMS %q: want an even number of streams", s)
		}
		sizes = []int{n}
	}
	for _, intake := range []string{msg.IntakeRTP, msg.IntakeSIPREC, msg.IntakeMediaStream} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("intake=%s/streams=%d", intake, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					benchIntake(b, intake, n)
				}
			})
		}
	}
}

func benchIntake(b *testing.B, intake string, n int) {
	c := capturetest.Run(b, capture.Config{MaxCalls: n})
	var target string
	switch intake {
	case msg.IntakeRTP:
		for k := 0; k < n/2; k++ {
			a := &msg.CallAnnounce{CallID: fmt.Sprintf("load-%d", k), Legs: []msg.LegSpec{
				{Role: msg.RoleAgent, SSRC: uint32(2*k + 1)}, {Role: msg.RoleCustomer, SSRC: uint32(2*k + 2)}}}
			if err := c.Announce(a); err != nil {
				b.Fatal(err)
			}
		}
		target = c.Addrs()[0].String()
	case msg.IntakeSIPREC:
		srv, err := siprec.New(c, siprec.Config{Host: netip.MustParseAddr("127.0.0.1"), MaxSessions: n})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(srv.Close)
		target = capturetest.Serve(b, srv.ServeTCP)
	case msg.IntakeMediaStream:
		srv, err := mediastream.New(c, mediastream.Config{Token: "bench", MaxStreams: n})
		if err != nil {
			b.Fatal(err)
		}
		target = "ws://" + capturetest.Serve(b, srv.Serve) + "/media"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%d", loadEnv, intake, target, n))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	lines := bufio.NewScanner(out)
	next := func(want string) string {
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), want) {
				return lines.Text()
			}
		}
		b.Fatalf("the load process ended before %q: %v", want, cmd.Wait())
		return ""
	}
	next("start")
	cpu0, t0 := cpuTime(b), time.Now()
	stop := next("stop")
	cpu, wall := cpuTime(b)-cpu0, time.Since(t0)
	sent, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(stop, "stop")))
	next("done")
	streamSeconds := float64(sent) / 50
	if streamSeconds < 0.5*float64(n)*wall.Seconds() {
		b.Fatalf("the load process sent %d packets in %s, under half of %d streams' worth", sent, wall, n)
	}
	perStream := float64(cpu.Microseconds()) / streamSeconds
	b.ReportMetric(perStream, "cpu-µs/stream-s")
	b.ReportMetric(1e6/perStream, "streams/core")
	b.ReportMetric(float64(sent)/wall.Seconds()/float64(n), "pkt/s/stream")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// intakeLoad is the child process of BenchmarkIntakeStreams: spec is
// "INTAKE,TARGET,STREAMS". It sets the streams up, says "start", sends
// for loadFor, says "stop N" (N packets or messages sent), ends them and
// says "done".
func intakeLoad(spec string) error {
	parts := strings.Split(spec, ",")
	if len(parts) != 3 {
		return fmt.Errorf("%s %q: want INTAKE,TARGET,STREAMS", loadEnv, spec)
	}
	intake, target := parts[0], parts[1]
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return err
	}
	toneP, _ := ulaw(tone(0, 160))
	silent, _ := ulaw(make([]int16, 160))
	payload := func(tick int) []byte {
		if tick%150 < 100 {
			return toneP
		}
		return silent
	}
	var send func(tick int) (int, error)
	var end func()
	switch intake {
	case msg.IntakeRTP:
		to := make([]string, n)
		for i := range to {
			to[i] = target
		}
		send, end, err = rtpLoad(to, payload)
	case msg.IntakeSIPREC:
		send, end, err = siprecLoad(target, n, payload)
	case msg.IntakeMediaStream:
		send, end, err = wsLoad(target, n, payload)
	default:
		err = fmt.Errorf("intake %q", intake)
	}
	if err != nil {
		return err
	}
	fmt.Println("start")
	sent := 0
	tick := time.NewTicker(20 * time.Millisecond)
	deadline := time.Now().Add(loadFor)
	for k := 0; time.Now().Before(deadline); k++ {
		<-tick.C
		m, err := send(k)
		sent += m
		if err != nil {
			return err
		}
	}
	tick.Stop()
	fmt.Println("stop", sent)
	end()
	fmt.Println("done")
	return nil
}

// rtpLoad sends a stream of RTP to each address from a socket of its own
// (SSRC i+1 for the i-th).
func rtpLoad(to []string, payload func(int) []byte) (func(int) (int, error), func(), error) {
	conns := make([]net.Conn, len(to))
	for i, addr := range to {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		conns[i] = c
	}
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80
	send := func(tick int) (int, error) {
		copy(pkt[12:], payload(tick))
		binary.BigEndian.PutUint16(pkt[2:], uint16(tick))
		binary.BigEndian.PutUint32(pkt[4:], uint32(tick*160))
		for i, c := range conns {
			binary.BigEndian.PutUint32(pkt[8:], uint32(i+1))
			if _, err := c.Write(pkt); err != nil {
				return i, err
			}
		}
		return len(conns), nil
	}
	end := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	return send, end, nil
}

// siprecLoad opens n/2 recording sessions of two streams at the SIPREC
// server at target (TCP) and sends RTP to their media ports; end sends the
// BYEs.
func siprecLoad(target string, n int, payload func(int) []byte) (func(int) (int, error), func(), error) {
	offer, err := os.ReadFile("siprec/testdata/offer.sdp")
	if err != nil {
		return nil, nil, err
	}
	meta, err := os.ReadFile("siprec/testdata/metadata.xml")
	if err != nil {
		return nil, nil, err
	}
	body := []byte("--b1\r\nContent-Type: application/sdp\r\n\r\n" + strings.ReplaceAll(string(offer), "\n", "\r\n") +
		"\r\n--b1\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n" + string(meta) + "\r\n--b1--\r\n")
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("earshot-load"))
	if err != nil {
		return nil, nil, err
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		return nil, nil, err
	}
	to := netip.MustParseAddrPort(target)
	do := func(method sip.RequestMethod, callID string, cseq uint32, body []byte) (*sip.Response, error) {
		req := sip.NewRequest(method, sip.Uri{User: "srs", Host: to.Addr().String(), Port: int(to.Port())})
		req.SetTransport("TCP")
		req.AppendHeader(sip.NewHeader("Call-ID", callID))
		req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
		tag := sip.NewParams()
		tag.Add("tag", "load")
		req.AppendHeader(&sip.FromHeader{Address: sip.Uri{User: "src", Host: "127.0.0.1"}, Params: tag})
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{User: "srs", Host: "127.0.0.1"}})
		if body != nil {
			req.AppendHeader(sip.NewHeader("Content-Type", "multipart/mixed;boundary=b1"))
			req.SetBody(body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return client.Do(ctx, req)
	}
	port := regexp.MustCompile(`m=audio (\d+)`)
	var media []string
	for k := 0; k < n/2; k++ {
		res, err := do(sip.INVITE, fmt.Sprintf("load-%d@src", k), 1, body)
		if err != nil {
			return nil, nil, err
		}
		if res.StatusCode != 200 {
			return nil, nil, fmt.Errorf("INVITE %d: %s", k, res.Short())
		}
		for _, m := range port.FindAllSubmatch(res.Body(), -1) {
			media = append(media, "127.0.0.1:"+string(m[1]))
		}
	}
	send, endRTP, err := rtpLoad(media, payload)
	if err != nil {
		return nil, nil, err
	}
	end := func() {
		endRTP()
		for k := 0; k < n/2; k++ {
			_, _ = do(sip.BYE, fmt.Sprintf("load-%d@src", k), 2, nil)
		}
		client.Close()
		ua.Close()
	}
	return send, end, nil
}

// wsLoad opens n/2 media streams of two tracks at url and sends a media
// message of each track every tick; end sends stop and closes them.
func wsLoad(url string, n int, payload func(int) []byte) (func(int) (int, error), func(), error) {
	ctx := context.Background()
	conns := make([]*websocket.Conn, n/2)
	for k := range conns {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer bench"}}})
		if err != nil {
			return nil, nil, err
		}
		conns[k] = c
		start := fmt.Sprintf(`{"event":"start","sequenceNumber":"1","streamSid":"MZ%d","start":{"streamSid":"MZ%d","callSid":"CA%d","tracks":["inbound","outbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`, k, k, k)
		for _, m := range []string{`{"event":"connected","protocol":"Call","version":"1.0.0"}`, start} {
			if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
				return nil, nil, err
			}
		}
	}
	// A connection's writes wait for the server's reads: writers of
	// their own keep the connections side by side, as a platform's are.
	const writers = 8
	send := func(tick int) (int, error) {
		p := base64.StdEncoding.EncodeToString(payload(tick))
		sent := make([]int, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := w; k < len(conns); k += writers {
					for _, track := range []string{"inbound", "outbound"} {
						m := fmt.Appendf(nil, `{"event":"media","sequenceNumber":"%d","streamSid":"MZ%d","media":{"track":"%s","chunk":"%d","timestamp":"%d","payload":"%s"}}`, tick+2, k, track, tick+1, tick*20, p)
						if errs[w] = conns[k].Write(ctx, websocket.MessageText, m); errs[w] != nil {
							return
						}
						sent[w]++
					}
				}
			}()
		}
		wg.Wait()
		total := 0
		for _, n := range sent {
			total += n
		}
		return total, errors.Join(errs...)
	}
	end := func() {
		for k, c := range conns {
			_ = c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"event":"stop","sequenceNumber":"0","streamSid":"MZ%d","stop":{"callSid":"CA%d"}}`, k, k))
			c.Close(websocket.StatusNormalClosure, "")
		}
	}
	return send, end, nil
}
