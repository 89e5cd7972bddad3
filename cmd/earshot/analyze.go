package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"time"

	"github.com/earshot-dev/earshot/bus"
)

// analyzeStage runs sentiment, conversation characteristics and rules.
// Sentiment and rules are separate stages that meet only on NATS: sentiment
// publishes scored segments and call sentiment, rules consumes them. Several
// analyze processes share the calls by partitions (--partitions), each
// owned by one of them at a time.
type analyzeStage struct {
	sentiment  sentimentOptions
	rules      rulesOptions
	partitions int
	identity   string
	leaseTTL   time.Duration
}

func (*analyzeStage) name() string    { return "analyze" }
func (*analyzeStage) summary() string { return "sentiment, conversation characteristics and rules" }

func (s *analyzeStage) flags(fs *flag.FlagSet) {
	s.sentiment.flags(fs)
	s.rules.flags(fs)
	host, _ := os.Hostname()
	fs.IntVar(&s.partitions, "partitions", 1, "spread the calls over this many partitions, shared by the analyze processes running (give every one the same count, at least the number of processes); 1: one process works, the others stand by")
	fs.StringVar(&s.identity, "identity", host, "this analyze process's name among the others (letters, digits, '-', '_', '.'); each needs its own")
	fs.DurationVar(&s.leaseTTL, "lease-ttl", bus.DefaultLeaseTTL, "how long a partition lease lasts unrenewed: a dead process's partitions are taken over after this")
}

func (s *analyzeStage) check() error {
	if s.partitions < 1 {
		return badInputf("--partitions %d: want 1 or more", s.partitions)
	}
	if s.leaseTTL < 500*time.Millisecond {
		return badInputf("--lease-ttl %s: want 500ms or more", s.leaseTTL)
	}
	return nil
}

func (s *analyzeStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	parts, err := bus.JoinPartitions(ctx, e.bus.JS, bus.PartitionConfig{
		Group: "analyze", Partitions: s.partitions, Identity: s.identity, TTL: s.leaseTTL,
		Replicas: e.bus.Replicas(), Logger: e.log.With("stage", "analyze"),
	})
	if errors.Is(err, bus.ErrIdentity) || errors.Is(err, bus.ErrPartitionCount) {
		return nil, badInput(err)
	}
	if err != nil {
		return nil, err
	}
	s.sentiment.partitions, s.rules.partitions = parts, parts
	sent, err := s.sentiment.start(ctx, e)
	if err != nil {
		parts.Leave()
		return nil, err
	}
	rul, err := s.rules.start(ctx, e)
	if err != nil {
		parts.Leave()
		return nil, err
	}
	return func(ctx context.Context) error { return together(ctx, parts.Run, sent, rul) }, nil
}
