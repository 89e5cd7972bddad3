package bus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// queueCollector reports, at each scrape, the utterance jobs waiting in the
// work queue (or being transcribed), how long the oldest has waited, and
// the dead letters kept.
type queueCollector struct {
	js                   jetstream.JetStream
	queued, oldest, dead *prometheus.Desc
	scrapeTimeout        time.Duration
}

// NewQueueCollector returns a Prometheus collector of earshot_jobs_queued,
// earshot_jobs_oldest_seconds and earshot_dead_letters, read from the
// streams when scraped.
func NewQueueCollector(js jetstream.JetStream) prometheus.Collector {
	return &queueCollector{
		js:            js,
		queued:        prometheus.NewDesc("earshot_jobs_queued", "Utterance jobs in the work queue: waiting for a transcription worker or being transcribed.", nil, nil),
		oldest:        prometheus.NewDesc("earshot_jobs_oldest_seconds", "Age of the oldest utterance job in the work queue (0 when it is empty): it grows while transcription is down.", nil, nil),
		dead:          prometheus.NewDesc("earshot_dead_letters", "Messages a stage gave up on, kept in the dead-letter stream.", nil, nil),
		scrapeTimeout: 2 * time.Second,
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.queued
	ch <- c.oldest
	ch <- c.dead
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.scrapeTimeout)
	defer cancel()
	for _, s := range []struct {
		stream string
		desc   *prometheus.Desc
	}{{StreamAudio, c.queued}, {StreamDeadLetter, c.dead}} {
		st, err := c.js.Stream(ctx, s.stream)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(s.desc, err)
			continue
		}
		state := st.CachedInfo().State
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(state.Msgs))
		if s.stream == StreamAudio {
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, OldestAge(state, time.Now()).Seconds())
		}
	}
}

// OldestAge is how long the oldest message of a stream in state has been
// in it: in a work queue, the job that has waited longest. Zero when the
// stream is empty.
func OldestAge(state jetstream.StreamState, now time.Time) time.Duration {
	if state.Msgs == 0 || state.FirstTime.IsZero() {
		return 0
	}
	return max(now.Sub(state.FirstTime), 0)
}
