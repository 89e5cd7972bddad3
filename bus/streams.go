package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
	"github.com/nats-io/nats.go"
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

// DefaultClusterReplicas is how many servers keep each stream Earshot
// creates on a NATS cluster of that many JetStream servers or more: one
// machine lost loses nothing, and the streams stay writable.
const DefaultClusterReplicas = 3

// ErrReplicas says the replicas asked for do not fit the NATS servers.
var ErrReplicas = errors.New("bus: replicas")

// Prefixes of the streams behind Earshot's key-value and object stores
// (their buckets are named EARSHOT_...), which follow the replicas of the
// streams.
const (
	kvStreamPrefix  = "KV_EARSHOT"
	objStreamPrefix = "OBJ_EARSHOT"
)

// EnsureStreams creates Earshot's streams that are missing and returns how
// many replicas they have. replicas > 0 sets every stream, its durable
// consumers and Earshot's key-value and object stores to that many, in
// place; 0 keeps what existing streams have, and gives new ones the
// default: 1 on a single server, DefaultClusterReplicas on a cluster of
// that many JetStream servers or more (1 on a smaller one). Replicas more
// than the cluster has servers are refused with ErrReplicas.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, replicas int) (int, error) {
	nc := js.Conn()
	cluster := nc.ConnectedClusterName()
	if replicas < 0 {
		return 0, fmt.Errorf("%w %d: want 1 or more (or 0 for the default)", ErrReplicas, replicas)
	}
	if replicas > 1 && cluster == "" {
		return 0, fmt.Errorf("%w %d: the NATS server at %s is a single server, not a cluster; give --replicas 1, or connect to a cluster of at least %d JetStream servers",
			ErrReplicas, replicas, nc.ConnectedUrlRedacted(), replicas)
	}
	r, auto := replicas, false
	if r == 0 {
		r = existingReplicas(ctx, js)
	}
	if r == 0 {
		r = 1
		if cluster != "" {
			r, auto = DefaultClusterReplicas, true
		}
	}
	for _, cfg := range StreamConfigs() {
		cfg.Replicas = r
		_, err := js.CreateOrUpdateStream(ctx, cfg)
		if err != nil && auto && tooFewServers(err) {
			// A cluster smaller than the default: one copy each, as on
			// a single server.
			return EnsureStreams(ctx, js, 1)
		}
		if err != nil && tooFewServers(err) {
			return 0, fmt.Errorf("%w %d: stream %s: the NATS cluster %q has fewer JetStream servers up than that (this client knows of %d; %v); give --replicas at most the number of servers",
				ErrReplicas, r, cfg.Name, cluster, len(nc.Servers()), err)
		}
		if err != nil {
			return 0, fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
		}
	}
	if replicas > 0 {
		if err := setReplicas(ctx, js, replicas); err != nil {
			return 0, err
		}
	}
	return r, nil
}

// existingReplicas is the replicas of the first of Earshot's streams that
// exists, 0 when none does.
func existingReplicas(ctx context.Context, js jetstream.JetStream) int {
	for _, cfg := range StreamConfigs() {
		if s, err := js.Stream(ctx, cfg.Name); err == nil {
			return s.CachedInfo().Config.Replicas
		}
	}
	return 0
}

// tooFewServers reports whether err is JetStream refusing replicas it has
// no servers for.
func tooFewServers(err error) bool {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case jsErrCodeInsufficientResources, jsErrCodeNoSuitablePeers, jsErrCodeReplicasNotSupported:
		return true
	}
	return false
}

// JetStream error codes nats.go does not name.
const (
	jsErrCodeInsufficientResources jetstream.ErrorCode = 10023 // insufficient resources
	jsErrCodeNoSuitablePeers       jetstream.ErrorCode = 10005 // no suitable peers for placement
	jsErrCodeReplicasNotSupported  jetstream.ErrorCode = 10074 // replicas > 1 not supported in non-clustered mode
)

// setReplicas sets the durable consumers of Earshot's streams, and the
// streams of Earshot's key-value and object stores, to replicas.
func setReplicas(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, sc := range StreamConfigs() {
		s, err := js.Stream(ctx, sc.Name)
		if err != nil {
			return fmt.Errorf("bus: stream %s: %w", sc.Name, err)
		}
		infos := s.ListConsumers(ctx)
		for ci := range infos.Info() {
			cc := ci.Config
			if cc.Durable == "" || cc.Replicas == replicas {
				continue
			}
			cc.Replicas = replicas
			if _, err := s.UpdateConsumer(ctx, cc); err != nil {
				return fmt.Errorf("bus: consumer %s on %s: replicas %d: %w", cc.Durable, sc.Name, replicas, err)
			}
		}
		if err := infos.Err(); err != nil {
			return fmt.Errorf("bus: consumers of %s: %w", sc.Name, err)
		}
	}
	names := js.StreamNames(ctx)
	var stores []string
	for name := range names.Name() {
		if strings.HasPrefix(name, kvStreamPrefix) || strings.HasPrefix(name, objStreamPrefix) {
			stores = append(stores, name)
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("bus: streams: %w", err)
	}
	for _, name := range stores {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("bus: stream %s: %w", name, err)
		}
		cfg := s.CachedInfo().Config
		if cfg.Replicas == replicas {
			continue
		}
		cfg.Replicas = replicas
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("bus: stream %s: replicas %d: %w", name, replicas, err)
		}
	}
	return nil
}

// KeyValue opens the bucket cfg names, creating it when it is missing. An
// existing bucket is updated to cfg, but keeps its replica count when
// cfg.Replicas is 0, so a process that does not know the deployment's
// replica count never scales a bucket down.
//
// A cluster that is electing its JetStream leader, or a new replicated
// bucket's, answers nothing for a moment (no responders): KeyValue asks
// again for up to jsSettle, and returns a bucket that answers reads.
func KeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	deadline := time.Now().Add(jsSettle)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		kv, err := keyValue(ctx, js, cfg)
		if err == nil {
			if _, err = kv.Get(ctx, "earshot-probe"); errors.Is(err, jetstream.ErrKeyNotFound) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("bus: bucket %s: %w", cfg.Bucket, err)
			}
		}
		if !errors.Is(err, nats.ErrNoResponders) || time.Now().After(deadline) {
			return kv, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// jsSettle is how long KeyValue waits for a JetStream that answers nothing.
const jsSettle = 15 * time.Second

func keyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
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
