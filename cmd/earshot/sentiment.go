package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/earshot-dev/earshot/bus"
	"github.com/earshot-dev/earshot/msg"
	"github.com/earshot-dev/earshot/sentiment"
	"github.com/earshot-dev/earshot/sentiment/characteristics"
)

// sentimentOptions are the sentiment part of the analyze stage.
type sentimentOptions struct {
	grace      time.Duration
	window     time.Duration
	minSilence time.Duration
	// partitions, when set before start, are the calls this process
	// analyses (the analyze stage's).
	partitions *bus.Partitions
}

func (o *sentimentOptions) flags(fs *flag.FlagSet) {
	fs.DurationVar(&o.grace, "sentiment-grace", 2*time.Minute, "after a call ends, how long to wait for its missing final segments before publishing its final sentiment and characteristics")
	fs.DurationVar(&o.window, "sentiment-window", time.Minute, "trailing window of each participant's current sentiment score")
	fs.DurationVar(&o.minSilence, "non-talk-min", 3*time.Second, "silence on both legs longer than this counts as non-talk time")
}

func (o *sentimentOptions) start(ctx context.Context, e *env) (func(context.Context) error, error) {
	// What the analyzer publishes is computed from the call's events, so a
	// repeat (a partition taken over, a lost ack) is stored once.
	a, err := sentiment.NewAnalyzer(bus.Idempotent{Conn: e.bus}, sentiment.Config{
		Grace:           o.grace,
		Tracker:         sentiment.TrackerConfig{Window: o.window},
		Characteristics: characteristics.Config{MinSilence: o.minSilence},
		Partitions:      o.partitions,
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
	Language string  `json:"language,omitempty"`
	Unscored string  `json:"unscored,omitempty"`
}

// maxSentimentLine bounds one input line.
const maxSentimentLine = 1 << 20

func sentimentCmd(ctx context.Context, args []string, std stdio) error {
	if len(args) > 0 && args[0] == "train" {
		return sentimentTrainCmd(args[1:], std)
	}
	fs := flag.NewFlagSet("earshot sentiment", flag.ContinueOnError)
	fs.SetOutput(std.err)
	lang := fs.String("language", "auto", "the lines' language: ko, en, or auto (Hangul makes a line Korean)")
	fs.Usage = func() {
		fmt.Fprintln(std.err, "usage: earshot sentiment [-language ko|en|auto] < lines.txt\n       earshot sentiment train [-data dir] [-out file]\n\nScores each line of UTF-8 text on stdin with the model of its language and\nwrites one JSON line each: {\"label\": ..., \"compound\": ..., \"pos\": ..., \"neg\": ...,\n\"neu\": ..., \"language\": ...}. train rebuilds the Korean model from NSMC and KOSAC.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("unexpected argument %q (the text comes on stdin)", fs.Arg(0))
	}
	switch *lang {
	case "auto":
		*lang = ""
	case "ko", "en":
	default:
		return badInputf("-language %q: want ko, en or auto", *lang)
	}
	ms, err := sentiment.NewModels()
	if err != nil {
		return err
	}
	return sentimentScoreLines(ctx, func(text string) msg.Sentiment { return ms.Score(*lang, text) }, std.in, std.out)
}

// sentimentTrainCmd rebuilds the Korean model file.
func sentimentTrainCmd(args []string, std stdio) error {
	fs := flag.NewFlagSet("earshot sentiment train", flag.ContinueOnError)
	fs.SetOutput(std.err)
	data := fs.String("data", "../shared/data/korean", "directory with nsmc/ratings_train.txt and kosac/polarity.csv")
	out := fs.String("out", "sentiment/korean.model", "model file to write")
	fs.Usage = func() {
		fmt.Fprintln(std.err, "usage: earshot sentiment train [-data dir] [-out file]\n\nTrains the Korean sentiment model on NSMC's reviews (all but every tenth, which\nis held out) and KOSAC's polarity lexicon, deterministically, and writes it.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("unexpected argument %q", fs.Arg(0))
	}
	nsmc, err := os.Open(filepath.Join(*data, "nsmc", "ratings_train.txt"))
	if err != nil {
		return badInput(err)
	}
	defer nsmc.Close()
	kosac, err := os.Open(filepath.Join(*data, "kosac", "polarity.csv"))
	if err != nil {
		return badInput(err)
	}
	defer kosac.Close()
	var buf bytes.Buffer
	st, err := sentiment.TrainKorean(nsmc, kosac, &buf, sentiment.KoreanTrainConfig{})
	if err != nil {
		return badInput(err)
	}
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Fprintf(std.err, "%s: %d bytes; trained on %d reviews, %d lexicon entries; held-out accuracy %.4f on %d reviews (sign of the margin)\n",
		*out, buf.Len(), st.Train, st.Lexicon, st.DevAccuracy, st.Dev)
	return nil
}

// sentimentScoreLines scores each line of in; lines already scored are
// written (and flushed) before an error about a later line is returned.
func sentimentScoreLines(ctx context.Context, score func(string) msg.Sentiment, in io.Reader, out io.Writer) error {
	return jsonLines(ctx, in, out, maxSentimentLine, func(line string) any {
		s := score(line)
		return sentimentLine{s.Label, s.Compound, s.Pos, s.Neg, s.Neu, s.Language, s.Unscored}
	})
}
