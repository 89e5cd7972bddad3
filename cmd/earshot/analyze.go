package main

import (
	"context"
	"flag"
)

// analyzeStage runs sentiment, conversation characteristics and rules.
// Sentiment and rules are separate stages that meet only on NATS: sentiment
// publishes scored segments and call sentiment, rules consumes them.
type analyzeStage struct {
	sentiment sentimentOptions
	rules     rulesOptions
}

func (*analyzeStage) name() string    { return "analyze" }
func (*analyzeStage) summary() string { return "sentiment, conversation characteristics and rules" }

func (s *analyzeStage) flags(fs *flag.FlagSet) {
	s.sentiment.flags(fs)
	s.rules.flags(fs)
}

func (s *analyzeStage) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	sent, err := s.sentiment.start(ctx, e)
	if err != nil {
		return nil, err
	}
	rul, err := s.rules.start(ctx, e)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return together(ctx, sent, rul) }, nil
}
