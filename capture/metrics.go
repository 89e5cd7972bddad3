package capture

import (
	"maps"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descPackets = prometheus.NewDesc("earshot_capture_packets_total",
		"RTP packets by jitter buffer outcome (received, lost, late, duplicate, reordered).", []string{"outcome"}, nil)
	descRefused = prometheus.NewDesc("earshot_capture_refused_total",
		"Packets refused, by reason (malformed, payload_type, rate_limited, no_room).", []string{"reason"}, nil)
	descCalls       = prometheus.NewDesc("earshot_capture_calls_active", "Calls going on.", nil, nil)
	descCallsTotal  = prometheus.NewDesc("earshot_capture_calls_total", "Calls started.", nil, nil)
	descJobs        = prometheus.NewDesc("earshot_capture_jobs_total", "Utterance jobs queued, by kind (final, interim).", []string{"kind"}, nil)
	descDTMF        = prometheus.NewDesc("earshot_capture_dtmf_total", "DTMF digits reported.", nil, nil)
	descAnnounces   = prometheus.NewDesc("earshot_capture_announces_total", "Announces taken, by result (ok, refused).", []string{"result"}, nil)
	descPending     = prometheus.NewDesc("earshot_capture_publish_pending", "Events and jobs queued for publishing.", nil, nil)
	descPublished   = prometheus.NewDesc("earshot_capture_published_total", "Events and jobs published (acked).", nil, nil)
	descPublishErrs = prometheus.NewDesc("earshot_capture_publish_errors_total", "Failed publish attempts (each is retried).", nil, nil)
	descIntakeCalls = prometheus.NewDesc("earshot_capture_intake_calls_total",
		"Calls started, by the intake they came by (rtp, mediastream, audiosocket, siprec).", []string{"intake"}, nil)
	descDatagrams = prometheus.NewDesc("earshot_capture_socket_datagrams_total",
		"Datagrams read from the RTP sockets.", nil, nil)
	descDrops = prometheus.NewDesc("earshot_capture_socket_drops_total",
		"Datagrams the kernel dropped because an RTP socket's receive buffer was full (Linux: SO_MEMINFO, as /proc/net/udp drops).", nil, nil)
	descIntakeRefused = prometheus.NewDesc("earshot_capture_intake_refused_total",
		"Input refused by an intake other than the RTP sockets, by intake and reason.", []string{"intake", "reason"}, nil)
)

// collector reads capture's counters when scraped, so the packet path
// touches no shared metric.
type collector struct{ c *Capture }

var _ prometheus.Collector = (*collector)(nil)

func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descRefused, descCalls, descCallsTotal, descJobs, descDTMF, descAnnounces, descPending, descPublished, descPublishErrs, descIntakeCalls, descIntakeRefused, descDatagrams, descDrops} {
		ch <- d
	}
}

func (m *collector) Collect(ch chan<- prometheus.Metric) {
	c := m.c
	c.mu.Lock()
	n := c.ended
	refused := map[string]uint64{}
	for k, v := range c.refused {
		refused[k] = v
	}
	for _, s := range c.streams {
		n.received += s.jb.n.received
		n.lost += s.jb.n.lost
		n.late += s.jb.n.late
		n.duplicate += s.jb.n.duplicate
		n.reordered += s.jb.n.reordered
	}
	active, total := len(c.calls), c.callsTotal
	final, interim, dtmf := c.finalJobs, c.interimJobs, c.dtmfCount
	ann, bad := c.announces, c.badAnnounce
	intakeCalls := maps.Clone(c.intakeCalls)
	intakeRefused := maps.Clone(c.intakeRefused)
	c.mu.Unlock()
	pending, sent, errs := c.out.stats()
	sock := c.SocketStats()

	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descPackets, n.received, "received")
	counter(descPackets, n.lost, "lost")
	counter(descPackets, n.late, "late")
	counter(descPackets, n.duplicate, "duplicate")
	counter(descPackets, n.reordered, "reordered")
	for _, r := range []string{"malformed", "payload_type", "rate_limited", "no_room"} {
		counter(descRefused, refused[r], r)
	}
	ch <- prometheus.MustNewConstMetric(descCalls, prometheus.GaugeValue, float64(active))
	counter(descCallsTotal, total)
	counter(descJobs, final, "final")
	counter(descJobs, interim, "interim")
	counter(descDTMF, dtmf)
	counter(descAnnounces, ann-bad, "ok")
	counter(descAnnounces, bad, "refused")
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(pending))
	counter(descPublished, sent)
	counter(descPublishErrs, errs)
	counter(descDatagrams, sock.Datagrams)
	counter(descDrops, sock.Drops)
	for intake, n := range intakeCalls {
		counter(descIntakeCalls, n, intake)
	}
	for k, n := range intakeRefused {
		counter(descIntakeRefused, n, k.intake, k.reason)
	}
}
