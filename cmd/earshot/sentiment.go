package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/earshot-dev/earshot/sentiment"
	"github.com/earshot-dev/earshot/sentiment/characteristics"
)

// sentimentOptions are the sentiment part of the analyze stage.
type sentimentOptions struct {
	grace      time.Duration
	window     time.Duration
	minSilence time.Duration
}

func (o *sentimentOptions) flags(fs *flag.FlagSet) {
	fs.DurationVar(&o.grace, "sentiment-grace", 2*time.Minute, "after a call ends, how long to wait for its missing final segments before publishing its final sentiment and characteristics")
	fs.DurationVar(&o.window, "sentiment-window", time.Minute, "trailing window of each participant's current sentiment score")
	fs.DurationVar(&o.minSilence, "non-talk-min", 3*time.Second, "silence on both legs longer than this counts as non-talk time")
}

func (o *sentimentOptions) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	a, err := sentiment.NewAnalyzer(e.bus, sentiment.Config{
		Grace:           o.grace,
		Tracker:         sentiment.TrackerConfig{Window: o.window},
		Characteristics: characteristics.Config{MinSilence: o.minSilence},
		Metrics:         e.metrics,
		Logger:          e.log.With("stage", "sentiment"),
	})
	if err != nil {
		return nil, badInput(err)
	}
	return func(ctx context.Context) error { return a.Run(ctx, e.bus.JS) }, nil
}

// sentimentLine is what earshot sentiment writes for each line in.
type sentimentLine struct {
	Label    string  `json:"label"`
	Compound float64 `json:"compound"`
	Pos      float64 `json:"pos"`
	Neg      float64 `json:"neg"`
	Neu      float64 `json:"neu"`
}

// maxSentimentLine bounds one input line.
const maxSentimentLine = 1 << 20

func sentimentCmd(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot sentiment", flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprintln(std.err, "usage: earshot sentiment < lines.txt\n\nScores each line of UTF-8 text on stdin with the English model and writes one\nJSON line each: {\"label\": ..., \"compound\": ..., \"pos\": ..., \"neg\": ..., \"neu\": ...}.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("unexpected argument %q (the text comes on stdin)", fs.Arg(0))
	}
	return sentimentScoreLines(ctx, sentiment.NewEnglish(sentiment.EnglishConfig{}), std.in, std.out)
}

// sentimentScoreLines scores each line of in; lines already scored are
// written (and flushed) before an error about a later line is returned.
func sentimentScoreLines(ctx context.Context, m sentiment.Model, in io.Reader, out io.Writer) error {
	return jsonLines(ctx, in, out, maxSentimentLine, func(line string) any {
		s := m.Score(line)
		return sentimentLine{s.Label, s.Compound, s.Pos, s.Neg, s.Neu}
	})
}
