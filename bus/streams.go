package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go/jetstream"
)

// The streams Earshot keeps.
const (
	// StreamAudio holds utterance jobs as a work queue: each job is taken
	// by one transcription worker and removed once acked.
	StreamAudio = "EARSHOT_AUDIO"
	// StreamEvents holds everything else a call produces, for the analyze
	// and store stages to consume durably.
	StreamEvents = "EARSHOT_EVENTS"
	// StreamDeadLetter holds what stages gave up on.
	StreamDeadLetter = "EARSHOT_DEADLETTER"
)

// EventSubjects are the subjects kept in StreamEvents.
var EventSubjects = []string{
	msg.AllCalls, msg.AllTimeline, msg.AllDTMF, msg.AllTranscripts,
	msg.AllAnalysis, msg.AllAlerts, msg.AllCategories, msg.AllRuleEvents,
	msg.AllEvaluations, msg.AllRedactions, msg.AllStored, msg.AllSurveys,
}

// StreamConfigs returns the configuration of every stream.
func StreamConfigs() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        StreamAudio,
			Description: "Earshot utterance jobs (work queue)",
			Subjects:    []string{msg.AllAudio},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      24 * time.Hour,
			MaxMsgSize:  2 << 20,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamEvents,
			Description: "Earshot call events, transcripts, analysis and alerts",
			Subjects:    EventSubjects,
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      7 * 24 * time.Hour,
			MaxMsgSize:  1 << 20,
		},
		{
			Name:        StreamDeadLetter,
			Description: "Earshot dead letters",
			Subjects:    []string{msg.AllDeadLetters},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			MaxAge:      30 * 24 * time.Hour,
		},
	}
}

// EnsureStreams creates or updates Earshot's streams.
func EnsureStreams(ctx context.Context, js jetstream.JetStream) error {
	for _, cfg := range StreamConfigs() {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// KeyValue opens the bucket cfg names, creating it when it is missing. An
// existing bucket is updated to cfg, but keeps its replica count when
// cfg.Replicas is 0, so a process that does not know the deployment's
// replica count never scales a bucket down.
func KeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) { // another process made it meanwhile
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
		if err != nil {
			return nil, fmt.Errorf("bus: bucket %s: %w", cfg.Bucket, err)
		}
		return kv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", cfg.Bucket, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", cfg.Bucket, err)
	}
	have := st.Config()
	if cfg.Replicas == 0 {
		cfg.Replicas = have.Replicas
	}
	if have.History == cfg.History && have.TTL == cfg.TTL && have.Replicas == cfg.Replicas && have.Description == cfg.Description {
		return kv, nil
	}
	if kv, err = js.UpdateKeyValue(ctx, cfg); err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// Watch runs f on every entry w delivers (nil marks the end of the values
// the bucket had when the watch began) until ctx is done or w ends, and
// then stops w.
func Watch(ctx context.Context, w jetstream.KeyWatcher, f func(jetstream.KeyValueEntry)) {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			f(e)
		}
	}
}
